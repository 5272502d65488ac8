"""Pure schedule logic with an injected clock and generator (no test waits for time)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.catalog.extension import Schedule
from daemon.scheduling.triggers import allowed, day_rng, mtbf_plan, next_fire, upcoming

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
moments = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive by contract
    max_value=datetime(2030, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)


def schedule(**values) -> Schedule:
    return Schedule.model_validate(values)


@settings(max_examples=150, deadline=None)
@given(now=moments, seed=st.integers(0, 2**32))
def test_cron_fires_after_now_on_matching_minutes_inside_windows(now, seed) -> None:
    s = schedule(
        cron="*/15 * * * mon-fri",
        timezone="Europe/Paris",
        windows=[{"days": "mon-fri", "start": "09:00", "end": "17:00"}],
        blackout_dates=["2027-12-24..2028-01-01"],
    )
    fire = next_fire(s, None, now, random.Random(seed))
    assert fire is not None
    assert fire > now
    local = fire.astimezone(ZoneInfo("Europe/Paris"))
    assert local.minute % 15 == 0
    assert local.second == 0
    assert local.weekday() < 5
    assert 9 <= local.hour < 17
    assert not date(2027, 12, 24) <= local.date() <= date(2028, 1, 1)
    assert fire - now <= timedelta(days=14)


def test_cron_day_of_month_or_day_of_week_like_vixie_cron() -> None:
    s = schedule(cron="0 12 1 * mon")  # the 1st of the month OR any Monday
    fires = upcoming(s, NOW, NOW + timedelta(days=40), experiment="x", seed=1)
    days = {(f.day, f.weekday()) for f in fires}
    assert (1, date(2026, 12, 1).weekday()) in days  # Dec 1st is a Tuesday
    assert all(day == 1 or weekday == 0 for day, weekday in days)


@settings(max_examples=150, deadline=None)
@given(
    now=moments,
    down=st.integers(0, 10**6),
    interval=st.integers(60, 86400),
    jitter=st.integers(0, 30),
    seed=st.integers(0, 2**32),
)
def test_interval_after_downtime_fires_once_in_the_future(
    now, down, interval, jitter, seed
) -> None:
    s = schedule(interval=f"{interval}s", jitter=f"{jitter}s")
    previous = now - timedelta(seconds=down)
    fire = next_fire(s, previous, now, random.Random(seed))
    assert fire is not None
    assert fire > now  # never a missed slot, so never a catch-up burst
    assert fire - now <= timedelta(seconds=interval + jitter)


@settings(max_examples=100, deadline=None)
@given(now=moments)
def test_wrapping_window_and_blackouts(now) -> None:
    s = schedule(
        interval="7m",
        windows=[{"days": ["sat"], "start": "22:00", "end": "02:00"}],
        blackout_dates=["2026-12-26"],
    )
    fire = next_fire(s, None, now, random.Random(0))
    assert fire is not None
    assert allowed(s, fire)
    weekday, hour = fire.weekday(), fire.hour
    assert (weekday == 5 and hour >= 22) or (weekday == 6 and hour < 2)
    assert fire.date() != date(2026, 12, 26)


def test_mtbf_plan_is_stable_inside_windows_and_has_the_right_rate() -> None:
    s = schedule(mtbf="1h", windows=[{"days": "mon-fri", "start": "09:00", "end": "17:00"}])
    day = date(2026, 11, 23)
    first = mtbf_plan(s, day, day_rng(7, "exp", day))
    assert first == mtbf_plan(s, day, day_rng(7, "exp", day))  # published plan == fired plan
    assert all(9 <= t.hour < 17 for t in first)
    weekdays = [date(2026, 1, 5) + timedelta(days=i) for i in range(400) if i % 7 < 5]
    total = sum(len(mtbf_plan(s, d, day_rng(3, "exp", d))) for d in weekdays)
    assert abs(total / len(weekdays) - 8) < 0.8  # 8 window hours / 1 h mean
    saturday = date(2026, 11, 28)
    assert mtbf_plan(s, saturday, day_rng(7, "exp", saturday)) == []


def test_mtbf_next_fire_follows_the_plan() -> None:
    s = schedule(mtbf="30m", windows=[{"days": "daily", "start": "00:00", "end": "23:59"}])
    fires = upcoming(s, NOW, NOW + timedelta(days=1), experiment="e", seed=5)
    today = mtbf_plan(s, NOW.date(), day_rng(5, "e", NOW.date()))
    assert [f for f in fires if f.date() == NOW.date()] == [t for t in today if t > NOW]
    assert fires == sorted(fires)
    assert all(f > NOW for f in fires)


def test_disabled_never_fires() -> None:
    assert next_fire(schedule(interval="1m", enabled=False), None, NOW, random.Random(1)) is None


@settings(max_examples=150, deadline=None)
@given(now=moments, seed=st.integers(0, 2**32))
def test_cron_jitter_only_delays_and_stays_inside_windows(now, seed) -> None:
    s = schedule(
        cron="*/15 * * * *",
        jitter="5m",
        windows=[{"days": "daily", "start": "09:00", "end": "10:00"}],
    )
    fire = next_fire(s, None, now, random.Random(seed))
    assert fire is not None
    assert fire > now
    assert allowed(s, fire)
    assert fire.minute % 15 <= 5  # at or after the cron minute, at most 5 minutes late
