"""The always-on daemon: a thin `Daemon` that wires its parts (daemon/runtime/) together.

Parts: the catalog (`Catalog`, read by the API through `CatalogView`), the runs in flight
(`ActiveRuns.stop_runs`), the halt (`HaltControl`), the run executor (`RunExecutor`), run
launching (`RunLauncher`: APScheduler jobs, API triggers, `RunSlots`), interrupted-run
recovery (`InterruptedRuns`), the run listeners (`ListenerBus`) and `Housekeeping`.
The API and the metrics read it; only the Lease holder injects.

Threads: APScheduler's timer and pool (one job per scheduled experiment), a run thread
per run, the leader elector, the listener workers and one housekeeping loop. Every wait has
a deadline; `stop()` is bounded by `scheduling.shutdown_timeout` and plays the rollbacks of
the runs it aborts.
"""

from __future__ import annotations

import gc
import secrets as token_source
import socket
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler

from daemon.halt_switch import GATE_MAX_AGE, HaltConfigMap
from daemon.kube.client import Kube
from daemon.kube.lease import LeaderElector
from daemon.listeners import RunListener
from daemon.logging import get_logger
from daemon.observability.metrics import DaemonState, Metrics
from daemon.runtime import cordon_sweep
from daemon.runtime.active_runs import ActiveRun, ActiveRuns
from daemon.runtime.builtin_listeners import HistoryListener, MetricsListener
from daemon.runtime.catalog import Catalog, CatalogView, Entry, ScheduleOverride
from daemon.runtime.executor import RunExecutor
from daemon.runtime.halt_control import HALT_KEY, Halt, HaltControl
from daemon.runtime.housekeeping import Housekeeping
from daemon.runtime.interrupted import InterruptedRuns
from daemon.runtime.launcher import RunLauncher, TriggerError
from daemon.runtime.listener_queue import ListenerBus
from daemon.scheduling import events as scheduler_events
from daemon.scheduling.jobs import RunSlots
from daemon.settings import Settings, weakened_safety
from daemon.store.history import HistoryStore, StoreError
from daemon.store.pending import PendingWrites

__all__ = ["HALT_KEY", "Daemon", "Entry", "Halt", "ScheduleOverride", "TriggerError", "settle_heap"]

log = get_logger("aftershock.daemon")
# How long a trigger waits for a recovery under way (reading the history, a quick replay)
# before it answers 503 Recovering: a run asked for right after a takeover is not refused
# for the milliseconds the check for interrupted runs takes.
RECOVERY_PATIENCE = 2.0


def settle_heap() -> None:
    """Collect now, then freeze what survives (the catalog, modules, client classes) out of
    the collector's reach. Measured: without it a gen-2 collection of the start-up heap
    paused a scheduled kill for ~120 ms (fire-to-kill p99 goal: 50 ms)."""
    gc.collect()
    gc.freeze()


