"""Runs a crash interrupted (`running` rows at start-up): marked aborted, rollbacks played.

Done once, as soon as this replica leads, the history can be read and the persisted halt is
known (a replayed kill must see it, F1). In a thread of its own, not the leader elector's
(lease renewals go on during a slow rollback), while the launcher stays closed (no run of
this process starts before the replay is over), outside the listeners: its record is the
run's only end. Shutdown and a lost lease cut it like a run: a replay that was cut leaves
the run `running`, so the next leader or start replays it again (a replay only restores).
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
        self._lock = threading.Lock()  # one recovery at a time
        self._state = threading.Lock()  # the fields below
        self._thread: threading.Thread | None = None
        self._current: RunContext | None = None  # the replay playing now
        self._cut: tuple[str, str, float | None] | None = None  # why it must stop
        self._again = False  # leading again while a cut replay still ends: recover again
        self._unplayable = False  # a replay's rollbacks could not be loaded: not settled

    def begin(self, *, leading_again: bool = False) -> None:
        """Recover in the background (leadership gained, housekeeping's retry, a trigger).
        `leading_again`: a fresh look at the history, which another leader may have left
        with runs interrupted since this replica last led."""
        with self._state:
            if self._cut is not None and self._cut[0] == "shutdown":
                return
            if self.recovering():
                if self._cut is not None or leading_again:  # once this one ends
                    self._again = True
                return
            if leading_again:
                self.done = False
            if self.done:
                return
            self._cut = None
            self._thread = threading.Thread(
                target=self._recover_until_done, name="aftershock-replay", daemon=True
            )
            self._thread.start()

    def _recover_until_done(self) -> None:
        while True:
            self.recover_once()
            with self._state:
                if not self._again or (self._cut is not None and self._cut[0] == "shutdown"):
                    return
                self._again, self._cut, self.done = False, None, False

    def recovering(self) -> bool:
        """A replay is playing: no run of this process starts meanwhile."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def settled(self) -> bool:
        """Every run a crash interrupted has been replayed (or there was none): runs may
        start. Until then the launcher is closed and triggers answer `Recovering`."""
        return self.done and not self.recovering()

    def wait(self, timeout: float) -> bool:
        """Wait (bounded) for a recovery under way; settled() after it."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout=timeout)
        return self.settled()

    def stop(self, reason: str, detail: str, *, deadline: float | None = None) -> None:
        """Cut the replay, as stop_runs cuts a run: no further interrupted run is replayed
        and the one playing gets the stop (and the shutdown deadline, which cuts its waits)."""
        with self._state:
            if self._cut is None or self._cut[0] != "shutdown":  # shutdown is the last word
                self._cut = (reason, detail, deadline)
            ctx = self._current
        if ctx is not None:
            self._apply_cut(ctx)

    def join(self, deadline: float) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _apply_cut(self, ctx: RunContext) -> None:
        if self._cut is not None:
            reason, detail, deadline = self._cut
            if deadline is not None:
                ctx.deadline = deadline
            ctx.request_stop(reason, detail)

    def recover_once(self) -> None:
        """Interrupted runs are recovered once, as soon as this replica leads and the history
        can be read (an unreadable history at start-up is retried by housekeeping)."""
        with self._lock:
            # Not before the persisted halt is known: a replayed kill must see it (F1).
            if not self.done and self.halt_loaded():
                recovered = self._recover()
                if recovered and self.executor.settings.nodes.enabled and self._cut is None:
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
        self._unplayable = False
        for row, document in interrupted:
            if self._cut is not None:
                break
            if row.id in self.active:
                continue
            with run_context(row.experiment, row.id):
                self._recover_one(row.experiment, row.id, document, dry_run=row.dry_run)
        if self._cut is not None and self._cut[0] != "shutdown":
            self.done = False  # lease lost: recovered again if this replica leads again
        if self._unplayable:  # not replayed: no run starts, housekeeping tries again
            self.done = False
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
        with self._state:
            self._current = ctx
            self._apply_cut(ctx)
        runner = Runner(ctx, document)
        try:
            records = runner.rollbacks_only()
        finally:
            with self._state:
                self._current = None
        if runner.unplayable:  # not played: recording it ended would lose them for good
            self._unplayable = True
            log.error(
                "the interrupted run's rollbacks could not be loaded; it stays interrupted, "
                "to be replayed by the next start or leader",
                error=runner.unplayable,
            )
            return
        if self._cut is not None:
            log.warning(
                "replay cut; the run stays interrupted, to be replayed again",
                reason=self._cut[0],
            )
            return
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
            recorded = self.store.finish_run(
                run_id,
                outcome=Outcome.ABORTED,
                reason="interrupted",
                journal=journal,
                ended_at=time.time(),
            )
        except StoreError as exc:
            log.error("cannot record the interrupted run", error=str(exc))
            return
        if not recorded:  # its own replica ended it meanwhile (a shared history)
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
