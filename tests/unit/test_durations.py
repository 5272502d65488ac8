from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("2h", 7200),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("1d", 86400),
        ("1.5m", 90),
        (" 2 m ", 120),
        ("0s", 0),
        (3, 3),
        (2.5, 2.5),
        ("45", 45),
        ("2H", 7200),
    ],
)
def test_accepted_forms(text: object, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-5s", "not a duration"),
        (-1, "negative"),
        ("5 minutes", "not a duration"),
        ("", "not a duration"),
        ("m", "not a duration"),
        (True, "not a duration"),
        ([], "not a duration"),
        ("400d", "longer than a year"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
    ],
)
def test_rejected_forms(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_duration(value)


@given(st.integers(0, 365 * 86_400_000))
def test_format_round_trips(milliseconds: int) -> None:
    value = timedelta(milliseconds=milliseconds)
    assert parse_duration(format_duration(value)) == value
