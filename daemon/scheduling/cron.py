"""Standard 5-field cron, parsed here rather than by APScheduler.

APScheduler 3 numbers days of the week from Monday=0, so its `from_crontab("0 9 * * 1-5")`
fires Tuesday to Saturday. It also ANDs day-of-month with day-of-week where cron ORs
them. Parsing ourselves gives users cron's meaning and error messages that name the
field, and hands APScheduler explicit day names it cannot misread.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    names_start: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, _MONTHS, 1),
    _Field("day of week", 0, 7, _CRON_DAYS, 0),
)
_TERM = re.compile(r"^(?:(\*)|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:/(\d+))?$")


class CronError(ValueError):
    """A cron expression is invalid; the message names the field and the value."""


@dataclass(frozen=True)
class CronSpec:
    """A parsed expression: the sets of allowed values, cron-numbered."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday .. 6 = Saturday
    days_restricted: bool
    weekdays_restricted: bool

    def apscheduler_fields(self) -> list[dict[str, str]]:
        """Keyword sets for APScheduler CronTrigger; two sets mean 'either' (cron's OR rule)."""
        base = {
            "minute": _join(self.minutes),
            "hour": _join(self.hours),
            "month": _join(self.months),
        }
        day_names = ",".join(_CRON_DAYS[d] for d in sorted(self.weekdays))
        if self.days_restricted and self.weekdays_restricted:
            return [
                {**base, "day": _join(self.days), "day_of_week": "*"},
                {**base, "day": "*", "day_of_week": day_names},
            ]
        # The OR rule aside, a field like */3 still restricts: pass its values through.
        return [{**base, "day": _join(self.days), "day_of_week": day_names}]


def _join(values: frozenset[int]) -> str:
    return ",".join(str(v) for v in sorted(values))


def _value(token: str, spec: _Field) -> int:
    if token.isdigit():
        number = int(token)
    elif token[:3] in spec.names and token in (spec.names[spec.names.index(token[:3])], token[:3]):
        number = spec.names.index(token[:3]) + spec.names_start
    else:
        allowed = f"{spec.low}-{spec.high}"
        if spec.names:
            allowed += f" or {spec.names[0]}-{spec.names[-1]}"
        raise CronError(f"{spec.name}: {token!r} is not a number or name (allowed: {allowed})")
    if not spec.low <= number <= spec.high:
        raise CronError(f"{spec.name}: {number} is out of range {spec.low}-{spec.high}")
    return number


def _parse_field(text: str, spec: _Field) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    # Vixie cron: a field that starts with '*' counts as unrestricted for the OR rule.
    restricted = not text.startswith("*")
    for term in text.split(","):
        match = _TERM.match(term)
        if not match:
            raise CronError(f"{spec.name}: {term!r} is not valid (use *, N, N-M, */S or N-M/S)")
        star, start, end, step_text = match.groups()
        step = int(step_text) if step_text else 1
        if step < 1:
            raise CronError(f"{spec.name}: step must be at least 1 in {term!r}")
        if star:
            low, high = spec.low, spec.high
        else:
            low = _value(start, spec)
            high = _value(end, spec) if end else (spec.high if step_text else low)
            if low > high:
                raise CronError(f"{spec.name}: range {term!r} runs backwards")
        values.update(range(low, high + 1, step))
    if spec.name == "day of week" and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values), restricted


def parse_cron(expression: str) -> CronSpec:
    text = " ".join(expression.strip().lower().split())
    if text.startswith("@"):
        if text not in MACROS:
            raise CronError(f"unknown macro {text!r}; supported: {', '.join(MACROS)}")
        text = MACROS[text]
    parts = text.split(" ")
    if len(parts) != 5:
        raise CronError(
            f"{expression!r} has {len(parts)} fields; cron needs 5 "
            "(minute hour day-of-month month day-of-week) or a macro such as @hourly"
        )
    parsed = [_parse_field(part, spec) for part, spec in zip(parts, _FIELDS, strict=True)]
    (minutes, _), (hours, _), (days, days_r), (months, _), (weekdays, weekdays_r) = parsed
    spec = CronSpec(
        expression=expression,
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=weekdays,
        days_restricted=days_r,
        weekdays_restricted=weekdays_r,
    )
    if not _fires_ever(spec):
        raise CronError(f"{expression!r} never fires: no calendar date matches it (e.g. 30 feb)")
    return spec


def _fires_ever(spec: CronSpec) -> bool:
    """True if some date matches; weekday patterns of dates repeat within 28 years."""
    either = spec.days_restricted and spec.weekdays_restricted
    for year in range(2024, 2024 + 29):
        for month in sorted(spec.months):
            last = calendar.monthrange(year, month)[1]
            for day in range(1, last + 1):
                dom = day in spec.days
                dow = (date(year, month, day).isoweekday() % 7) in spec.weekdays
                if (dom or dow) if either else (dom and dow):
                    return True
    return False
