"""The run's disruption budget: one ledger, one lock, and intents recorded before the act.

Every provider that disrupts (kill, evict, scale-down), from any phase of a run (method,
background activities, hypothesis probes, rollbacks), plans and acts under `lock` and spends
from the same `ledger` (daemon.safety.budget). Each disruption is first written to the
recorder as an *intent*, then settled `done`, `failed` (the server refused it: given back) or
`uncertain` (counted). The daemon's recorder is the SQLite history, shared by all its runs
with one lock; `aftershock run` and tests use `MemoryRecorder`.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from daemon.engine.errors import Unrecorded
from daemon.records import WorkloadKey
from daemon.safety.budget import Intent, Ledger, ScaleBase, merged_history
from daemon.safety.guard import History

Settled = Literal["done", "failed", "uncertain"]


class DisruptionRecorder(Protocol):
    """Where intents live; `HistoryStore` is the durable one."""

    def guard_history(self, now: datetime) -> History: ...

    def record_intent(self, intent: Intent) -> int: ...

    def settle_disruption(self, intent_id: int, state: Settled, detail: str = "") -> None: ...

    def record_scale_base(self, run_id: str, workload: WorkloadKey, base: ScaleBase) -> None: ...


@dataclass
class MemoryRecorder:
    """File-less recorder (`aftershock run`, tests): the same semantics within one process."""

    base: History = field(default_factory=History)
    rows: dict[int, tuple[Intent, str]] = field(default_factory=dict)
    bases: dict[tuple[str, WorkloadKey], ScaleBase] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def guard_history(self, now: datetime) -> History:
        last = dict(self.base.last_disruption)
        since = now.timestamp() - 86400
        count = self.base.disrupted_last_24h
        for intent, state in self.rows.values():
            if state == "failed":
                continue
            at = datetime.fromtimestamp(intent.at, UTC)
            if intent.workload not in last or at > last[intent.workload]:
                last[intent.workload] = at
            count += int(intent.at >= since)
        return History(last_disruption=last, disrupted_last_24h=count)

    def record_intent(self, intent: Intent) -> int:
        key = next(self._ids)
        self.rows[key] = (intent, "intent")
        return key

    def settle_disruption(self, intent_id: int, state: Settled, detail: str = "") -> None:
        del detail
        intent, _ = self.rows[intent_id]
        self.rows[intent_id] = (intent, state)

    def record_scale_base(self, run_id: str, workload: WorkloadKey, base: ScaleBase) -> None:
        known = self.bases.get((run_id, workload))
        if known is None:
            self.bases[(run_id, workload)] = base
        elif known.scaled_from is None:
            self.bases[(run_id, workload)] = ScaleBase(known.first_seen, base.scaled_from)


@dataclass
class RunBudget:
    recorder: DisruptionRecorder
    lock: threading.RLock = field(default_factory=threading.RLock)
    ledger: Ledger = field(default_factory=Ledger)

    @classmethod
    def in_memory(cls, base: History | None = None) -> RunBudget:
        return cls(MemoryRecorder(base or History()))

    @property
    def injected(self) -> bool:
        """Has this run changed the cluster (disrupted a pod, or scaled)?"""
        return self.ledger.total > 0 or bool(self.ledger.scaled_from)

    def history(self, now: datetime) -> History:
        """Cooldown and daily budget as of now; unreadable history means no chaos."""
        try:
            persisted = self.recorder.guard_history(now)
        except Exception as exc:  # noqa: BLE001 - any recorder failure fails closed
            raise Unrecorded(
                f"the disruption history cannot be read ({exc}); nothing was disrupted"
            ) from None
        return merged_history(persisted, self.ledger)

    def intent(
        self,
        run_id: str,
        workload: WorkloadKey,
        *,
        pod: str,
        uid: str,
        method: str,
        now: datetime,
    ) -> int:
        """Write the intent, then spend it; raises `Unrecorded` (nothing spent, nothing sent)."""
        try:
            intent_id = self.recorder.record_intent(
                Intent(run_id, workload, pod, uid, method, now.timestamp())
            )
        except Exception as exc:  # noqa: BLE001 - any recorder failure fails closed
            raise Unrecorded(
                f"the intent to {method} {workload[0]}/{pod} could not be recorded ({exc}); "
                "nothing was disrupted"
            ) from None
        self.ledger.spend(workload, now, uid)
        return intent_id

    def first_read(self, run_id: str, workload: WorkloadKey, replicas: int) -> None:
        """The run's first read of a Deployment it was asked to scale: the base of its scale-up
        bound, made durable before anything is judged on it, so a replay after a crash bounds
        its scale-ups from it too, never from replicas found later (an HPA's, the run's own).
        Raises `Unrecorded` (nothing is judged, nothing sent)."""
        if workload in self.ledger.first_seen:
            return
        try:
            self.recorder.record_scale_base(run_id, workload, ScaleBase(replicas, None))
        except Exception as exc:  # noqa: BLE001 - any recorder failure fails closed
            raise Unrecorded(
                f"the replicas of {workload[0]}/{workload[2]} the run first read could not be "
                f"recorded ({exc}); nothing was scaled"
            ) from None
        self.ledger.first_seen[workload] = replicas

    def scaled(self, run_id: str, workload: WorkloadKey, scaled_from: int) -> str:
        """A scale of the run landed (or may have): what it scaled from bounds the scale-ups
        that restore it, durably. '' or why it could not be written (a replay then allows no
        more than the bound from the first read: the safe side)."""
        if workload in self.ledger.scaled_from:
            return ""
        self.ledger.scaled_from[workload] = scaled_from
        first = self.ledger.first_seen.get(workload, scaled_from)
        try:
            self.recorder.record_scale_base(run_id, workload, ScaleBase(first, scaled_from))
        except Exception as exc:  # noqa: BLE001 - journaled; the replay stays on the safe side
            return f"the replicas {workload[0]}/{workload[2]} was scaled from not recorded: {exc}"
        return ""

    def settle(
        self,
        intent_id: int,
        workload: WorkloadKey,
        uid: str,
        state: Settled,
        detail: str = "",
    ) -> str:
        """Complete an intent; '' or why it could not be written (the intent row then stays and
        keeps counting, which is the safe side)."""
        if state == "failed":
            self.ledger.give_back(workload, uid)
        try:
            self.recorder.settle_disruption(intent_id, state, detail)
        except Exception as exc:  # noqa: BLE001 - the intent row keeps counting
            return f"disruption {intent_id} not settled as {state}: {exc}"
        return ""
