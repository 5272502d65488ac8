"""Metrics exported to Prometheus (DESIGN §9)."""
