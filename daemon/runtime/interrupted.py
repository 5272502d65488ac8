"""Runs a crash interrupted (`running` rows at start-up): marked aborted, rollbacks played.

Done once, as soon as this replica leads, the history can be read and the persisted halt is
known (a replayed kill must see it, F1). Synchronous and outside the listeners: it happens
before any run of this process, and its record is the run's only end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from daemon.engine import cordons
from daemon.engine.context import REPLAY_GATE, RunContext
from daemon.engine.redact import redact_journal, sensitive_values
from daemon.engine.runner import Runner
from daemon.logging import get_logger, run_context
from daemon.observability.metrics import Metrics
from daemon.outcomes import Outcome
from daemon.runtime.active_runs import ActiveRuns
from daemon.runtime.catalog import Catalog
from daemon.runtime.executor import RunExecutor
from daemon.store.history import HistoryStore, StoreError
from daemon.store.replay import replay_budget

log = get_logger("aftershock.daemon")


class InterruptedRuns:
    def __init__(
        self,
        store: HistoryStore,
        executor: RunExecutor,
        catalog: Catalog,
        active: ActiveRuns,
        *,
        metrics: Callable[[], Metrics],
        halt_loaded: Callable[[], bool],
    ):
        self.store = store
        self.executor = executor
        self.catalog = catalog
        self.active = active
        self.metrics = metrics
        self.halt_loaded = halt_loaded
        self.done = False
        self._lock = threading.Lock()  # leadership and housekeeping may both try

    def recover_once(self) -> None:
        """Interrupted runs are recovered once, as soon as this replica leads and the history
        can be read (an unreadable history at start-up is retried by housekeeping)."""
        with self._lock:
            # Not before the persisted halt is known: a replayed kill must see it (F1).
            if not self.done and self.halt_loaded():
                recovered = self._recover()
                if recovered and self.executor.settings.nodes.enabled:  # node drills
                    # After the interrupted runs took back their cordons: anything still
                    # cordoned by aftershock without a live run is reported (docs/node-drills.md).
                    cordons.report_orphans(self.executor.kube, self.active.ids())

    def _recover(self) -> bool:
        """`running` rows are runs a crash interrupted: mark them aborted, play rollbacks.
        False when the history could not be read (housekeeping tries again)."""
        try:
            interrupted = self.store.interrupted()
        except StoreError as exc:
            log.error("cannot read interrupted runs", error=str(exc))
            return False
        self.done = True
        for row, document in interrupted:
            if row.id in self.active:
                continue
            with run_context(row.experiment, row.id):
                self._recover_one(row.experiment, row.id, document, dry_run=row.dry_run)
        return True

    def _recover_one(
        self, experiment_id: str, run_id: str, document: dict[str, Any], *, dry_run: bool
    ) -> None:
        log.warning("interrupted run found; playing its rollbacks", run_id=run_id)
        try:  # they keep counting for cooldown and the daily budget either way
            self.store.settle_pending(run_id, "the daemon stopped between intent and act")
        except StoreError as exc:
            log.error("cannot settle the interrupted run's intents", error=str(exc))
        ctx = self.replay_context(experiment_id, run_id, document, dry_run=dry_run)
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
                "run_id": run_id,
                "dry_run": dry_run,
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
                environ=self.executor.environ,
            ),
        )
        try:
            self.store.finish_run(
                run_id,
                outcome=Outcome.ABORTED,
                reason="interrupted",
                journal=journal,
                ended_at=time.time(),
            )
        except StoreError as exc:
            log.error("cannot record the interrupted run", error=str(exc))
            return
        self.metrics().run_finished(experiment_id, journal)
        self.catalog.record_end(
            experiment_id, run_id, Outcome.ABORTED, "interrupted", ended=time.time()
        )

    def replay_context(
        self, experiment_id: str, run_id: str, document: dict[str, Any], *, dry_run: bool
    ) -> RunContext:
        """The interrupted run's rollbacks play under that run's own limits (recorded with it,
        never the catalog's current version nor the defaults) and its own ledger, seeded from
        its intents and scale bases: the whole run, before and after the crash, spends one
        budget and keeps one scale-up bound. When the limits cannot be established, disrupting
        rollbacks are refused (nothing is sent)."""
        try:
            recorded = self.store.run_settings(run_id)
            spent = self.store.disruptions(run_id)
            bases = self.store.scale_bases(run_id)
        except StoreError as exc:
            recorded, spent, bases = None, None, None
            log.error("cannot read the interrupted run's limits or intents", error=str(exc))
        budget, aftershock, problem = replay_budget(
            self.store, self.executor.budget_lock, recorded, document, spent, bases=bases
        )
        if problem:
            log.error("interrupted run: disrupting rollbacks refused", detail=problem)
        ctx = self.executor.new_context(experiment_id, run_id, aftershock, budget, dry_run=dry_run)
        # After a crash the replay only restores (scale back up, uncordon): whatever stopped
        # the run for good before the crash (a halt, a lost lease, a stop condition) may not
        # have been recorded, and the replica that ran it may still be alive, frozen.
        ctx.gate_closed = REPLAY_GATE
        return ctx
