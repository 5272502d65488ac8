"""Metrics exported to Prometheus (docs/reference/metrics.md)."""
