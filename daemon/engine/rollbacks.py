"""Rollbacks: when chaoslib's strategy plays them, and aftershock's one deviation from it
(a run aftershock itself stopped plays them under every strategy but `never`: chaos must
not stay)."""

from __future__ import annotations

from typing import Any

from daemon.engine.activities import Activities
from daemon.engine.errors import InvalidRun
from daemon.engine.run_state import RunState
from daemon.engine.threads import failed_record


class Rollbacks:
    def __init__(self, state: RunState, activities: Activities):
        self.state = state
        self.activities = activities

    def play(self, journal: dict[str, Any], *, force: bool = False) -> None:
        """Into journal["rollbacks"], if the strategy says so (`force`: after a crash)."""
        state, ctx = self.state, self.state.ctx
        state.rollbacks_played = True
        strategy = state.rollback_strategy
        status = journal["status"]
        # Deliberate deviation from chaoslib: when aftershock itself stopped the run (stop
        # condition, halt, shutdown), every strategy but `never` plays rollbacks, as after a
        # crash: the run was cut, chaos must not stay behind.
        stopped_by_us = ctx.stop.is_set()
        play = (
            ((force or stopped_by_us) and strategy != "never")
            or strategy == "always"
            or (strategy == "default" and status not in ("failed", "interrupted"))
            or (strategy == "deviated" and journal["deviated"])
        )
        if not play or not state.experiment.get("rollbacks"):
            return
        state.progress("rollbacks", {"strategy": strategy})
        stopped = ctx.stop.is_set()
        why = (ctx.stop_reason, ctx.stop_detail)
        if stopped:  # rollbacks must run even when the run was stopped (disruptions still ask
            ctx.stop.clear()  # the gate right before their request: see disruption_blocked)
        try:
            for activity in state.experiment.get("rollbacks") or []:
                journal["rollbacks"].append(self.activities.run(activity, "rollback"))
        finally:
            if stopped:  # the run stopped for its first reason, whatever rollbacks met
                with ctx.lock:
                    ctx.stop_reason, ctx.stop_detail = why
                    ctx.stop.set()

    def only(self) -> list[dict[str, Any]]:
        """For a run interrupted by a crash: its rollbacks' records (unless strategy `never`)."""
        state = self.state
        if state.rollback_strategy == "never" or not state.experiment.get("rollbacks"):
            return []
        try:
            state.load()
        except InvalidRun as exc:  # (a variable or secret missing at this start, say)
            state.unplayable = str(exc)
            return [failed_record({"name": "configuration"}, str(exc))]
        return [
            state.redact(self.activities.run(activity, "rollback"))
            for activity in state.experiment["rollbacks"]
        ]
