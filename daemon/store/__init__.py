"""Run history: what ran, what it did, and what was interrupted.

Documented in docs/daemon.md, "Run history and restarts"."""
