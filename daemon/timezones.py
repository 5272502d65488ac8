"""IANA time-zone names, checked once for settings and schedules alike.

A module of its own so that settings (the global `scheduling.timezone`) and the catalog
(each schedule's `timezone`) share one rule without settings depending on the catalog
(docs/architecture.md, "Layers").
"""

from __future__ import annotations

import difflib
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def check_timezone(name: str) -> str:
    """Accept IANA names only; suggest the nearest one on a typo."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, sorted(_zone_names()), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else " (use an IANA name like Europe/Paris)"
        raise ValueError(f"unknown time zone {name!r}{hint}") from None
    return name
