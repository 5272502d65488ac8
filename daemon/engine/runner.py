"""One run of one experiment, with chaoslib 1.44's semantics and aftershock's additions.

Hypothesis before → method (with the hypothesis during, stop conditions and halt watched
alongside) → hypothesis after → recovery → rollbacks → end of run → verdict → journal.
Chaos Toolkit's `status` and `deviated` are computed as chaoslib computes them, so a journal
compares with `chaos run`'s; the aftershock `outcome` (docs/running.md, "Outcomes and exit
codes"; daemon/engine/verdict.py) is stricter and explains itself. Nothing here raises: every
failure becomes a journaled record.

`Runner` is the entry point and the order of the phases; the phases are its parts:
activities.py (one activity, the method), hypothesis.py, stop_monitor.py, rollbacks.py,
verdict.py (pure), cleanup.py (the end of every run, with RunContext.cleanups).
"""

from __future__ import annotations

import copy
import platform
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from daemon import __version__
from daemon.catalog import checks as catalog_checks
from daemon.engine import cordons
from daemon.engine.activities import Activities
from daemon.engine.cleanup import end_of_run
from daemon.engine.context import RunContext
from daemon.engine.errors import InvalidRun
from daemon.engine.hypothesis import AFTER, BEFORE, DURING, Hypothesis, status_from
from daemon.engine.redact import redact_journal
from daemon.engine.rollbacks import Rollbacks
from daemon.engine.run_state import Progress, RunState
from daemon.engine.stop_monitor import StopMonitor
from daemon.engine.substitution import substitute
from daemon.engine.threads import iso, wait_seconds
from daemon.engine.verdict import RunFacts, decide, untracked
from daemon.outcomes import Outcome

__all__ = ["Outcome", "Progress", "RunResult", "Runner", "wait_seconds"]


@dataclass
class RunResult:
    journal: dict[str, Any]
    outcome: Outcome
    reason: str


