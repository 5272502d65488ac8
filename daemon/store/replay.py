"""The budget an interrupted run's rollbacks are replayed under, after a restart.

A crash must not hand the run a fresh budget: the replay plans with the run's own limits (as
recorded when it started) and a ledger already holding what the run disrupted before the
crash (its intents in the history), so the whole run stays within one max_pods/max_percent.
When the limits cannot be established, every disruption of the replay is refused before
anything is sent (the recorder refuses its intent), while non-disrupting rollbacks still run.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from daemon.catalog.extension import AftershockExtension, AftershockSettings
from daemon.engine.budget import DisruptionRecorder, RunBudget, Settled
from daemon.records import WorkloadKey
from daemon.safety.budget import Intent, Ledger, ScaleBase
from daemon.safety.guard import History


class RefusingRecorder:
    """Reads like the history; refuses every intent, so no disruption is sent."""

    def __init__(self, inner: DisruptionRecorder, why: str):
        self.inner, self.why = inner, why

    def guard_history(self, now: datetime) -> History:
        return self.inner.guard_history(now)

    def record_intent(self, intent: Intent) -> int:
        raise RuntimeError(f"{self.why} ({intent.method} {intent.workload[0]}/{intent.pod})")

    def settle_disruption(self, intent_id: int, state: Settled, detail: str = "") -> None:
        self.inner.settle_disruption(intent_id, state, detail)

    def record_scale_base(self, run_id: str, workload: WorkloadKey, base: ScaleBase) -> None:
        """A Deployment the run never read before the crash (else its base would be seeded and
        its first read not written) is not scaled by a replay that cannot judge; what a
        landed scale left from is recorded as usual."""
        if base.scaled_from is None:
            raise RuntimeError(f"{self.why} (scale {workload[0]}/{workload[2]})")
        self.inner.record_scale_base(run_id, workload, base)


def run_limits(
    recorded: dict[str, Any] | None, document: dict[str, Any]
) -> tuple[AftershockSettings | None, str]:
    """The settings the run started with: recorded with its row, else (a history written by
    an older version) the document's own `aftershock` extension. (None, why) otherwise: the
    run may have taken its limits from catalog.yaml, which is not in the document."""
    if recorded is not None:
        try:
            fields = {k: v for k, v in recorded.items() if k in AftershockSettings.model_fields}
            return AftershockSettings.model_validate(fields), ""
        except ValidationError as exc:
            return None, f"the run's recorded settings are unreadable ({exc.error_count()} errors)"
    extensions = document.get("extensions")
    found = [
        e
        for e in (extensions if isinstance(extensions, list) else [])
        if isinstance(e, dict) and e.get("name") == "aftershock"
    ]
    if len(found) == 1:
        try:
            return AftershockExtension.model_validate(found[0]), ""
        except ValidationError as exc:
            return None, f"the run's aftershock extension is invalid ({exc.error_count()} errors)"
    return None, "the run's limits were not recorded with it"


def seeded_ledger(
    rows: list[dict[str, Any]], bases: dict[WorkloadKey, ScaleBase] | None = None
) -> Ledger:
    """What the run disrupted before the crash: every intent not known to have failed; and
    the base of the scale-up bound of every Deployment it scaled, so the replay's bound is
    the run's own, not one computed from replicas the run already scaled up."""
    ledger = Ledger()
    for key, base in (bases or {}).items():
        ledger.first_seen[key] = base.first_seen
        if base.scaled_from is not None:
            ledger.scaled_from[key] = base.scaled_from
    for row in rows:
        if row.get("state") == "failed":
            continue
        key = WorkloadKey(str(row["namespace"]), str(row["kind"]), str(row["workload"]))
        ledger.spend(key, datetime.fromtimestamp(float(row["at"]), UTC), str(row.get("uid") or ""))
    return ledger


def replay_budget(
    recorder: DisruptionRecorder,
    lock: threading.RLock,
    recorded: dict[str, Any] | None,
    document: dict[str, Any],
    spent: list[dict[str, Any]] | None,
    *,
    bases: dict[WorkloadKey, ScaleBase] | None = None,
) -> tuple[RunBudget, AftershockSettings, str]:
    """(budget, settings, problem): problem is '' when the replay may disrupt within limits.
    `spent` None means the run's intents (and scale bases) could not be read: disruptions
    and scale-ups of Deployments without a base are refused too."""
    settings, problem = run_limits(recorded, document)
    if spent is None:
        problem = problem or "the run's earlier disruptions could not be read"
    if settings is None or problem:
        why = (
            f"rollback of an interrupted run not replayed: {problem}; "
            "its disrupting rollbacks are refused"
        )
        refusing = RefusingRecorder(recorder, why)
        return (
            RunBudget(refusing, lock=lock, ledger=seeded_ledger(spent or [], bases)),
            settings or AftershockSettings(),
            problem,
        )
    return RunBudget(recorder, lock=lock, ledger=seeded_ledger(spent or [], bases)), settings, ""
