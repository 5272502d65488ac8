"""The `aftershock` extension: schedule, blast radius, recovery and hypothesis settings.

Unlike the Chaos Toolkit part, every key here is ours, so unknown keys are errors: a typo
such as `max_pod: 1` must never silently widen the blast radius. The same settings may
come from a `catalog.yaml` index entry instead of the file's `extensions`.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from daemon.catalog.models import HypothesisStrategy, RollbackStrategy
from daemon.durations import Duration, PositiveDuration, format_duration
from daemon.scheduling.cron import CronError, parse_cron
from daemon.timezones import check_timezone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_DAY_ALIASES = {
    "weekdays": "mon-fri",
    "weekends": "sat-sun",
    "*": "mon-sun",
    "daily": "mon-sun",
}
_CLOCK = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
MIN_MTBF = timedelta(minutes=1)
# An interval schedule faster than this is a typo (`1ms` meant ~170 runs a second).
MIN_INTERVAL = timedelta(seconds=1)
MAX_RECOVERY_TIMEOUT = timedelta(hours=1)
MIN_FREQUENCY = timedelta(milliseconds=100)
MAX_FREQUENCY = timedelta(hours=1)
MAX_LIMIT = 100_000  # any count limit above this is a typo
# Integers and booleans are strict: `max_pods: true` must not read as 1, `enabled: 0` as false.
PositiveInt = Annotated[StrictInt, Field(gt=0, le=MAX_LIMIT)]
Percent = Annotated[float, Field(strict=True, gt=0, le=100, allow_inf_nan=False)]


SinkRef = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9*?][-a-z0-9_*?]*$")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _expand_days(value: Any) -> Any:
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            return value  # let pydantic report the type error
        text = _DAY_ALIASES.get(item.strip().lower(), item.strip().lower())
        for part in text.split(","):
            token = part.strip()
            if "-" in token:
                start, _, end = token.partition("-")
                if start[:3] not in WEEKDAYS or end[:3] not in WEEKDAYS:
                    raise ValueError(f"{token!r} is not a day range like mon-fri")
                i, j = WEEKDAYS.index(start[:3]), WEEKDAYS.index(end[:3])
                span = range(i, j + 1) if i <= j else [*range(i, 7), *range(j + 1)]
                out.extend(WEEKDAYS[k] for k in span)
            else:
                out.append(token[:3] if token[:3] in WEEKDAYS else token)
    return list(dict.fromkeys(out))


def _clock_minutes(value: Any) -> int:
    if not isinstance(value, str) or not _CLOCK.match(value.strip()):
        raise ValueError(f"{value!r} is not a time of day like 09:00 or 17:30")
    hours, minutes = (int(p) for p in value.strip().split(":"))
    total = hours * 60 + minutes
    if total > 24 * 60:
        raise ValueError(f"{value!r} is past 24:00")
    return total


def _all_days() -> list[Weekday]:
    return ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Window(StrictModel):
    """Days and a time-of-day span; `end` before `start` wraps past midnight."""

    days: Annotated[list[Weekday], Field(min_length=1)] = Field(default_factory=_all_days)
    start: Annotated[int, Field(ge=0, le=1440)]
    end: Annotated[int, Field(ge=0, le=1440)]

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        return _expand_days(value)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock(cls, value: Any) -> int:
        return _clock_minutes(value)

    @model_validator(mode="after")
    def _not_empty(self) -> Window:
        if self.start == self.end:
            raise ValueError("window start and end are equal; the window would be empty")
        return self

    @property
    def wraps_midnight(self) -> bool:
        return self.end < self.start


class DateRange(StrictModel):
    start: date = Field(alias="from")
    end: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end < self.start:
            raise ValueError(f"blackout range ends ({self.end}) before it starts ({self.start})")
        return self


def _blackout(value: Any) -> Any:
    """`2026-12-24`, `2026-12-24..2027-01-02` or `{from:, to:}`."""
    if isinstance(value, str) and ".." in value:
        start, _, end = value.partition("..")
        return {"from": start.strip(), "to": end.strip()}
    return value


Blackout = Annotated[date | DateRange, Field(union_mode="left_to_right")]


class Schedule(StrictModel):
    cron: str | None = None
    interval: PositiveDuration | None = None
    mtbf: PositiveDuration | None = None
    jitter: Duration = timedelta(0)
    timezone: str = "UTC"
    windows: list[Window] = Field(default_factory=list)
    blackout_dates: list[Blackout] = Field(default_factory=list)
    enabled: StrictBool = True

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_cron(value)
            except CronError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < MIN_INTERVAL:
            raise ValueError(
                f"interval {format_duration(value)} is shorter than the minimum "
                f"{format_duration(MIN_INTERVAL)}"
            )
        return value

    @field_validator("blackout_dates", mode="before")
    @classmethod
    def _blackouts(cls, value: Any) -> Any:
        return [_blackout(v) for v in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _one_trigger(self) -> Schedule:
        given = [k for k in ("cron", "interval", "mtbf") if getattr(self, k) is not None]
        if len(given) != 1:
            named = " and ".join(given) if given else "none"
            raise ValueError(
                f"a schedule needs exactly one of cron, interval or mtbf (got {named})"
            )
        if self.interval is not None and self.jitter >= self.interval:
            raise ValueError(
                f"jitter {format_duration(self.jitter)} must be shorter than the interval "
                f"{format_duration(self.interval)}"
            )
        if self.mtbf is not None:
            if self.mtbf < MIN_MTBF:
                raise ValueError(f"mtbf must be at least {format_duration(MIN_MTBF)}")
            if self.jitter:
                raise ValueError(
                    "jitter does not apply to mtbf schedules (they are random already)"
                )
        return self

    def describe(self) -> str:
        if self.cron is not None:
            what = f"cron '{self.cron}'"
        elif self.interval is not None:
            what = f"every {format_duration(self.interval)}"
        else:
            assert self.mtbf is not None
            what = f"mtbf {format_duration(self.mtbf)}"
        if self.jitter:
            what += f" ±{format_duration(self.jitter)}"
        if self.windows:
            what += f" in {len(self.windows)} window(s)"
        what += f" ({self.timezone})"
        return what if self.enabled else what + " [schedule disabled]"


def _percent_or_count(value: Any) -> Any:
    if isinstance(value, str) and value.strip().endswith("%"):
        number = value.strip()[:-1]
        try:
            percent = float(number)
        except ValueError:
            raise ValueError(f"{value!r} is not a percentage like 50%") from None
        if not 0 <= percent <= 100:
            raise ValueError(f"{value!r} must be between 0% and 100%")
        return value.strip()
    return value


ReadyFloor = (
    Annotated[StrictInt, Field(ge=0, le=MAX_LIMIT)]
    | Annotated[str, Field(pattern=r"^\d+(\.\d+)?%$")]
)


class BlastRadius(StrictModel):
    """Per-experiment limits; each only tightens the global one (the stricter wins)."""

    max_pods: PositiveInt | None = None
    max_percent: Percent | None = None
    min_ready_replicas: ReadyFloor | None = None
    require_workload_ready: StrictBool | None = None
    respect_pdb: StrictBool | None = None
    cooldown: Duration | None = None
    max_disruptions_per_day: PositiveInt | None = None
    on_limit: Literal["refuse", "cap"] | None = None

    @field_validator("min_ready_replicas", mode="before")
    @classmethod
    def _floor(cls, value: Any) -> Any:
        return _percent_or_count(value)


class Recovery(StrictModel):
    timeout: PositiveDuration = timedelta(minutes=5)
    slo: PositiveDuration | None = None

    @field_validator("timeout")
    @classmethod
    def _bounded(cls, value: timedelta) -> timedelta:
        if value > MAX_RECOVERY_TIMEOUT:
            raise ValueError(
                f"recovery timeout {format_duration(value)} is longer than the maximum "
                f"{format_duration(MAX_RECOVERY_TIMEOUT)}"
            )
        return value

    @model_validator(mode="after")
    def _slo_within_timeout(self) -> Recovery:
        if self.slo is not None and self.slo > self.timeout:
            raise ValueError(
                f"recovery slo {format_duration(self.slo)} is longer than the timeout "
                f"{format_duration(self.timeout)}; it could never be judged"
            )
        return self


class HypothesisSettings(StrictModel):
    strategy: HypothesisStrategy | None = None
    frequency: PositiveDuration | None = None
    fail_fast: StrictBool | Annotated[float, Field(strict=True, gt=0, le=1)] | None = None

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and not MIN_FREQUENCY <= value <= MAX_FREQUENCY:
            raise ValueError(
                f"frequency {format_duration(value)} must be between "
                f"{format_duration(MIN_FREQUENCY)} and {format_duration(MAX_FREQUENCY)}"
            )
        return value


class RollbackSettings(StrictModel):
    strategy: RollbackStrategy | None = None


def _promql(expr: str) -> str:
    import promql_parser

    text = expr.strip()
    if not text:
        raise ValueError("stop condition is empty")
    try:
        promql_parser.parse(text)
    except ValueError as exc:
        raise ValueError(f"invalid PromQL {text!r}: {exc}") from None
    return text


class StopCondition(StrictModel):
    """A PromQL expression; any sample in its result stops (or refuses) the run."""

    query: str
    description: str | None = None

    @field_validator("query")
    @classmethod
    def _syntax(cls, value: str) -> str:
        return _promql(value)


def _stop_condition(value: Any) -> Any:
    return {"query": value} if isinstance(value, str) else value


class AftershockSettings(StrictModel):
    """What a file's extension or a catalog.yaml entry may say about one experiment."""

    enabled: StrictBool = True
    schedule: Schedule | None = None
    blast_radius: BlastRadius = Field(default_factory=BlastRadius)
    recovery: Recovery = Field(default_factory=Recovery)
    hypothesis: HypothesisSettings = Field(default_factory=HypothesisSettings)
    rollbacks: RollbackSettings = Field(default_factory=RollbackSettings)
    stop_conditions: Annotated[list[StopCondition], Field(max_length=20)] = Field(
        default_factory=list
    )
    dry_run: StrictBool | None = None
    # Notifications (docs/notifications.md): the sinks to use; `false` is [] (none), `true` or
    # absent is None (every sink whose filters match).
    notify: Annotated[list[SinkRef], Field(max_length=50)] | None = None

    @field_validator("stop_conditions", mode="before")
    @classmethod
    def _stops(cls, value: Any) -> Any:
        return [_stop_condition(v) for v in value] if isinstance(value, list) else value

    @field_validator("notify", mode="before")
    @classmethod
    def _notify(cls, value: Any) -> Any:
        if value is False:
            return []
        if value is True:
            return None
        if value is None or isinstance(value, list):
            return value
        raise ValueError(
            f"must be false, true or a list of sink names like [team-slack] (got {value!r})"
        )


class AftershockExtension(AftershockSettings):
    name: Literal["aftershock"]


class IndexEntry(AftershockSettings):
    file: Annotated[str, Field(min_length=1)]


class CatalogIndex(StrictModel):
    experiments: list[IndexEntry] = Field(default_factory=list)


def extension_vocabulary() -> frozenset[str]:
    """Every key the extension models accept, for 'did you mean' hints on typos."""
    names: set[str] = set()
    for model in (
        AftershockExtension,
        IndexEntry,
        Schedule,
        Window,
        BlastRadius,
        Recovery,
        HypothesisSettings,
        RollbackSettings,
        StopCondition,
    ):
        names.update(model.model_fields)
    names.update({"from", "to"})
    return frozenset(names)
