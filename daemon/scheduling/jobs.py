"""APScheduler 3 wiring: our pure trigger as an APScheduler trigger, and the run slots
(`RunSlots`: the `max_concurrent_runs` limit).

APScheduler gives us the timer thread, `max_instances=1` (never two runs of one
experiment), `coalesce` and `misfire_grace_time` (a missed run is skipped, not caught up);
the fire times themselves come from `daemon.scheduling.triggers`.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from datetime import datetime
from typing import TYPE_CHECKING

from apscheduler.triggers.base import BaseTrigger

from daemon.scheduling.triggers import next_fire

if TYPE_CHECKING:
    from daemon.catalog.extension import Schedule


class ScheduleTrigger(BaseTrigger):  # type: ignore[misc]
    """Remembers the times it handed out so a job can tell how late it started."""

    def __init__(self, schedule: Schedule, experiment: str, seed: int):
        self.schedule = schedule
        self.experiment = experiment
        self.seed = seed
        self.rng = random.Random(f"{seed}:{experiment}")  # noqa: S311 - jitter, not crypto
        self.issued: deque[datetime] = deque(maxlen=4)
        self._lock = threading.Lock()

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        with self._lock:
            fire = next_fire(
                self.schedule,
                previous_fire_time,
                now,
                self.rng,
                experiment=self.experiment,
                seed=self.seed,
            )
            if fire is not None:
                self.issued.append(fire)
            return fire

    def planned_before(self, now: datetime) -> datetime | None:
        """The fire time this job is running for: the latest issued one not after `now`."""
        with self._lock:
            due = [t for t in self.issued if t <= now]
            return max(due) if due else None

    def __str__(self) -> str:
        return f"aftershock[{self.schedule.describe()}]"


class RunSlots:
    """At most `limit` runs at once; waiters are served in arrival order (FIFO) and give
    up after their own deadline, so a burst never piles up behind a long run."""

    def __init__(self, limit: int):
        self.limit = limit
        self.running = 0
        self._queue: deque[object] = deque()
        self._cond = threading.Condition()

    def acquire(self, timeout: float) -> bool:
        ticket = object()
        deadline = time.monotonic() + timeout
        with self._cond:
            self._queue.append(ticket)
            try:
                while self._queue[0] is not ticket or self.running >= self.limit:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._cond.wait(remaining)
                self.running += 1
                return True
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self.running -= 1
            self._cond.notify_all()
