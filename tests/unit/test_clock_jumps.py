"""The wall clock jumping forward (no catch-up burst) and back (no stall) for schedules."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.catalog.extension import Schedule
from daemon.scheduling.triggers import next_fire

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


@settings(max_examples=200, deadline=None)
@given(
    jump=st.integers(-7 * 86400, 7 * 86400),
    kind=st.sampled_from([{"interval": "5m"}, {"cron": "*/5 * * * *"}]),
    seed=st.integers(0, 1000),
)
def test_after_a_clock_jump_the_next_fire_is_soon_and_in_the_future(jump, kind, seed) -> None:
    schedule = Schedule.model_validate(kind)
    previous = NOW  # the last fire, by the clock before the jump
    now = NOW + timedelta(seconds=jump)
    fire = next_fire(schedule, previous, now, random.Random(seed))
    assert fire is not None
    assert fire > now  # forward: never a missed slot replayed
    assert fire - now <= timedelta(minutes=5, seconds=1)  # back: no stall until the old time
