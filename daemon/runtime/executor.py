"""One run, start to end: record its start, run the engine, record its end.

What happens synchronously at a run's end, on the run's thread, before its slot is released
(`finish`): the entry's last outcome (the API, the metrics collector and the next trigger read
it) and the history's end-of-run write registered in `PendingWrites`, so it is durable and
retried whatever becomes of the listeners. Everything else (metrics counters, the history
write itself, notifications) is done by the listeners, after the slot is released.
"""

from __future__ import annotations

import secrets as token_source
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from daemon.catalog.extension import AftershockSettings
from daemon.engine.budget import RunBudget
from daemon.engine.context import RunContext
from daemon.engine.runner import Runner
from daemon.kube.client import Kube
from daemon.listeners import RunEnded
from daemon.logging import get_logger, run_context
from daemon.outcomes import Outcome
from daemon.runtime.active_runs import ActiveRuns
from daemon.runtime.builtin_listeners import finish_key, finish_write, rollbacks_cut
from daemon.runtime.catalog import Catalog
from daemon.settings import Settings
from daemon.store.history import HistoryStore, StoreError
from daemon.store.pending import PendingWrites

log = get_logger("aftershock.daemon")


def new_run_id(experiment_id: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{experiment_id}-{stamp}-{token_source.token_hex(2)}"


class RunExecutor:
    def __init__(
        self,
        settings: Settings,
        *,
        kube: Kube | None,
        store: HistoryStore,
        pending: PendingWrites,
        catalog: Catalog,
        active: ActiveRuns,
        environ: dict[str, str],
        disruption_check: Callable[[], str | None],
        halted: Callable[[], str | None],
        stopping: threading.Event,
        holder: str = "",
    ):
        self.settings = settings
        self.holder = holder  # this replica's identity, named on the cordons its runs make
        self.kube = kube
        self.store = store
        self.pending = pending
        self.catalog = catalog
        self.active = active
        self.environ = environ
        self.disruption_check = disruption_check  # right before every kill
        self.halted = halted  # before the run starts and each activity
        self.stopping = stopping
        # One lock for every run's budget, so concurrent runs plan against each other's
        # intents too (and interrupted runs' replays against theirs).
        self.budget_lock = threading.RLock()

    def new_context(
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
            disruption_check=self.disruption_check,
            holder=self.holder,
        )

    def run(
        self,
        experiment_id: str,
        trigger: str,
        *,
        run_id: str | None = None,
        started: threading.Event | None = None,
        recorded: list[bool] | None = None,
    ) -> RunEnded | None:
        """Run the experiment's version in force now, on this thread. Returns what the
        listeners are to be told (None: the run did not start). Never raises for the run's
        own failures: the history row is finished either way (I8)."""
        run_id = run_id or new_run_id(experiment_id)
        if self.stopping.is_set():
            return None
        loaded = self.catalog.claim(experiment_id, run_id)
        if loaded is None:
            return None
        dry_run = self.settings.safety.dry_run or bool(loaded.settings.dry_run)
        # One budget per run, recorded in the history before each act.
        budget = RunBudget(self.store, lock=self.budget_lock)
        ctx = self.new_context(experiment_id, run_id, loaded.settings, budget, dry_run=dry_run)
        # Visible to stop_runs (halt, shutdown, leadership loss) before anything happens.
        self.active.add(run_id, ctx, threading.current_thread())
        began = time.time()
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
                        cooldown=max(
                            self.settings.safety.cooldown,
                            loaded.settings.blast_radius.cooldown or timedelta(0),
                        ),
                    )
                except StoreError as exc:
                    log.error("run not started: it could not be recorded", error=str(exc))
                    return None
                if recorded is not None:
                    recorded.append(True)
                if started is not None:
                    started.set()
                try:
                    result = Runner(
                        ctx,
                        loaded.raw,
                        progress=lambda event, fields: log.debug(event, **fields),
                        halted=self.halted,
                    ).run()
                except Exception as exc:  # the Runner never raises; if it ever does, the
                    # row is still finished, never left `running` (I8)
                    log.exception("run crashed", experiment=experiment_id)
                    with ctx.lock:
                        record = {**ctx.record, "error": f"{type(exc).__name__}: {exc}"}
                    journal = {"status": "failed", "deviated": False, "aftershock": record}
                    return self.finish(
                        experiment_id, run_id, journal, Outcome.FAILED, "internal_error",
                        began=began, trigger=trigger,
                    )  # fmt: skip
                return self.finish(
                    experiment_id, run_id, result.journal, Outcome(result.outcome), result.reason,
                    began=began, trigger=trigger,
                )  # fmt: skip
        finally:
            self.active.remove(run_id)
            self.catalog.release(experiment_id)

    def finish(
        self,
        experiment_id: str,
        run_id: str,
        journal: dict[str, Any],
        outcome: Outcome,
        reason: str,
        *,
        began: float,
        trigger: str,
    ) -> RunEnded:
        """The synchronous part of a run's end (see the module's docstring)."""
        record = journal.get("aftershock") or {}
        ended = time.time()
        experiment = self.catalog.record_end(
            experiment_id, run_id, outcome, reason, ended=ended, recovery=record.get("recovery", [])
        )
        run = RunEnded(
            experiment_id=experiment_id,
            run_id=run_id,
            outcome=outcome,
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
        # Durable before anything else can happen: written by the history listener, else by
        # housekeeping, else by stop(). Disruptions are already in the history (I4). A run
        # whose rollbacks were cut short stays `running`: the next start replays them.
        if rollbacks_cut(journal):
            log.warning("rollbacks cut short; the run stays interrupted, to be replayed")
        else:
            self.pending.keep(finish_key(run_id), finish_write(self.store, run))
        log.info(
            "run finished",
            outcome=str(outcome),
            reason=reason,
            dry_run=record.get("dry_run"),
            disrupted=len(record.get("disrupted", [])),
            duration=round(float(journal.get("duration") or 0), 3),
        )
        return run

    def abandon(self, run_id: str, ctx: RunContext) -> None:
        """A run still going at the shutdown bound: its rollbacks may not have played, so it
        is not recorded as ended. Its row stays `running`: the next start (or leader) replays
        its rollbacks, which only restore, and records it `aborted` / `interrupted`."""
        with ctx.lock:
            disrupted = len(ctx.record.get("disrupted", []))
            abandoned = list(ctx.record.get("abandoned", []))
        log.error(
            "run abandoned at the shutdown bound; its rollbacks are replayed at the next start",
            run_id=run_id,
            disrupted=disrupted,
            abandoned=abandoned,
        )
