"""Next fire time = f(schedule, previous fire, now, rng): pure, so it is tested with an
injected clock and `hypothesis` instead of waiting for time to pass (docs/daemon.md, "Schedules").

- cron: APScheduler's CronTrigger on the day *names* our parser produced (two triggers
  for cron's day-of-month OR day-of-week rule), in the schedule's time zone.
- interval: previous + interval (first: now + interval).
- jitter: cron fires up to `jitter` late (never before its cron time); interval moves
  ±jitter; never before now, never out of the windows.
- mtbf: kube-monkey style, each day is planned in advance: the number of fires is
  Poisson(window time that day / mtbf), at uniform random moments inside the windows.
  The day's generator is seeded from (seed, experiment, date), so a plan published by the
  API is the plan that fires, across restarts and reloads.
- windows (days + clock range in the schedule's zone, may wrap midnight) and blackout
  dates filter every kind; a time outside them moves to the next allowed one.
Nothing is ever caught up: the next time is always after `now`.
"""

from __future__ import annotations

import hashlib
import math
import random
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from daemon.scheduling.cron import parse_cron

if TYPE_CHECKING:
    from daemon.catalog.extension import Schedule, Window

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON = timedelta(days=400)  # beyond this a schedule "never fires" for planning purposes
MAX_STEPS = 5000


def _zone(schedule: Schedule) -> ZoneInfo:
    return ZoneInfo(schedule.timezone)


def blacked_out(schedule: Schedule, moment: datetime) -> bool:
    day = moment.astimezone(_zone(schedule)).date()
    for blackout in schedule.blackout_dates:
        if isinstance(blackout, date):
            if day == blackout:
                return True
        elif blackout.start <= day <= blackout.end:
            return True
    return False


def _in_window(window: Window, local: datetime) -> bool:
    minute = local.hour * 60 + local.minute + local.second / 60
    weekday = DAYS[local.weekday()]
    if not window.wraps_midnight:
        return weekday in window.days and window.start <= minute < window.end
    if minute >= window.start:
        return weekday in window.days
    previous_day = DAYS[(local.weekday() - 1) % 7]  # after midnight belongs to the day before
    return minute < window.end and previous_day in window.days


def allowed(schedule: Schedule, moment: datetime) -> bool:
    if blacked_out(schedule, moment):
        return False
    if not schedule.windows:
        return True
    local = moment.astimezone(_zone(schedule))
    return any(_in_window(w, local) for w in schedule.windows)


def _window_spans(schedule: Schedule, day: date) -> list[tuple[datetime, datetime]]:
    """The allowed intervals that *start* on `day` (local), as aware datetimes."""
    zone = _zone(schedule)
    weekday = DAYS[day.weekday()]
    spans = []
    windows = schedule.windows or []
    if not windows:
        start = datetime.combine(day, time(0), zone)
        return [(start, datetime.combine(day + timedelta(days=1), time(0), zone))]
    for window in windows:
        if weekday not in window.days:
            continue
        start = datetime.combine(day, time(0), zone) + timedelta(minutes=window.start)
        end_day = day + timedelta(days=1) if window.wraps_midnight else day
        end = datetime.combine(end_day, time(0), zone) + timedelta(minutes=window.end)
        spans.append((start, end))
    return spans


def next_allowed(schedule: Schedule, moment: datetime) -> datetime | None:
    """`moment` itself if allowed, else the start of the next allowed interval."""
    if allowed(schedule, moment):
        return moment
    zone = _zone(schedule)
    day = moment.astimezone(zone).date() - timedelta(days=1)
    for _ in range(HORIZON.days):
        for start, end in sorted(_window_spans(schedule, day)):
            candidate = max(start, moment)
            if candidate < end and allowed(schedule, candidate):
                return candidate
        day += timedelta(days=1)
    return None


def _jittered(
    schedule: Schedule, moment: datetime, now: datetime, rng: random.Random, *, late_only: bool
) -> datetime:
    """Cron: a delay in [0, jitter] (never before the cron time); interval: ±jitter. A
    jittered time outside the windows or on a blackout date falls back to `moment`."""
    jitter = schedule.jitter.total_seconds()
    if jitter <= 0:
        return moment
    offset = rng.uniform(0, jitter) if late_only else rng.uniform(-jitter, jitter)
    shifted = max(moment + timedelta(seconds=offset), now + timedelta(milliseconds=1))
    return shifted if allowed(schedule, shifted) else moment


