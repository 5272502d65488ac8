"""Starting runs: APScheduler jobs (one per scheduled experiment), API triggers, and the run
slots (`RunSlots`: `max_concurrent_runs`) both go through.

A run's listeners are handed its `RunEnded` only once the run is fully let go: for a
scheduled run, from APScheduler's EVENT_JOB_EXECUTED, which APScheduler sends after it has
released the job's instance (and we the slot); for a triggered run, after its slot is
released. Handing over never blocks (a queue), so listeners never delay the next run.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor as PoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from daemon.listeners import RunEnded
from daemon.logging import get_logger
from daemon.observability.metrics import Metrics
from daemon.runtime.catalog import Catalog, ScheduleOverride
from daemon.runtime.executor import RunExecutor, new_run_id
from daemon.scheduling.jobs import RunSlots, ScheduleTrigger
from daemon.scheduling.triggers import upcoming
from daemon.settings import Settings

log = get_logger("aftershock.daemon")


class TriggerError(Exception):
    """A manual trigger cannot start; `status` is the HTTP status the API answers."""

    def __init__(self, status: int, title: str, detail: str):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


class RunLauncher:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        executor: RunExecutor,
        *,
        metrics: Callable[[], Metrics],
        closed_reason: Callable[[], str | None],
        ended: Callable[[RunEnded], None],
        schedule_override: ScheduleOverride | None = None,
    ):
        self.settings = settings
        self.catalog = catalog
        self.executor = executor
        self.metrics = metrics
        self.closed_reason = closed_reason  # why no run may start now (None: they may)
        self.ended = ended  # hands a finished run to the listeners
        self.schedule_override = schedule_override
        self.slots = RunSlots(settings.scheduling.max_concurrent_runs)
        self.alive = False
        self.scheduler = BackgroundScheduler(
            executors={"default": PoolExecutor(max_workers=32)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": max(
                    1, int(settings.scheduling.misfire_grace.total_seconds())
                ),
            },
            timezone=UTC,
        )
        self.scheduler.add_listener(self._job_executed, EVENT_JOB_EXECUTED)

    def start(self) -> None:
        self.scheduler.start()
        self.alive = True
        self.sync_jobs()

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):  # already stopped, or never started
            self.scheduler.shutdown(wait=False)
        self.alive = False

    # ------------------------------------------------------------------ schedules

    def sync_jobs(self) -> None:
        """One APScheduler job per scheduled experiment; re-created when its schedule changes."""
        if not self.alive:
            return
        wanted = {
            experiment_id: (schedule, schedule.model_dump_json())
            for experiment_id, schedule in self.catalog.schedules(self.schedule_override).items()
        }
        existing = {job.id: job for job in self.scheduler.get_jobs()}
        for job_id, job in existing.items():
            if job_id not in wanted or job.kwargs.get("fingerprint") != wanted[job_id][1]:
                job.remove()
        for experiment_id, (schedule, fingerprint) in wanted.items():
            if experiment_id in existing and (
                existing[experiment_id].kwargs.get("fingerprint") == fingerprint
            ):
                continue
            self.scheduler.add_job(
                self.fire,
                trigger=ScheduleTrigger(schedule, experiment_id, self.settings.scheduling.seed),
                id=experiment_id,
                name=experiment_id,
                kwargs={"experiment_id": experiment_id, "fingerprint": fingerprint},
                replace_existing=True,
            )

    def next_run(self, experiment_id: str) -> datetime | None:
        job = self.scheduler.get_job(experiment_id) if self.alive else None
        return job.next_run_time if job is not None else None

    def plan(self, experiment_id: str, hours: float = 24) -> list[datetime]:
        loaded = self.catalog.loaded(experiment_id)
        if loaded is None or loaded.settings.schedule is None:
            return []
        schedule = loaded.settings.schedule
        if self.schedule_override is not None:
            schedule = self.schedule_override(experiment_id, schedule)
        now = datetime.now(UTC)
        return upcoming(
            schedule,
            now,
            now + timedelta(hours=hours),
            experiment=experiment_id,
            seed=self.settings.scheduling.seed,
        )

    # ------------------------------------------------------------------ runs

    def fire(self, experiment_id: str, fingerprint: str) -> RunEnded | None:
        """The job of a scheduled experiment; returns the run for `_job_executed`."""
        del fingerprint  # only there so a changed schedule replaces the job
        job = self.scheduler.get_job(experiment_id)
        now = datetime.now(UTC)
        if job is not None and isinstance(job.trigger, ScheduleTrigger):
            planned = job.trigger.planned_before(now)
            if planned is not None:
                self.metrics().schedule_delay.observe(max(0.0, (now - planned).total_seconds()))
        reason = self.closed_reason()
        if reason is not None:
            log.info("scheduled run skipped", experiment=experiment_id, reason=reason)
            return None
        grace = self.settings.scheduling.misfire_grace.total_seconds()
        if not self.slots.acquire(timeout=grace):
            log.warning(
                "scheduled run skipped: max_concurrent_runs reached for the whole grace time",
                experiment=experiment_id,
                max_concurrent_runs=self.slots.limit,
            )
            self.metrics().guard_refusals.labels(experiment_id, "max_concurrent_runs").inc()
            return None
        try:
            return self.executor.run(experiment_id, "schedule")
        except Exception:  # a bug must not kill the job; logged with its traceback
            log.exception("scheduled run crashed", experiment=experiment_id)
            return None
        finally:
            self.slots.release()

    def _job_executed(self, event: Any) -> None:
        """APScheduler's EVENT_JOB_EXECUTED: the job's instance is released by now."""
        if isinstance(event, JobExecutionEvent) and isinstance(event.retval, RunEnded):
            self.ended(event.retval)

    def trigger(self, experiment_id: str, *, by: str, refused: Callable[[], None]) -> str:
        """Run now (API), answering once the run is recorded as started. `refused` raises
        TriggerError when the daemon may not run anything now (halt, leadership, ...)."""
        loaded = self.catalog.loaded(experiment_id)
        if loaded is None:
            raise TriggerError(404, "Not Found", f"no valid experiment {experiment_id!r}")
        refused()
        running = self.catalog.running(experiment_id)
        if running is not None:
            raise TriggerError(409, "Already Running", f"run {running} is in progress")
        if not self.slots.acquire(timeout=0):
            raise TriggerError(
                429, "Too Many Runs", f"max_concurrent_runs ({self.slots.limit}) reached"
            )
        run_id = new_run_id(experiment_id)
        started = threading.Event()
        recorded: list[bool] = []

        def body() -> None:
            run: RunEnded | None = None
            try:
                run = self.executor.run(
                    experiment_id, f"api:{by}", run_id=run_id, started=started, recorded=recorded
                )
            except Exception:  # logged with its traceback; the thread must not die silently
                log.exception("triggered run crashed", experiment=experiment_id)
            finally:
                self.slots.release()
                started.set()
            if run is not None:  # after the slot is released
                self.ended(run)

        threading.Thread(target=body, name=f"run-{run_id}", daemon=True).start()
        started.wait(timeout=10)  # the history row exists (or the run was refused) by now
        if not recorded:
            raise TriggerError(
                503,
                "History Unavailable",
                self.executor.store.error or "the run could not be recorded",
            )
        return run_id
