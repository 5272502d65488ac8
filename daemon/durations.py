"""Human durations (`90s`, `5m`, `1h30m`, `500ms`) used by settings and experiment files.

One parser for both so that a duration means the same thing wherever a user writes it.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+")


def parse_duration(value: Any) -> timedelta:
    """Parse a duration; a bare number is seconds, as in Chaos Toolkit `pauses` and timeouts."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; write e.g. 90s, 5m, 2h or 1h30m")  # noqa: TRY004 - pydantic only turns ValueError into a validation error
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if not text or not _WHOLE.fullmatch(text):
            try:
                seconds = float(text)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a duration; write e.g. 90s, 5m, 2h, 1h30m or 500ms"
                ) from None
        else:
            seconds = sum(float(num) * _UNITS[unit] for num, unit in _PART.findall(text))
    else:
        raise ValueError(f"{value!r} is not a duration; write e.g. 90s, 5m, 2h or 1h30m")  # noqa: TRY004 - pydantic only turns ValueError into a validation error
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a finite duration")
    if seconds < 0:
        raise ValueError(f"{value!r} is negative; durations must be zero or more")
    if seconds > 366 * 86400:
        raise ValueError(f"{value!r} is longer than a year; that is surely a mistake")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Shortest exact spelling, so round-trips and messages read like the input."""
    total_ms = round(value.total_seconds() * 1000)
    if total_ms == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, total_ms = divmod(total_ms, size)
        if count:
            parts.append(f"{count}{unit}")
    if total_ms:
        parts.append(f"{total_ms}ms")
    return "".join(parts)


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be greater than zero")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
"""A duration of zero or more."""

PositiveDuration = Annotated[
    timedelta,
    BeforeValidator(lambda v: _positive(parse_duration(v))),
    PlainSerializer(format_duration, return_type=str),
]
"""A duration strictly greater than zero (timeouts, intervals, frequencies)."""