def _cron_next(schedule: Schedule, after: datetime) -> datetime | None:
    assert schedule.cron is not None
    spec = parse_cron(schedule.cron)
    zone = _zone(schedule)
    times = []
    for fields in spec.apscheduler_fields():
        trigger = CronTrigger(timezone=zone, **fields)
        # CronTrigger fires at or after `now`; ask for strictly after.
        found = trigger.get_next_fire_time(None, after + timedelta(seconds=1))
        if found is not None:
            times.append(found.replace(microsecond=0))
    return min(times) if times else None


def mtbf_plan(schedule: Schedule, day: date, rng: random.Random) -> list[datetime]:
    """The fire times of one local day (windows starting that day), sorted."""
    assert schedule.mtbf is not None
    spans = [(s, e) for s, e in _window_spans(schedule, day) if not blacked_out(schedule, s)]
    total = sum((e - s).total_seconds() for s, e in spans)
    if total <= 0:
        return []
    count = _poisson(total / schedule.mtbf.total_seconds(), rng)
    times = []
    for _ in range(count):
        offset = rng.uniform(0, total)
        for start, end in spans:
            length = (end - start).total_seconds()
            if offset < length:
                times.append(start + timedelta(seconds=offset))
                break
            offset -= length
    return sorted(times)


def _poisson(mean: float, rng: random.Random) -> int:
    """Knuth's method, split for large means so exp() does not underflow."""
    count = 0
    while mean > 30:
        count += _poisson(30, rng)
        mean -= 30
    limit, product, k = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        k += 1
    return count + k


def day_rng(seed: int, experiment: str, day: date) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{experiment}:{day.isoformat()}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - scheduling, not crypto


def next_fire(
    schedule: Schedule,
    previous: datetime | None,
    now: datetime,
    rng: random.Random,
    *,
    experiment: str = "",
    seed: int = 0,
) -> datetime | None:
    """The next fire time strictly after `now` (and after `previous`), or None."""
    if not schedule.enabled:
        return None
    if schedule.mtbf is not None:
        return _next_mtbf(schedule, now, experiment, seed)
    if previous is not None and previous > now:
        previous = now  # the wall clock went back: schedule from now, do not stall
    after = max(now, previous) if previous else now
    candidate: datetime | None
    if schedule.cron is not None:
        candidate = _cron_next(schedule, after)
        for _ in range(MAX_STEPS):
            if candidate is None or candidate - now > HORIZON:
                return None
            if allowed(schedule, candidate):
                return _jittered(schedule, candidate, now, rng, late_only=True)
            candidate = _cron_next(schedule, candidate)
        return None
    assert schedule.interval is not None
    base = previous + schedule.interval if previous else now + schedule.interval
    while base <= now:  # after downtime: the next slot, never the missed ones
        base += schedule.interval * max(1, int((now - base) / schedule.interval))
    candidate = next_allowed(schedule, base)
    if candidate is None or candidate - now > HORIZON:
        return None
    return _jittered(schedule, candidate, now, rng, late_only=False)


def _next_mtbf(schedule: Schedule, now: datetime, experiment: str, seed: int) -> datetime | None:
    zone = _zone(schedule)
    day = now.astimezone(zone).date() - timedelta(days=1)  # windows of yesterday may wrap
    for _ in range(HORIZON.days):
        for moment in mtbf_plan(schedule, day, day_rng(seed, experiment, day)):
            if moment > now:
                return moment
        day += timedelta(days=1)
    return None


def upcoming(
    schedule: Schedule,
    now: datetime,
    until: datetime,
    *,
    experiment: str,
    seed: int,
    limit: int = 100,
) -> list[datetime]:
    """Planned fire times in (now, until], for `aftershock plan` and the API."""
    rng = random.Random(seed)  # noqa: S311 - jitter preview only
    out: list[datetime] = []
    previous: datetime | None = None
    cursor = now
    while len(out) < limit:
        fire = next_fire(schedule, previous, cursor, rng, experiment=experiment, seed=seed)
        if fire is None or fire > until:
            break
        out.append(fire)
        previous, cursor = fire, fire
    return out
