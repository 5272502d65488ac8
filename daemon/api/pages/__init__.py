"""Server-rendered pages: pure functions from data to HTML, every value escaped.

status (/), experiment (/experiments/{id}) and run (/runs/{id}) pages; fmt, palette, svg and
timeline are their building blocks. Data comes from daemon/api/catalog_view.py.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, UTC).isoformat() if moment else None
