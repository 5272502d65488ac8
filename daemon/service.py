"""The always-on daemon: catalog (hot reload), schedules, guarded runs, history, halt,
leadership. The API and the metrics read it; only the Lease holder injects.

Threads: APScheduler's timer and pool (one job per scheduled experiment), a run thread
per run, the leader elector, and one housekeeping loop (catalog reload, halt ConfigMap,
store retention). Every wait has a deadline; `stop()` is bounded by
`scheduling.shutdown_timeout` and plays the rollbacks of the runs it aborts.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import secrets as token_source
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor as PoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from daemon.catalog.extension import AftershockSettings, Schedule
from daemon.catalog.loader import LoadedExperiment, LoadOptions, load_catalog
from daemon.catalog.problems import SAFETY_CODES
from daemon.catalog.problems import error as problem_error
from daemon.engine.budget import RunBudget
from daemon.engine.context import RunContext
from daemon.engine.redact import redact_journal, sensitive_values
from daemon.engine.runner import Runner
from daemon.halt_switch import GATE_MAX_AGE, HaltConfigMap
from daemon.kube.client import Kube
from daemon.kube.lease import LeaderElector
from daemon.listeners import RunEnded, RunListener, dispatch
from daemon.logging import get_logger, run_context
from daemon.observability.metrics import DaemonState, ExperimentState, Metrics
from daemon.outcomes import Outcome
from daemon.scheduling import events as scheduler_events
from daemon.scheduling.jobs import RunGate, ScheduleTrigger
from daemon.scheduling.triggers import upcoming
from daemon.settings import Settings, weakened_safety
from daemon.store.history import HistoryStore, StoreError
from daemon.store.pending import PendingWrites
from daemon.store.replay import replay_budget

log = get_logger("aftershock.daemon")
# The demo runs the real catalog on accelerated schedules: (experiment id, schedule) -> schedule.
ScheduleOverride = Callable[[str, Schedule], Schedule]
HALT_KEY = "halt"


def settle_heap() -> None:
    """Collect now, then freeze what survives (the catalog, modules, client classes) out of
    the collector's reach. Measured: without it a gen-2 collection of the start-up heap
    paused a scheduled kill for ~120 ms (fire-to-kill p99 goal: 50 ms)."""
    gc.collect()
    gc.freeze()


class TriggerError(Exception):
    """A manual trigger cannot start; `status` is the HTTP status the API answers."""

    def __init__(self, status: int, title: str, detail: str):
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


@dataclass
class Entry:
    """One experiment id in the catalog: the version that runs and what is wrong with edits."""

    loaded: LoadedExperiment | None
    path: Path
    problems: list[str] = field(default_factory=list)  # of the file as it is now on disk
    last_outcome: str | None = None
    last_reason: str | None = None
    last_run: float | None = None
    last_pass: float | None = None
    last_run_id: str | None = None
    last_recovery: dict[str, float] = field(default_factory=dict)  # ns/workload -> seconds
    recoveries: list[float] = field(default_factory=list)
    running: str | None = None  # run id in flight
    removed: bool = False  # the file is gone; kept only until the run in flight ends

    @property
    def stale(self) -> bool:
        """An invalid edit is on disk while the last good version keeps running."""
        return self.loaded is not None and bool(self.problems)


@dataclass
class Halt:
    api: dict[str, Any] | None = None  # {"reason", "by", "at"} while halted through the API
    configmap: str | None = None  # reason while the ConfigMap flag says halted

    def reason(self) -> str | None:
        if self.api:
            return f"halted through the API by {self.api.get('by')}: {self.api.get('reason')}"
        if self.configmap is not None:
            return f"halted by ConfigMap: {self.configmap}"
        return None


class Daemon:
    def __init__(
        self,
        settings: Settings,
        *,
        kube: Kube | None,
        store: HistoryStore,
        metrics_factory: Callable[[Callable[[], DaemonState]], Metrics],
        catalog_path: Path | None = None,
        listeners: Sequence[RunListener] = (),
        environ: dict[str, str] | None = None,
        schedule_override: ScheduleOverride | None = None,
    ):
        self.settings = settings
        self.schedule_override = schedule_override
        self.kube = kube
        self.store = store
        self.catalog_path = catalog_path or settings.catalog.path
        self.listeners: list[RunListener] = list(listeners)  # called after the slot is released
        self.environ = environ or {}
        self.entries: dict[str, Entry] = {}
        self.catalog_problems: list[str] = []
        self.invalid_files = 0
        self.halt = Halt()
        self.halt_switch = HaltConfigMap(
            kube, settings.kube.namespace, settings.safety.halt_configmap
        )
        self._pending = PendingWrites()  # history writes refused, retried by housekeeping
        self._halt_loaded = False  # runs wait until the persisted halt switch has been read
        self._lock = threading.RLock()
        self._signature: tuple[Any, ...] | None = None
        self._runs: dict[str, RunContext] = {}
        self._budget_lock = threading.RLock()
        self._run_threads: dict[str, threading.Thread] = {}
        self._stopping = threading.Event()
        self.abandoned: list[str] = []  # runs still going at the shutdown bound
        self._housekeeping = threading.Thread(
            target=self._housekeeping_loop, name="aftershock-housekeeping", daemon=True
        )
        self.gate = RunGate(settings.scheduling.max_concurrent_runs)
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
        identity = settings.leader.identity or f"{socket.gethostname()}-{token_source.token_hex(3)}"
        self.identity = identity
        self.elector: LeaderElector | None = None
        if settings.leader.enabled and kube is not None:
            self.elector = LeaderElector(
                kube,
                settings.kube.namespace,
                settings.leader.lease_name,
                identity,
                lease_duration=settings.leader.lease_duration,
                renew_deadline=settings.leader.renew_deadline,
                retry_period=settings.leader.retry_period,
                on_change=self._leadership_changed,
            )
        self.started_at = time.time()
        self._restored: dict[str, dict[str, Any]] = {}
        self.scheduler_alive = False
        self._recovered_interrupted = False
        self._recovery_lock = threading.Lock()  # leadership and housekeeping may both try
        self.metrics = metrics_factory(self.snapshot)  # last: the collector reads all of the above
        self.scheduler_events = scheduler_events.install(self.scheduler, self.metrics)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for weakened in weakened_safety(self.settings):
            log.warning("safety weakened", setting=weakened)
        self._restore_state()  # the persisted API halt
        self._check_halt_configmap()  # and the ConfigMap, before any recovery or scheduling
        self.reload_catalog(force=True)
        self.scheduler.start()
        self.scheduler_alive = True
        self._sync_jobs()
        if self.elector is not None:
            self.elector.start()
        else:
            self._leadership_changed(True)
        self._housekeeping.start()
        log.info(
            "daemon started",
            identity=self.identity,
            experiments=len(self.entries),
            dry_run=self.settings.safety.dry_run,
            leader_election=self.elector is not None,
        )

    def stop(self) -> None:
        """Stop scheduling, abort runs in flight (rollbacks played), release the lease."""
        bound = self.settings.scheduling.shutdown_timeout.total_seconds()
        deadline = time.monotonic() + bound
        self._stopping.set()
        with contextlib.suppress(Exception):
            self.scheduler.shutdown(wait=False)
        self.scheduler_alive = False
        with self._lock:
            runs = {
                run_id: (ctx, self._run_threads.get(run_id)) for run_id, ctx in self._runs.items()
            }
        for ctx, _thread in runs.values():
            # Every wait of the run (pauses, providers, rollbacks, recovery) is cut to this,
            # leaving a margin to journal it (I9).
            ctx.deadline = deadline - min(2.0, bound * 0.2)
            ctx.request_stop("shutdown", "SIGTERM")
        for _ctx, thread in runs.values():
            if thread is not None:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.abandoned = [
            run_id
            for run_id, (_, thread) in runs.items()
            if thread is not None and thread.is_alive()
        ]
        for run_id in self.abandoned:
            self._abandon(run_id, runs[run_id][0])
        if self.elector is not None:
            self.elector.stop(release=True)
        self._housekeeping.join(timeout=max(0.0, deadline - time.monotonic()))
        if time.monotonic() < deadline:  # a halt or run end not recorded yet: one last try
            self._pending.flush()
        self.store.close()
        log.info("daemon stopped", unfinished=len(self.abandoned))

    def _abandon(self, run_id: str, ctx: RunContext) -> None:
        """A run still going at the shutdown bound: record what is known of it, finished."""
        with ctx.lock:
            record = {
                **ctx.record,
                "outcome": "aborted",
                "reason": "shutdown_timeout",
                "detail": "the run did not end within scheduling.shutdown_timeout; abandoned",
            }
        journal = {"status": "interrupted", "deviated": False, "aftershock": record}
        log.error("run abandoned at the shutdown bound", run_id=run_id)
        try:
            self.store.finish_run(
                run_id,
                outcome="aborted",
                reason="shutdown_timeout",
                journal=journal,
                ended_at=time.time(),
            )
        except StoreError as exc:
            log.error("abandoned run could not be recorded", run_id=run_id, error=str(exc))

    def is_leader(self) -> bool:
        return self.elector.is_leader() if self.elector is not None else True

    def _leadership_changed(self, leading: bool) -> None:
        log.warning("leadership changed", leader=leading, identity=self.identity)
        if leading:
            self._recover_once()
            return
        with self._lock:
            contexts = list(self._runs.values())
        for ctx in contexts:  # stop injecting at once
            ctx.request_stop("leadership_lost", "the lease is held by another replica")

    # ------------------------------------------------------------------ state and restarts

    def _restore_state(self) -> None:
        try:
            self._load_halt()
            last = self.store.last_runs()
        except StoreError as exc:
            log.error("run history unreadable at start-up", error=str(exc))
            return
        self._restored = last

    def _apply_restored(self, entry_id: str, entry: Entry) -> None:
        restored = self._restored.get(entry_id)
        if restored and entry.last_run is None:
            entry.last_outcome = restored.get("outcome")
            entry.last_run = restored.get("ended_at")
            entry.last_pass = restored.get("last_pass")

    def _recover_once(self) -> None:
        """Interrupted runs are recovered once, as soon as this replica leads and the history
        can be read (an unreadable history at start-up is retried by housekeeping)."""
        with self._recovery_lock:
            # Not before the persisted halt is known: a replayed kill must see it (F1).
            if not self._recovered_interrupted and self._halt_loaded:
                self._recover_interrupted()

    def _recover_interrupted(self) -> None:
        """`running` rows are runs a crash interrupted: mark them aborted, play rollbacks."""
        try:
            interrupted = self.store.interrupted()
        except StoreError as exc:
            log.error("cannot read interrupted runs", error=str(exc))
            return
        self._recovered_interrupted = True
        for row, document in interrupted:
            if row.id in self._runs:
                continue
            with run_context(row.experiment, row.id):
                log.warning("interrupted run found; playing its rollbacks", run_id=row.id)
                try:  # they keep counting for cooldown and the daily budget either way
                    self.store.settle_pending(row.id, "the daemon stopped between intent and act")
                except StoreError as exc:
                    log.error("cannot settle the interrupted run's intents", error=str(exc))
                ctx = self._replay_context(row.experiment, row.id, document, dry_run=row.dry_run)
                records = Runner(ctx, document).rollbacks_only()
                journal = {
                    "experiment": document,
                    "status": "interrupted",
                    "deviated": False,
                    "steady_states": {"before": None, "after": None, "during": []},
                    "run": [],
                    "rollbacks": records,
                    "aftershock": {
                        "outcome": "aborted",
                        "reason": "interrupted",
                        "run_id": row.id,
                        "dry_run": row.dry_run,
                        "detail": "the daemon stopped during this run; rollbacks played on restart",
                    },
                }
                journal = redact_journal(  # the stored document holds secrets as declared
                    journal,
                    sensitive_values(
                        ctx.secrets,
                        ctx.configuration,
                        document.get("configuration"),
                        raw_secrets=document.get("secrets"),
                        environ=self.environ,
                    ),
                )
                try:
                    self.store.finish_run(
                        row.id,
                        outcome="aborted",
                        reason="interrupted",
                        journal=journal,
                        ended_at=time.time(),
                    )
                except StoreError as exc:
                    log.error("cannot record the interrupted run", error=str(exc))
                    continue
                self.metrics.run_finished(row.experiment, journal)
                with self._lock:
                    entry = self.entries.get(row.experiment)
                    if entry is not None:
                        entry.last_outcome, entry.last_reason = "aborted", "interrupted"
                        entry.last_run, entry.last_run_id = time.time(), row.id

    def _replay_context(
        self, experiment_id: str, run_id: str, document: dict[str, Any], *, dry_run: bool
    ) -> RunContext:
        """The interrupted run's rollbacks play under that run's own limits (recorded with it,
        never the catalog's current version nor the defaults) and its own ledger, seeded from
        its intents: the whole run, before and after the crash, spends one budget. When the
        limits cannot be established, disrupting rollbacks are refused (nothing is sent)."""
        try:
            recorded = self.store.run_settings(run_id)
            spent = self.store.disruptions(run_id)
        except StoreError as exc:
            recorded, spent = None, None
            log.error("cannot read the interrupted run's limits or intents", error=str(exc))
        budget, aftershock, problem = replay_budget(
            self.store, self._budget_lock, recorded, document, spent
        )
        if problem:
            log.error("interrupted run: disrupting rollbacks refused", detail=problem)
        return self._new_context(experiment_id, run_id, aftershock, budget, dry_run=dry_run)

    # ------------------------------------------------------------------ catalog

    def _catalog_signature(self) -> tuple[Any, ...]:
        try:
            items = []
            for path in sorted(self.catalog_path.iterdir()):
                with contextlib.suppress(OSError):
                    stat = path.stat()
                    items.append((path.name, stat.st_mtime_ns, stat.st_size))
            return tuple(items)
        except OSError as exc:
            return (("error", str(exc)),)

    def reload_catalog(self, *, force: bool = False) -> bool:
        signature = self._catalog_signature()
        if not force and signature == self._signature:
            return False
        self._signature = signature
        report = load_catalog([self.catalog_path], LoadOptions.from_settings(self.settings))
        with self._lock:
            seen: set[str] = set()
            invalid = 0
            for result in report.files:
                if not result.ok:
                    invalid += 1
                if result.experiment_id is not None:
                    seen.add(result.experiment_id)
                    if report.index is None:
                        self._index_gone(result)
                    self._apply(result.experiment_id, result)
            for gone in set(self.entries) - seen:
                if self.entries[gone].running is None:
                    del self.entries[gone]
                else:  # unscheduled now; dropped when its run ends
                    self.entries[gone].removed = True
            self.invalid_files = invalid
            self.catalog_problems = [p.render() for p in report.problems] + (
                [f"{report.index.path}: {p.render()}" for p in report.index.problems]
                if report.index
                else []
            )
            self.catalog_problems += [  # looser-than-global limits, ignored extensions
                f"{result.path}: {p.render()}"
                for result in report.files
                for p in result.problems
                if p.code in SAFETY_CODES
            ]
        if self.scheduler_alive:
            self._sync_jobs()
        settle_heap()
        log.info(
            "catalog loaded",
            experiments=sum(1 for e in self.entries.values() if e.loaded),
            invalid_files=invalid,
        )
        return True

    def _index_gone(self, result: Any) -> None:
        """catalog.yaml vanished while in force (I7): an experiment whose limits came from it
        keeps its last good version (stale) rather than running under looser global limits.
        Limits in the file's own extension, a restored index or a restart end this."""
        entry = self.entries.get(result.experiment_id)
        if (
            entry is not None
            and entry.loaded is not None
            and entry.loaded.settings_source == "catalog.yaml"
            and result.loaded is not None
            and result.loaded.settings_source != "catalog.yaml"
        ):
            result.problems.append(
                problem_error(
                    "its limits came from catalog.yaml, which is gone; the last good version "
                    "stays in force until the index is restored, the limits move into the "
                    "file's aftershock extension, or the daemon restarts"
                )
            )

    def _apply(self, experiment_id: str, result: Any) -> None:
        """One file's new state; an invalid edit keeps the last good version in force."""
        problems = [p.render() for p in result.problems if p.severity.value == "error"]
        entry = self.entries.get(experiment_id)
        if entry is not None:
            entry.removed = False
        if result.ok and result.loaded is not None:
            if entry is None:
                entry = self.entries[experiment_id] = Entry(result.loaded, result.path)
                self._apply_restored(experiment_id, entry)
            entry.loaded, entry.path, entry.problems = result.loaded, result.path, []
        elif entry is None:
            self.entries[experiment_id] = Entry(None, result.path, problems)
        else:
            if problems != entry.problems:
                log.error(
                    "invalid edit; the last good version stays in force",
                    experiment=experiment_id,
                    problems=problems[:5],
                )
            entry.problems = problems

    def _sync_jobs(self) -> None:
        """One APScheduler job per scheduled experiment; re-created when its schedule changes."""
        wanted: dict[str, tuple[Any, str]] = {}
        with self._lock:
            for experiment_id, entry in self.entries.items():
                loaded = entry.loaded
                if loaded is None or not loaded.settings.enabled or entry.removed:
                    continue
                schedule = loaded.settings.schedule
                if schedule is None or not schedule.enabled:
                    continue
                if self.schedule_override is not None:
                    schedule = self.schedule_override(experiment_id, schedule)
                wanted[experiment_id] = (schedule, schedule.model_dump_json())
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
                self._fire,
                trigger=ScheduleTrigger(schedule, experiment_id, self.settings.scheduling.seed),
                id=experiment_id,
                name=experiment_id,
                kwargs={"experiment_id": experiment_id, "fingerprint": fingerprint},
                replace_existing=True,
            )

    def next_run(self, experiment_id: str) -> datetime | None:
        job = self.scheduler.get_job(experiment_id) if self.scheduler_alive else None
        return job.next_run_time if job is not None else None

    def plan(self, experiment_id: str, hours: float = 24) -> list[datetime]:
        with self._lock:
            entry = self.entries.get(experiment_id)
        if entry is None or entry.loaded is None or entry.loaded.settings.schedule is None:
            return []
        schedule = entry.loaded.settings.schedule
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

    def _fire(self, experiment_id: str, fingerprint: str) -> None:
        del fingerprint  # only there so a changed schedule replaces the job
        job = self.scheduler.get_job(experiment_id)
        now = datetime.now(UTC)
        if job is not None and isinstance(job.trigger, ScheduleTrigger):
            planned = job.trigger.planned_before(now)
            if planned is not None:
                self.metrics.schedule_delay.observe(max(0.0, (now - planned).total_seconds()))
        reason = self._closed_reason()
        if reason is not None:
            log.info("scheduled run skipped", experiment=experiment_id, reason=reason)
            return
        grace = self.settings.scheduling.misfire_grace.total_seconds()
        if not self.gate.acquire(timeout=grace):
            log.warning(
                "scheduled run skipped: max_concurrent_runs reached for the whole grace time",
                experiment=experiment_id,
                max_concurrent_runs=self.gate.limit,
            )
            self.metrics.guard_refusals.labels(experiment_id, "max_concurrent_runs").inc()
            return
        try:
            self._run(experiment_id, "schedule")
        except Exception:  # a bug must not kill the job; logged with its traceback
            log.exception("scheduled run crashed", experiment=experiment_id)
        finally:
            self.gate.release()

    def _closed_reason(self) -> str | None:
        if self._stopping.is_set():
            return "shutting down"
        if not self.is_leader():
            return "not the leader"
        if self.store.error:
            return f"run history unavailable: {self.store.error}"
        if not self._halt_loaded:
            return "run history unavailable: the halt switch has not been read from it yet"
        return None

    def _gate(self) -> str | None:
        """Checked right before every kill: the ConfigMap halt is read live here (one GET).
        Leadership is asked again last, after that GET: a freeze (SIGSTOP, a VM pause)
        during it must not let a kill through on a lease judged before the freeze."""
        if not self.is_leader():
            return "leadership_lost"
        self._check_halt_configmap(GATE_MAX_AGE)
        if self.halt.reason():
            return "halted"
        if self._stopping.is_set():
            return "shutdown"
        if not self.is_leader():
            return "leadership_lost"
        return None

    def trigger(self, experiment_id: str, *, by: str) -> str:
        """Run now (API). Through every guard; answers before the run ends."""
        with self._lock:
            entry = self.entries.get(experiment_id)
        if entry is None or entry.loaded is None or entry.removed:
            raise TriggerError(404, "Not Found", f"no valid experiment {experiment_id!r}")
        if self._stopping.is_set():
            raise TriggerError(503, "Shutting Down", "the daemon is shutting down")
        if not self.is_leader():
            raise TriggerError(409, "Not Leader", "another replica holds the lease")
        self._check_halt_configmap()  # live: a switch set a moment ago is honoured
        if self.halt.reason():
            raise TriggerError(409, "Halted", str(self.halt.reason()))
        reason = self._closed_reason()
        if reason is not None:
            raise TriggerError(503, "History Unavailable", reason)
        if entry.running is not None:
            raise TriggerError(409, "Already Running", f"run {entry.running} is in progress")
        if not self.gate.acquire(timeout=0):
            raise TriggerError(
                429, "Too Many Runs", f"max_concurrent_runs ({self.gate.limit}) reached"
            )
        run_id = self._new_run_id(experiment_id)
        started = threading.Event()
        recorded: list[bool] = []

        def body() -> None:
            try:
                self._run(
                    experiment_id, f"api:{by}", run_id=run_id, started=started, recorded=recorded
                )
            except Exception:  # logged with its traceback; the thread must not die silently
                log.exception("triggered run crashed", experiment=experiment_id)
            finally:
                self.gate.release()
                started.set()

        threading.Thread(target=body, name=f"run-{run_id}", daemon=True).start()
        started.wait(timeout=10)  # the history row exists (or the run was refused) by now
        if not recorded:
            raise TriggerError(
                503, "History Unavailable", self.store.error or "the run could not be recorded"
            )
        return run_id

    @staticmethod
    def _new_run_id(experiment_id: str) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return f"{experiment_id}-{stamp}-{token_source.token_hex(2)}"

    def _context(self, experiment_id: str, run_id: str, *, dry_run: bool) -> RunContext:
        with self._lock:
            entry = self.entries.get(experiment_id)
        aftershock = (
            entry.loaded.settings
            if entry is not None and entry.loaded is not None
            else AftershockSettings()
        )
        # One budget per run, recorded in the history before each act; one lock for all runs,
        # so concurrent runs plan against each other's intents too.
        budget = RunBudget(self.store, lock=self._budget_lock)
        return self._new_context(experiment_id, run_id, aftershock, budget, dry_run=dry_run)

    def _new_context(
        self,
        experiment_id: str,
        run_id: str,
        aftershock: AftershockSettings,
        budget: RunBudget,
        *,
        dry_run: bool,
    ) -> RunContext:
        return RunContext(
            experiment_id=experiment_id,
            run_id=run_id,
            settings=self.settings,
            aftershock=aftershock,
            kube=self.kube,
            seed=token_source.randbits(32),
            dry_run=dry_run,
            environ=self.environ,
            budget=budget,
            gate=self._gate,
        )

    def _run(
        self,
        experiment_id: str,
        trigger: str,
        *,
        run_id: str | None = None,
        started: threading.Event | None = None,
        recorded: list[bool] | None = None,
    ) -> None:
        run_id = run_id or self._new_run_id(experiment_id)
        with self._lock:
            entry = self.entries.get(experiment_id)
            if (
                self._stopping.is_set()
                or entry is None
                or entry.loaded is None
                or entry.running is not None
                or entry.removed
            ):
                return
            loaded = entry.loaded
            entry.running = run_id
        dry_run = self.settings.safety.dry_run or bool(loaded.settings.dry_run)
        ctx = self._context(experiment_id, run_id, dry_run=dry_run)
        with self._lock:  # visible to stop() and to leadership loss before anything happens
            self._runs[run_id] = ctx
            self._run_threads[run_id] = threading.current_thread()
        began = time.time()
        ended: RunEnded | None = None
        try:
            with run_context(experiment_id, run_id):
                try:
                    self.store.start_run(
                        run_id,
                        experiment_id,
                        trigger=trigger,
                        dry_run=dry_run,
                        experiment_doc=loaded.raw,
                        started_at=began,
                        settings=loaded.settings.model_dump(
                            mode="json", include=set(AftershockSettings.model_fields)
                        ),
                    )
                except StoreError as exc:
                    log.error("run not started: it could not be recorded", error=str(exc))
                    return
                if recorded is not None:
                    recorded.append(True)
                if started is not None:
                    started.set()
                try:
                    result = Runner(
                        ctx,
                        loaded.raw,
                        progress=lambda event, fields: log.debug(event, **fields),
                        halted=self._halted_for_runs,
                    ).run()
                except Exception as exc:  # the Runner never raises; if it ever does, the
                    # row is still finished, never left `running` (I8)
                    log.exception("run crashed", experiment=experiment_id)
                    with ctx.lock:
                        record = {**ctx.record, "error": f"{type(exc).__name__}: {exc}"}
                    journal = {"status": "failed", "deviated": False, "aftershock": record}
                    ended = self._finish(
                        experiment_id,
                        run_id,
                        journal,
                        Outcome.FAILED,
                        "internal_error",
                        began=began,
                        trigger=trigger,
                    )
                    return
                ended = self._finish(
                    experiment_id,
                    run_id,
                    result.journal,
                    result.outcome,
                    result.reason,
                    began=began,
                    trigger=trigger,
                )
        finally:
            with self._lock:
                self._runs.pop(run_id, None)
                self._run_threads.pop(run_id, None)
                if experiment_id in self.entries:
                    self.entries[experiment_id].running = None
                    if self.entries[experiment_id].removed:
                        del self.entries[experiment_id]
            if ended is not None:  # after the slot is released: listeners never delay a run
                with run_context(experiment_id, run_id):
                    dispatch(self.listeners, ended, failed=self.metrics.listener_failed)

    def _halted_for_runs(self) -> str | None:
        # Leadership loss and shutdown stop runs through request_stop with their own reasons.
        self._check_halt_configmap(GATE_MAX_AGE)  # before the run starts and each activity
        return self.halt.reason()

    def _finish(
        self,
        experiment_id: str,
        run_id: str,
        journal: dict[str, Any],
        outcome: str,
        reason: str,
        *,
        began: float,
        trigger: str,
    ) -> RunEnded:
        record = journal.get("aftershock") or {}
        ended = time.time()
        # Disruptions are already in the history: intents written before each act (I4).
        disruptions = record.get("disrupted", [])
        finish = functools.partial(
            self.store.finish_run,
            run_id,
            outcome=outcome,
            reason=reason,
            journal=journal,
            ended_at=ended,
        )
        if not self._pending.attempt(f"finish:{run_id}", finish):  # retried by housekeeping
            log.error("run finished but could not be recorded yet", error=self.store.error)
        self.metrics.run_finished(experiment_id, journal)
        with self._lock:
            entry = self.entries.get(experiment_id)
            if entry is not None:
                entry.last_outcome, entry.last_reason = outcome, reason
                entry.last_run, entry.last_run_id = ended, run_id
                if outcome == "passed":
                    entry.last_pass = ended
                for recovery in record.get("recovery", []):
                    seconds = recovery.get("recovery_seconds")
                    if seconds is not None:
                        entry.last_recovery[f"{recovery['namespace']}/{recovery['name']}"] = seconds
                        entry.recoveries = [*entry.recoveries[-99:], seconds]
        log.info(
            "run finished",
            outcome=outcome,
            reason=reason,
            dry_run=record.get("dry_run"),
            disrupted=len(disruptions),
            duration=round(float(journal.get("duration") or 0), 3),
        )
        experiment = entry.loaded if entry is not None else None
        return RunEnded(
            experiment_id=experiment_id,
            run_id=run_id,
            outcome=Outcome(outcome),
            reason=reason,
            trigger=trigger,
            dry_run=bool(record.get("dry_run")),
            started_at=began,
            ended_at=ended,
            journal=journal,
            title=str(experiment.raw.get("title") or "") if experiment is not None else "",
            tags=tuple(str(tag) for tag in (experiment.raw.get("tags") or []))
            if experiment is not None
            else (),
        )

    # ------------------------------------------------------------------ halt

    def set_halt(self, reason: str, by: str) -> bool:
        """In force at once, whatever the history's state: runs in flight are stopped and the
        pre-kill gate closes before anything is written. True when it is also recorded;
        else it is retried by housekeeping until it is (and survives a restart from then on)."""
        value = {"reason": reason, "by": by, "at": datetime.now(UTC).isoformat()}
        self.halt.api = value
        log.warning("chaos halted", reason=reason, by=by)
        with self._lock:
            contexts = list(self._runs.values())
        for ctx in contexts:
            ctx.request_stop("halted", reason)
        persisted = self._pending.attempt(HALT_KEY, lambda: self.store.set_state(HALT_KEY, value))
        if not persisted:
            log.error("halt in force but not recorded yet; retrying", error=self.store.error)
        return persisted

    def resume(self, by: str) -> None:
        """Recorded first, lifted after: a resume the history refuses raises StoreError and the
        halt stays in force (in memory and, after a restart, from the history). A halt that
        arrives meanwhile is not lifted by this resume."""
        halted = self.halt.api
        with self._pending.lock:
            self.store.set_state(HALT_KEY, None)
            self._pending.discard(HALT_KEY)
            self._halt_loaded = True
            if self.halt.api is halted:
                self.halt.api = None
        log.warning("chaos resumed", by=by)

    def _load_halt(self) -> None:
        """The persisted API halt; a halt already in force in memory wins (it is newer)."""
        with self._pending.lock:
            stored = self.store.get_state(HALT_KEY)
            if self.halt.api is None and HALT_KEY not in self._pending:
                self.halt.api = stored
            self._halt_loaded = True

    def _check_halt_configmap(self, max_age: float = 0.0) -> None:
        """Read the ConfigMap switch now (one GET, short deadline; on a read error the last
        known state stays); a switch newly set stops the runs in flight."""
        if self.kube is None:
            return
        reason = self.halt_switch.read(max_age)
        was, self.halt.configmap = self.halt.configmap, reason
        if reason is not None and was is None:
            log.warning("chaos halted by ConfigMap", reason=reason)
            with self._lock:
                contexts = list(self._runs.values())
            for ctx in contexts:
                ctx.request_stop("halted", "ConfigMap")
        elif self.halt_switch.error:
            log.debug("halt ConfigMap unreadable", error=self.halt_switch.error)

    # ------------------------------------------------------------------ housekeeping

    def _housekeeping_loop(self) -> None:
        interval = min(self.settings.catalog.reload_interval.total_seconds(), 10.0)
        last_prune = -3600.0  # time.monotonic() may be under an hour (a fresh boot)
        while not self._stopping.wait(interval):
            try:
                self._check_halt_configmap()  # first: independent of the catalog and the history
                self.reload_catalog()
                if self.store.error:
                    self.store.check()  # recovers once the disk does
                # Hourly, from the first pass; an unusable history must not stop the rest of
                # housekeeping (halt, recovery, pending writes).
                if not self.store.error and time.monotonic() - last_prune > 3600:
                    with contextlib.suppress(StoreError):  # store.error tells /readyz
                        self.store.prune(time.time(), keep_disruptions=self._longest_cooldown())
                        last_prune = time.monotonic()
                if not self._halt_loaded and not self.store.error:
                    self._load_halt()
                if not self._recovered_interrupted and not self.store.error and self.is_leader():
                    self._recover_once()
                self._pending.flush()
            except Exception:  # housekeeping must outlive any one failure; logged with traceback
                log.exception("housekeeping failed")

    def _longest_cooldown(self) -> timedelta:
        """The longest cooldown in effect (global and every loaded experiment's): pruning
        keeps the disruption rows it is computed from."""
        with self._lock:
            own = [
                e.loaded.settings.blast_radius.cooldown
                for e in self.entries.values()
                if e.loaded is not None and e.loaded.settings.blast_radius.cooldown is not None
            ]
        return max([self.settings.safety.cooldown, *own])

    # ------------------------------------------------------------------ views

    def snapshot(self) -> DaemonState:
        with self._lock:
            experiments = {}
            disabled = 0
            for experiment_id, entry in self.entries.items():
                if entry.loaded is not None and not entry.loaded.settings.enabled:
                    disabled += 1
                next_run = self.next_run(experiment_id)
                experiments[experiment_id] = ExperimentState(
                    last_outcome=entry.last_outcome,
                    last_run=entry.last_run,
                    next_run=next_run.timestamp() if next_run else None,
                    last_pass=entry.last_pass,
                )
            loaded = sum(1 for e in self.entries.values() if e.loaded is not None)
            running = len(self._runs)
        return DaemonState(
            experiments=experiments,
            catalog={"loaded": loaded, "invalid": self.invalid_files, "disabled": disabled},
            halted=self.halt.reason() is not None,
            leader=self.is_leader(),
            dry_run=self.settings.safety.dry_run,
            runs_in_progress=running,
        )

    def readiness(self) -> list[str]:
        """Empty when ready; else the reasons (catalog, Kubernetes API, run history)."""
        problems = []
        if not self.entries and not self.catalog_problems and self.invalid_files == 0:
            problems.append(f"catalog {self.catalog_path} has no experiments")
        if self.store.error:
            problems.append(self.store.error)
        if self.kube is None:
            problems.append("no Kubernetes API connection")
        elif (
            self.elector is not None
            and self.elector.last_error
            and not self.is_leader()
            and "held by" not in self.elector.last_error
        ):
            problems.append(f"Kubernetes API: {self.elector.last_error}")
        return problems
