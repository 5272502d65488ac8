"""HTTP: health, metrics, control API, status page (DESIGN §10)."""