class Daemon:
    """Wiring and lifecycle only; each part's behaviour lives in its own module."""

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
        self.listeners: list[RunListener] = list(listeners)  # after the built-in ones
        self.environ = environ or {}
        self.catalog = Catalog(settings, self.catalog_path)
        self.catalog_view = CatalogView(self.catalog)  # what the API reads
        self.runs = ActiveRuns()
        identity = settings.leader.identity or f"{socket.gethostname()}-{token_source.token_hex(3)}"
        self.identity = identity  # leader election's, and the holder named on our cordons
        self._pending = PendingWrites()  # history writes refused, retried by housekeeping
        self._stopping = threading.Event()
        self._stop_lock = threading.Lock()
        self._deadline: float | None = None  # the shutdown bound, from the signal on
        self._run_cut = 0.0  # runs' waits end here: the bound less a margin to journal them
        self._stopped_runs: dict[str, ActiveRun] = {}
        self.abandoned: list[str] = []  # runs still going at the shutdown bound
        self.halt_switch = HaltConfigMap(
            kube, settings.kube.namespace, settings.safety.halt_configmap
        )
        self.halting = HaltControl(
            store,
            self._pending,
            self.halt_switch,
            enabled=kube is not None,
            stop_runs=self.runs.stop_runs,
        )
        self.executor = RunExecutor(
            settings,
            kube=kube,
            store=store,
            pending=self._pending,
            catalog=self.catalog,
            active=self.runs,
            environ=self.environ,
            disruption_check=self.disruption_check,
            halted=self._halted_for_runs,
            stopping=self._stopping,
            holder=identity,
        )
        self.bus = ListenerBus(
            [MetricsListener(lambda: self.metrics), HistoryListener(store, self._pending)],
            self.listeners,
            # late-bound: self.metrics is built last
            failed=lambda name: self.metrics.listener_failed(name),  # noqa: PLW0108
            dropped=lambda name: self.metrics.listener_dropped(name),  # noqa: PLW0108
        )
        self.launcher = RunLauncher(
            settings,
            self.catalog,
            self.executor,
            metrics=lambda: self.metrics,
            closed_reason=self._closed_reason,
            ended=self.bus.submit,
            schedule_override=schedule_override,
        )
        self.recovery = InterruptedRuns(
            store,
            self.executor,
            self.catalog,
            self.runs,
            metrics=lambda: self.metrics,
            halt_loaded=lambda: self.halting.loaded,
        )
        self._housekeeping = Housekeeping(
            interval=min(settings.catalog.reload_interval.total_seconds(), 10.0),
            store=store,
            pending=self._pending,
            stopping=self._stopping,
            check_halt_configmap=self.halting.check_configmap,
            reload_catalog=self.reload_catalog,
            longest_cooldown=self.catalog.longest_cooldown,
            halt_loaded=lambda: self.halting.loaded,
            load_halt=self.halting.load,
            recovery_due=lambda: not self.recovery.done and self.is_leader(),
            recover=self.recovery.begin,
            sweep_cordons=lambda: (
                cordon_sweep.sweep(
                    self.kube,
                    store,
                    self.runs.ids,
                    leader=lambda: self.elector.holder() if self.elector else None,
                    me=self.identity,
                )
                if settings.nodes.enabled
                else None
            ),
        )
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
        self.metrics = metrics_factory(self.snapshot)  # last: the collector reads all of the above
        self.scheduler_events = scheduler_events.install(self.scheduler, self.metrics)

    # ------------------------------------------------------------------ read-through names

    @property
    def entries(self) -> dict[str, Entry]:
        """The live entries (the daemon's own parts and tests); the API uses `catalog_view`."""
        return self.catalog.entries

    @property
    def catalog_problems(self) -> list[str]:
        return self.catalog.problems

    @property
    def invalid_files(self) -> int:
        return self.catalog.invalid_files

    @property
    def halt(self) -> Halt:
        return self.halting.state

    @property
    def scheduler(self) -> BackgroundScheduler:
        return self.launcher.scheduler

    @property
    def scheduler_alive(self) -> bool:
        return self.launcher.alive

    @property
    def slots(self) -> RunSlots:
        return self.launcher.slots

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        for weakened in weakened_safety(self.settings):
            log.warning("safety weakened", setting=weakened)
        self._restore_state()  # the persisted API halt
        self.halting.check_configmap()  # and the ConfigMap, before any recovery or scheduling
        self.reload_catalog(force=True)
        self.bus.start()
        self.launcher.start()
        if self.elector is not None:
            self.elector.start()
        else:
            self._leadership_changed(True)
        self._housekeeping.start()
        log.info(
            "daemon started",
            identity=self.identity,
            experiments=len(self.catalog_view),
            dry_run=self.settings.safety.dry_run,
            leader_election=self.elector is not None,
        )

    def begin_stop(self) -> float:
        """The first half of stop(), quick enough for a signal handler: the bound starts now,
        nothing new starts and every run (and replay) in flight is stopped at once, with its
        waits cut to the bound. The HTTP server drains its requests afterwards, within the
        same bound. Returns the deadline (monotonic); idempotent."""
        with self._stop_lock:
            if self._deadline is not None:
                return self._deadline
            bound = self.settings.scheduling.shutdown_timeout.total_seconds()
            self._deadline = deadline = time.monotonic() + bound
            # Every wait of the run (pauses, providers, rollbacks, recovery) is cut to this,
            # leaving a margin to journal it (I9).
            self._run_cut = cut = deadline - min(2.0, bound * 0.2)
        self.store.deadline = deadline  # no history write waits past the bound
        self._stopping.set()
        self._stopped_runs = self.runs.stop_runs("shutdown", "SIGTERM", deadline=cut)
        self.recovery.stop("shutdown", "SIGTERM", deadline=cut)  # a replay playing, likewise
        return deadline

    def stop(self) -> None:
        """Stop scheduling, abort runs in flight (rollbacks played), deliver what the
        listeners have queued, release the lease; all within `scheduling.shutdown_timeout`,
        counted from the signal (begin_stop)."""
        deadline = self.begin_stop()
        self.launcher.shutdown()
        runs = {**self._stopped_runs}
        for run_id, run in self.runs.stop_runs(
            "shutdown", "SIGTERM", deadline=self._run_cut
        ).items():
            runs.setdefault(run_id, run)  # one that started as the signal came
        for run in runs.values():
            run.thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self.recovery.join(deadline)
        self.abandoned = [run_id for run_id, run in runs.items() if run.thread.is_alive()]
        for run_id in self.abandoned:
            self.executor.abandon(run_id, runs[run_id].context)
        if self.elector is not None:
            self.elector.stop(release=True, deadline=deadline)
        self._housekeeping.join(deadline)
        self.bus.close()  # what is queued is delivered: metrics and history first
        self.bus.join_core(deadline)
        if time.monotonic() < deadline:  # a halt or run end not recorded yet: one last try
            self._pending.flush()
        self.bus.join_extra(deadline)
        self.store.close()
        log.info("daemon stopped", unfinished=len(self.abandoned))

    def listeners_idle(self, timeout: float) -> bool:
        """True once every listener has seen every run ended so far (False at `timeout`):
        for tests and tools that read the history or metrics right after a run ends."""
        return self.bus.idle(timeout)

    def is_leader(self) -> bool:
        return self.elector.is_leader() if self.elector is not None else True

    def _leadership_changed(self, leading: bool) -> None:
        log.warning("leadership changed", leader=leading, identity=self.identity)
        if leading:
            self.recovery.begin(leading_again=True)
            return
        detail = "the lease is held by another replica"
        self.recovery.stop("leadership_lost", detail)
        self.runs.stop_runs("leadership_lost", detail)

    def _restore_state(self) -> None:
        try:
            self.halting.load()
            last = self.store.last_runs()
        except StoreError as exc:
            log.error("run history unreadable at start-up", error=str(exc))
            return
        self.catalog.restored = last

    # ------------------------------------------------------------------ catalog and schedules

    def reload_catalog(self, *, force: bool = False) -> bool:
        if not self.catalog.reload(force=force):
            return False
        self.launcher.sync_jobs()
        settle_heap()
        return True

    def next_run(self, experiment_id: str) -> datetime | None:
        return self.launcher.next_run(experiment_id)

    def plan(self, experiment_id: str, hours: float = 24) -> list[datetime]:
        return self.launcher.plan(experiment_id, hours)

    # ------------------------------------------------------------------ runs

    def trigger(self, experiment_id: str, *, by: str) -> str:
        """Run now (API). Through every guard; answers before the run ends."""
        return self.launcher.trigger(experiment_id, by=by, refused=self._refuse_trigger)

    def _refuse_trigger(self) -> None:
        if self._stopping.is_set():
            raise TriggerError(503, "Shutting Down", "the daemon is shutting down")
        if not self.is_leader():
            raise TriggerError(409, "Not Leader", "another replica holds the lease")
        self.halting.check_configmap()  # live: a switch set a moment ago is honoured
        if self.halt.reason():
            raise TriggerError(409, "Halted", str(self.halt.reason()))
        reason = self._history_reason()
        if reason is not None:
            raise TriggerError(503, "History Unavailable", reason)
        if not self.recovery.settled():
            self.recovery.begin()  # at once, not at housekeeping's next pass
            if not self.recovery.wait(RECOVERY_PATIENCE):
                raise TriggerError(
                    503, "Recovering", "replaying the rollbacks of runs a crash interrupted first"
                )
        reason = self._closed_reason()
        if reason is not None:
            raise TriggerError(503, "History Unavailable", reason)

    def _history_reason(self) -> str | None:
        if self.store.error:
            return f"run history unavailable: {self.store.error}"
        if not self.halting.loaded:
            return "run history unavailable: the halt switch has not been read from it yet"
        return None

    def _closed_reason(self) -> str | None:
        if self._stopping.is_set():
            return "shutting down"
        if not self.is_leader():
            return "not the leader"
        history = self._history_reason()
        if history is not None:
            return history
        if not self.recovery.settled():
            return "replaying the rollbacks of runs a crash interrupted"
        return None

    def _halted_for_runs(self) -> str | None:
        # Leadership loss and shutdown stop runs through stop_runs with their own reasons.
        self.halting.check_configmap(GATE_MAX_AGE)  # before the run starts and each activity
        return self.halt.reason()

    def disruption_check(self) -> str | None:
        """Checked right before every kill (RunContext.disruption_check): a reason not to
        inject now. The ConfigMap halt is read live here (one GET). Leadership is asked again
        last, after that GET: a freeze (SIGSTOP, a VM pause) during it must not let a kill
        through on a lease judged before the freeze."""
        if not self.is_leader():
            return "leadership_lost"
        self.halting.check_configmap(GATE_MAX_AGE)
        if self.halt.reason():
            return "halted"
        if self._stopping.is_set():
            return "shutdown"
        if not self.is_leader():
            return "leadership_lost"
        return None

    # ------------------------------------------------------------------ halt

    def set_halt(self, reason: str, by: str) -> bool:
        return self.halting.set(reason, by)

    def resume(self, by: str) -> None:
        self.halting.resume(by)

    def stop_runs(self, reason: str, detail: str) -> int:
        """Ask every run in flight to stop; how many were asked."""
        return len(self.runs.stop_runs(reason, detail))

    # ------------------------------------------------------------------ views

    def snapshot(self) -> DaemonState:
        experiments, counts = self.catalog_view.states(self.next_run)
        return DaemonState(
            experiments=experiments,
            catalog=counts,
            halted=self.halt.reason() is not None,
            leader=self.is_leader(),
            dry_run=self.settings.safety.dry_run,
            runs_in_progress=len(self.runs),
        )

    def readiness(self) -> list[str]:
        """Empty when ready; else the reasons (catalog, Kubernetes API, run history)."""
        problems = []
        if not len(self.catalog_view) and not self.catalog_problems and self.invalid_files == 0:
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
