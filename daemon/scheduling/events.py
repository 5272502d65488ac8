"""APScheduler's job events, reported as aftershock's own decisions.

Every job runs with `max_instances=1`: when an experiment is due while its previous run is
still going, the new run is skipped. That is aftershock's policy, not a library warning, so
it is counted in `aftershock_guard_refusals_total{reason="already_running"}`, logged in our
words (INFO the first time for an experiment, DEBUG after that) and handed to subscribers
(the demo prints it once). A run time missed by more than `scheduling.misfire_grace` is
logged the same way. APScheduler's own lines for both are filtered out of its loggers, so no
raw library wording reaches the output.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.base import BaseScheduler

from daemon.logging import get_logger
from daemon.observability.metrics import Metrics

ALREADY_RUNNING = "already_running"
log = get_logger("aftershock.scheduling")

# The library's message templates this module reports itself (APScheduler 3.x).
_REPLACED = ('Execution of job "%s" skipped', 'Run time of job "%s" was missed')
_LOGGERS = ("apscheduler.scheduler", "apscheduler.executors.default")

Subscriber = Callable[[str, str], None]  # (experiment_id, reason)


class _Replaced(logging.Filter):
    """Drops the APScheduler lines that `SchedulerEvents` reports in aftershock's words."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(_REPLACED))


class SchedulerEvents:
    def __init__(self, metrics: Metrics):
        self.metrics = metrics
        self.subscribers: list[Subscriber] = []
        self._told: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.append(subscriber)

    def handle(self, event: JobEvent) -> None:
        """APScheduler listener: must never raise (the scheduler would log a traceback)."""
        try:
            if event.code == EVENT_JOB_MAX_INSTANCES:
                self.metrics.guard_refusals.labels(event.job_id, ALREADY_RUNNING).inc()
                self._tell(
                    event.job_id,
                    ALREADY_RUNNING,
                    "scheduled run skipped: its previous run is still going or waiting for a slot",
                )
            elif event.code == EVENT_JOB_MISSED:
                planned = getattr(event, "scheduled_run_time", None)
                self._tell(
                    event.job_id,
                    "missed",
                    "scheduled run missed: later than scheduling.misfire_grace",
                    planned=planned.isoformat() if planned is not None else None,
                )
        except Exception:
            log.exception("scheduler event not reported", job=event.job_id)

    def _tell(self, experiment_id: str, reason: str, message: str, **fields: Any) -> None:
        with self._lock:
            first = (experiment_id, reason) not in self._told
            self._told.add((experiment_id, reason))
        level = logging.WARNING if reason == "missed" else logging.INFO if first else logging.DEBUG
        log.log(level, message, experiment=experiment_id, reason=reason, **fields)
        for subscriber in list(self.subscribers):
            try:
                subscriber(experiment_id, reason)
            except Exception:
                log.exception("scheduler event subscriber failed", experiment=experiment_id)


def install(scheduler: BaseScheduler, metrics: Metrics) -> SchedulerEvents:
    """Listen to `scheduler`'s skip and misfire events; silence the library's own lines."""
    events = SchedulerEvents(metrics)
    scheduler.add_listener(events.handle, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Replaced) for f in logger.filters):
            logger.addFilter(_Replaced())
    return events
