"""Cron parsing: Vixie semantics, clear errors, and APScheduler firing exactly when cron would."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.scheduling.cron import CronError, CronSpec, parse_cron


def trigger(spec: CronSpec) -> CronTrigger | OrTrigger:
    triggers = [CronTrigger(timezone="UTC", **fields) for fields in spec.apscheduler_fields()]
    return triggers[0] if len(triggers) == 1 else OrTrigger(triggers)


def next_fire(spec: CronSpec, after: datetime) -> datetime | None:
    """Independent reference: walk days, then the spec's hours and minutes."""
    start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = start.date()
    for _ in range(366 * 35):
        if day.month in spec.months and _day_matches(spec, day):
            for hour in sorted(spec.hours):
                for minute in sorted(spec.minutes):
                    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                    if moment >= start:
                        return moment
        day += timedelta(days=1)
    return None


def _day_matches(spec: CronSpec, day: date) -> bool:
    dom = day.day in spec.days
    dow = (day.isoweekday() % 7) in spec.weekdays
    if spec.days_restricted and spec.weekdays_restricted:
        return dom or dow
    return dom and dow


def test_weekday_numbers_are_cron_numbers_not_apscheduler_ones() -> None:
    spec = parse_cron("0 9 * * 1-5")
    assert spec.apscheduler_fields()[0]["day_of_week"] == "mon,tue,wed,thu,fri"
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert trigger(spec).get_next_fire_time(None, saturday) == datetime(
        2026, 11, 23, 9, 0, tzinfo=UTC
    )  # Monday, not Tuesday


def test_sunday_is_0_and_7() -> None:
    assert parse_cron("0 0 * * 0").weekdays == parse_cron("0 0 * * 7").weekdays == {0}


def test_dom_and_dow_both_restricted_means_either() -> None:
    spec = parse_cron("0 0 13 * fri")
    assert len(spec.apscheduler_fields()) == 2
    # 2026-11-13 is a Friday; 2026-11-20 (Friday) must fire too, and 2026-12-13 (Sunday).
    fires = []
    moment = datetime(2026, 11, 12, tzinfo=UTC)
    for _ in range(4):
        moment = trigger(spec).get_next_fire_time(None, moment + timedelta(seconds=1))
        fires.append(moment.date().isoformat())
    assert fires == ["2026-11-13", "2026-11-20", "2026-11-27", "2026-12-04"]


def test_star_step_counts_as_unrestricted_like_vixie() -> None:
    spec = parse_cron("0 0 */2 * mon")
    assert not spec.days_restricted
    assert len(spec.apscheduler_fields()) == 1


@pytest.mark.parametrize(
    ("macro", "equivalent"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@midnight", "0 0 * * *"),
    ],
)
def test_macros(macro: str, equivalent: str) -> None:
    a, b = parse_cron(macro), parse_cron(equivalent)
    assert a.apscheduler_fields() == b.apscheduler_fields()


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * *", "minute: 61 is out of range 0-59"),
        ("* 24 * * *", "hour: 24 is out of range 0-23"),
        ("* * 0 * *", "day of month: 0 is out of range 1-31"),
        ("* * * 13 *", "month: 13 is out of range 1-12"),
        ("* * * * 8", "day of week: 8 is out of range 0-7"),
        ("* * * * *  *", "has 6 fields; cron needs 5"),
        ("* * * *", "has 4 fields"),
        ("5-1 * * * *", "range '5-1' runs backwards"),
        ("*/0 * * * *", "step must be at least 1"),
        ("x * * * *", "minute: 'x' is not a number or name"),
        ("* * * * funday", "day of week: 'funday' is not a number or name"),
        ("@reboot", "unknown macro '@reboot'"),
        ("1,,2 * * * *", "is not valid"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6,9,11 *", "never fires"),
    ],
)
def test_errors_name_the_field(expression: str, message: str) -> None:
    with pytest.raises(CronError, match=message.replace("(", r"\(").replace("*", r"\*")):
        parse_cron(expression)


def _field(low: int, high: int) -> st.SearchStrategy[str]:
    value = st.integers(low, high)
    term = st.one_of(
        st.just("*"),
        value.map(str),
        st.tuples(value, value).map(lambda t: f"{min(t)}-{max(t)}"),
        st.tuples(st.integers(1, high - low + 1)).map(lambda t: f"*/{t[0]}"),
        st.tuples(value, value, st.integers(1, 5)).map(
            lambda t: f"{min(t[:2])}-{max(t[:2])}/{t[2]}"
        ),
    )
    return st.lists(term, min_size=1, max_size=3).map(",".join)


expressions = st.tuples(
    _field(0, 59), _field(0, 23), _field(1, 31), _field(1, 12), _field(0, 7)
).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(expression=expressions, offset=st.integers(0, 3 * 365 * 24 * 60))
def test_apscheduler_fires_exactly_when_cron_would(expression: str, offset: int) -> None:
    spec = parse_cron(expression)
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=offset, seconds=17)
    expected = next_fire(spec, now)
    actual = trigger(spec).get_next_fire_time(None, now)
    assert actual == expected, expression
