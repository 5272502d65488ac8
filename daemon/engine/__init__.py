"""Run one experiment with Chaos Toolkit semantics, guarded, measured and journaled."""
