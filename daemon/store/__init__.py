"""Run history: what ran, what it did, and what was interrupted (DESIGN §11)."""
