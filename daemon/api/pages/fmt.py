"""Human formatting for the pages: one spelling of seconds, booleans and times everywhere.

Every helper returns *escaped* HTML-safe text, so callers may interpolate the result directly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

DASH = "\u2013"  # en dash


def esc(value: Any) -> str:
    """Any value as escaped text (None reads as a dash)."""
    return DASH if value is None else escape(str(value), quote=True)


def seconds(value: float | None) -> str:
    """`2.01668` → `2.02 s`: two decimals, unit stated."""
    if value is None:
        return DASH
    return f"{value:.2f} s"


def yes_no(value: Any) -> str:
    if value is None:
        return DASH
    return "yes" if value else "no"


def percent(part: int, whole: int) -> str:
    return DASH if whole <= 0 else f"{100 * part / whole:.0f}%"


def moment(value: float | str | datetime | None) -> datetime | None:
    """A timestamp (epoch seconds, ISO 8601 text or datetime) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, datetime):
            found = value
        elif isinstance(value, int | float):
            found = datetime.fromtimestamp(value, UTC)
        else:
            found = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        return None
    return (found if found.tzinfo else found.replace(tzinfo=UTC)).astimezone(UTC)


def absolute(value: float | str | datetime | None) -> str:
    """`2026-11-30 05:11:53 UTC`: the time zone is always stated."""
    found = moment(value)
    return DASH if found is None else found.strftime("%Y-%m-%d %H:%M:%S UTC")


def relative(value: float | str | datetime | None, now: datetime) -> str:
    """`3 min ago`, `in 12 s`, `2 days ago`."""
    found = moment(value)
    if found is None:
        return DASH
    delta = (found - now).total_seconds()
    size = abs(delta)
    for limit, unit, span in (
        (90, "s", 1),
        (90 * 60, "min", 60),
        (36 * 3600, "h", 3600),
        (float("inf"), "days", 86400),
    ):
        if size < limit:
            amount = f"{size / span:.0f} {unit}"
            break
    if size < 1:
        return "now"
    return f"in {amount}" if delta > 0 else f"{amount} ago"


def when(value: float | str | datetime | None, now: datetime) -> str:
    """Both, for people: `3 min ago (2026-11-30 05:11:53 UTC)` in a <time> element."""
    found = moment(value)
    if found is None:
        return DASH
    return f'<time datetime="{found.isoformat()}">{relative(found, now)} ({absolute(found)})</time>'
