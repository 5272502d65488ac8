"""HTTP: health, metrics, control API, status page (docs/reference/api.md)."""