class Runner:
    def __init__(
        self,
        ctx: RunContext,
        experiment: dict[str, Any],
        *,
        var_overrides: dict[str, Any] | None = None,
        secret_overrides: dict[str, dict[str, Any]] | None = None,
        progress: Progress | None = None,
        halted: Callable[[], str | None] | None = None,
    ):
        self.ctx = ctx
        self.experiment = copy.deepcopy(experiment)  # runs never share mutable state
        self.halted = halted or (lambda: None)
        # The halt switch joins the check every disruption makes right before its request, in
        # every phase (rollbacks too), not only the check before each activity (F2).
        check = ctx.disruption_check
        ctx.disruption_check = lambda: "halted" if self.halted() else check()
        self.state = RunState(
            ctx,
            self.experiment,
            progress=progress or (lambda _event, _fields: None),
            halted=self.halted,
            var_overrides=var_overrides,
            secret_overrides=secret_overrides,
        )
        self.progress = self.state.progress
        self.stops = StopMonitor(self.state)
        self.activities = Activities(self.state, self.stops)
        self.hypothesis = Hypothesis(self.state, self.activities)
        self.rollbacks = Rollbacks(self.state, self.activities)

    # ------------------------------------------------------------------ entry points

    def rollbacks_only(self) -> list[dict[str, Any]]:
        """For a run interrupted by a crash: play its rollbacks (unless strategy `never`),
        then take back its cordons (node drills: always, whatever the strategy)."""
        try:
            records = self._rollbacks_only()
        except BaseException:
            cordons.replay_release(self.ctx)  # node drills: always uncordon
            raise
        return records + cordons.replay_release(self.ctx)  # node drills: always uncordon

    @property
    def unplayable(self) -> str:
        """After rollbacks_only: why the rollbacks could not be loaded at all ('' if they
        were played): such a run must stay interrupted, to be replayed when they can."""
        return self.state.unplayable

    def _rollbacks_only(self) -> list[dict[str, Any]]:
        try:
            return self.rollbacks.only()
        finally:
            end_of_run(self.ctx)  # an abandoned provider thread sends nothing more

    def run(self) -> RunResult:
        ctx, state = self.ctx, self.state
        started = time.time()
        journal: dict[str, Any] = {
            "chaoslib-version": None,
            "aftershock-version": __version__,
            "platform": platform.platform(),
            "node": platform.node(),
            "experiment": self.experiment,
            "start": iso(started),
            "status": None,
            "deviated": False,
            "steady_states": {"before": None, "after": None, "during": []},
            "run": [],
            "rollbacks": [],
        }
        ctx.record.update(
            {
                "experiment_id": ctx.experiment_id,
                "run_id": ctx.run_id,
                "seed": ctx.seed,
                "dry_run": ctx.dry_run,
                "strategy": state.strategy,
                "rollback_strategy": state.rollback_strategy,
            }
        )
        try:
            outcome, reason = self._run(journal)
        except Exception as exc:  # noqa: BLE001 - nothing escapes a run (I8)
            outcome, reason = self._crashed(journal, exc)
        end_of_run(ctx)  # the one place every run ends: see daemon/engine/cleanup.py
        journal["end"] = iso(time.time())
        journal["duration"] = time.time() - started
        if journal["status"] not in ("completed", "failed", "aborted", "interrupted"):
            journal["status"] = "completed"
        ctx.record["outcome"] = outcome.value
        ctx.record["reason"] = reason
        journal["aftershock"] = ctx.record
        self.progress(
            "finished",
            {
                "outcome": outcome.value,
                "reason": reason,
                "status": journal["status"],
                "deviated": journal["deviated"],
            },
        )
        return RunResult(redact_journal(journal, state.needles()), outcome, reason)

    def _crashed(self, journal: dict[str, Any], exc: Exception) -> tuple[Outcome, str]:
        """An unexpected error: the run ends `failed`, its rollbacks played, what it disrupted
        is already recorded (intents)."""
        self.ctx.record["error"] = f"internal error: {type(exc).__name__}: {exc}"
        self.ctx.record["traceback"] = traceback.format_exception(type(exc), exc, exc.__traceback__)
        journal["status"] = "failed"
        self.state.done.set()
        if not self.state.rollbacks_played:
            try:
                self.rollbacks.play(journal, force=True)
            except Exception as again:  # noqa: BLE001 - recorded, the run still ends
                self.ctx.record["rollback_error"] = f"{type(again).__name__}: {again}"
        return Outcome.FAILED, "internal_error"

    # ------------------------------------------------------------------ the phases, in order

    def _prepare(self, journal: dict[str, Any]) -> tuple[Outcome, str] | None:
        """Configuration, secrets, the values they resolve to, halt and stop conditions:
        everything that can end a run before it touches anything."""
        ctx = self.ctx
        try:
            self.state.load()
        except InvalidRun as exc:
            journal["status"] = "failed"
            ctx.record["error"] = str(exc)
            return Outcome.FAILED, "invalid_configuration"
        # Values from templates obey the rules the file's literal values obey: before any act.
        invalid = catalog_checks.resolved_problems(
            self.experiment, lambda data: substitute(data, ctx.configuration, ctx.secrets)
        )
        if invalid:
            journal["status"] = "failed"
            ctx.record["error"] = "invalid value after substitution: " + "; ".join(invalid[:20])
            return Outcome.FAILED, "invalid_configuration"
        self.experiment["title"] = substitute(
            self.experiment.get("title"), ctx.configuration, ctx.secrets
        )
        self.progress(
            "started", {"title": self.experiment["title"], "dry_run": ctx.dry_run, "seed": ctx.seed}
        )
        halted = self.halted()
        if halted:
            journal["status"] = "aborted"
            ctx.record["error"] = f"halted: {halted}"
            return Outcome.ABORTED, "halted"
        preflight = self.stops.once()
        if preflight is not None:
            journal["status"] = "aborted"
        return preflight

    def _run(self, journal: dict[str, Any]) -> tuple[Outcome, str]:
        early = self._prepare(journal)
        if early is not None:
            return early
        state = self.state
        probes = (self.experiment.get("steady-state-hypothesis") or {}).get("probes") or []
        has_ssh = bool(probes)
        not_steady = False
        if has_ssh and state.strategy in BEFORE:
            before = self.hypothesis.check("before")
            journal["steady_states"]["before"] = before
            if not before["steady_state_met"]:
                journal["status"] = status_from(before)
                not_steady = True
        monitor = threading.Thread(target=self.stops.watch, name="aftershock-monitor", daemon=True)
        if not not_steady:
            monitor.start()
            self._method_and_after(journal, has_ssh)
        self.rollbacks.play(journal)
        state.done.set()
        if monitor.is_alive():
            monitor.join(timeout=2)
        return self._verdict(journal, not_steady)

    def _method_and_after(self, journal: dict[str, Any], has_ssh: bool) -> None:
        """The method with its `during` checks, then the hypothesis after and recovery."""
        ctx, state = self.ctx, self.state
        during: threading.Thread | None = None
        if has_ssh and state.strategy in DURING:
            during = threading.Thread(
                target=self.hypothesis.during,
                args=(journal,),
                name="aftershock-during",
                daemon=True,
            )
            during.start()
        self.activities.method(journal)
        state.done.set()
        if during is not None:
            during.join(timeout=state.bounded(state.frequency + state.probe_budget()))
        if state.during_failed and state.fail_fast_ratio is not None and journal["status"] is None:
            journal["status"] = "failed"
        if ctx.stop.is_set():
            journal["status"] = "interrupted"
        elif state.refusal is not None or state.fatal is not None:
            journal["status"] = "aborted" if state.fatal is None else "failed"
        elif has_ssh and state.strategy in AFTER:
            after = self.hypothesis.check("after")
            journal["steady_states"]["after"] = after
            if not after["steady_state_met"]:
                journal["deviated"] = True
                journal["status"] = status_from(after)
        self._wait_recovery()

    def _wait_recovery(self) -> None:
        ctx = self.ctx
        results = []
        for tracker in ctx.trackers:
            # In slices: a stop (halt, shutdown) or a deadline that comes during the wait
            # ends it too, keeping what was seen, as one that came before it does.
            while not ctx.stop.is_set() and tracker.running():
                remaining = ctx.remaining()
                if remaining is not None and remaining <= 0:
                    break
                tracker.wait(0.2 if remaining is None else min(0.2, remaining))
            if ctx.stop.is_set():
                tracker.stop()
            remaining = ctx.remaining()
            results.append(tracker.wait(None if remaining is None else remaining))
        ctx.record["recovery"] = [r.as_json() for r in results]
        for result in results:
            self.progress("recovery", result.as_json())

    def _verdict(self, journal: dict[str, Any], not_steady: bool) -> tuple[Outcome, str]:
        """The run's facts, the pure verdict on them, and what it adds to the journal."""
        ctx, state = self.ctx, self.state
        slo = ctx.aftershock.recovery.slo
        after = journal["steady_states"]["after"] or {}
        # Not under budget.lock: an abandoned provider may hold it for as long as it hangs.
        spent = ctx.budget.ledger.total
        facts = RunFacts(
            fatal=state.fatal,
            untracked=untracked(spent, len(ctx.record.get("disrupted", []))),
            refusal=None if state.refusal is None else state.refusal.reason,
            refusal_detail="" if state.refusal is None else state.refusal.detail,
            injected=bool(ctx.budget.injected),
            stopped=ctx.stop.is_set(),
            stop_reason=ctx.stop_reason,
            not_steady=not_steady,
            status=journal["status"],
            deviated=bool(journal["deviated"]),
            during_failed=state.during_failed,
            method_failed=state.method_failed,
            after_unobservable=any(
                p.get("aftershock_unobservable") for p in after.get("probes") or []
            ),
            recovery=tuple(ctx.record.get("recovery", [])),
            recovery_slo=None if slo is None else slo.total_seconds(),
        )
        verdict = decide(facts)
        if verdict.error:
            ctx.record["error"] = verdict.error
        if verdict.refusal is not None:
            ctx.record["refusal"] = verdict.refusal
        journal["deviated"] = verdict.deviated
        return verdict.outcome, verdict.reason
