"""Everything one run needs, passed explicitly: no module state, safe for concurrent runs."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from daemon.catalog.extension import AftershockSettings
from daemon.engine.budget import MemoryRecorder, RunBudget
from daemon.kube.client import Kube
from daemon.recovery import RecoveryTracker
from daemon.safety.guard import History
from daemon.settings import Settings

# The cancellation token of the activity whose provider runs in this thread (set by the
# runner's _spawn): set when the activity times out or the run ends, so a provider thread the
# runner stopped waiting for sends nothing more (F3).
ACTIVITY_CANCELLED: ContextVar[threading.Event | None] = ContextVar(
    "aftershock_activity_cancelled", default=None
)

# Stop reasons that close the gate before every disruption for the rest of the run, the
# rollbacks included (docs/running.md): once halted, the lease lost, shutting down or a stop
# condition fired (or could not be read, fail-closed), a rollback that kills, drains or
# scales down is not sent; what only restores (scale back up, uncordon) still runs.
GATE_CLOSING = frozenset(
    {"halted", "leadership_lost", "shutdown", "stop_condition", "stop_conditions_unavailable"}
)
# The gate of an interrupted run's rollbacks replayed after a crash: closed from the start.
REPLAY_GATE = "interrupted: replayed after a crash, only what restores is sent"


@dataclass
class RunContext:
    experiment_id: str
    run_id: str
    settings: Settings
    aftershock: AftershockSettings
    kube: Kube | None
    seed: int
    dry_run: bool
    environ: Mapping[str, str]
    configuration: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: History = field(default_factory=History)  # base of the default in-memory budget
    # One disruption budget for the whole run (I1): every disrupting provider plans and acts
    # under budget.lock and records an intent before the act. The daemon passes one backed by
    # the SQLite history and shared by its runs; the default is in-memory (`aftershock run`).
    budget: RunBudget = field(default_factory=RunBudget.in_memory)
    # time.monotonic() by which the run must be over (bounded shutdown); None: no bound.
    deadline: float | None = None
    # The process (a daemon replica's leader-election identity) running the run; named on
    # its cordons so another replica's sweep can tell a live leader's drill from a dead one's.
    holder: str = ""
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    stop: threading.Event = field(default_factory=threading.Event)
    # Asked right before every disruption (via disruption_blocked): a reason not to inject
    # now (halted, lost the lease, shutting down). The runner adds its halt switch to it.
    disruption_check: Callable[[], str | None] = field(default=lambda: None)
    # Set when the run is over: no provider thread of it may disrupt anything afterwards.
    over: threading.Event = field(default_factory=threading.Event)
    stop_reason: str = ""
    stop_detail: str = ""
    # The first stop that closes the gate for the rest of the run (GATE_CLOSING): kept when
    # the rollbacks clear `stop` to run, so a disruption among them is still refused.
    gate_closed: str = ""
    trackers: list[RecoveryTracker] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)  # the journal's `aftershock` section
    # Called once at the end of every run (success, abort, refusal, halt, shutdown, crash),
    # after the rollbacks, the run marked over and its trackers stopped: for a disruption
    # that must be undone whatever happened. Each is isolated and bounded; see
    # daemon/engine/cleanup.py. Register with `ctx.cleanups.append(fn)`.
    cleanups: list[Callable[[], object]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        recorder = self.budget.recorder
        if isinstance(recorder, MemoryRecorder) and not recorder.rows:
            recorder.base = self.history
        self.rng = random.Random(self.seed)  # noqa: S311 - seeded so a run's choices can be replayed

    def request_stop(self, reason: str, detail: str = "") -> None:
        with self.lock:
            if reason in GATE_CLOSING and not self.gate_closed:
                self.gate_closed = reason
            if not self.stop.is_set():
                self.stop_reason, self.stop_detail = reason, detail
                self.stop.set()

    def cancelled(self) -> str | None:
        """Has the activity running in this thread timed out, or the run ended? Asked right
        before every request that changes the cluster (a scale-up too)."""
        token = ACTIVITY_CANCELLED.get()
        if token is not None and token.is_set():
            return "cancelled: the activity timed out"
        if self.over.is_set():
            return "cancelled: the run is over"
        return None

    def disruption_blocked(self) -> str | None:
        """Asked right before every disrupting request (delete, evict, scale-down), in every
        phase including rollbacks: a reason not to send it. The activity's cancellation, the
        run's end, stop, then `disruption_check` (halt, lease, shutdown)."""
        cancelled = self.cancelled()
        if cancelled:
            return cancelled
        if self.gate_closed:  # stopped for a GATE_CLOSING reason: rollbacks included
            return self.gate_closed
        if self.stop.is_set():
            return self.stop_reason or "stopped"
        closed = self.disruption_check()
        if closed:  # a failed check stops the whole run, not only this request
            self.request_stop(closed, "checked before a disruption")
        return closed

    def append(self, key: str, value: Any) -> None:
        with self.lock:
            self.record.setdefault(key, []).append(value)

    def require_kube(self) -> Kube:
        if self.kube is None:
            from daemon.engine.errors import ActivityFailed

            raise ActivityFailed("this provider needs a Kubernetes API connection")
        return self.kube

    def remaining(self) -> float | None:
        """Seconds left before the run's deadline (None: unbounded)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def elapsed(self, since: float) -> float:
        return time.time() - since
