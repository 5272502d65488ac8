"""The steady-state hypothesis: its probes against their tolerances, before, during
(a thread, every `frequency` seconds, with fail_fast) and after the method."""

from __future__ import annotations

from typing import Any

from daemon.engine.activities import Activities
from daemon.engine.errors import ActivityFailed
from daemon.engine.run_state import RunState
from daemon.engine.tolerances import within_tolerance
from daemon.records import HypothesisCheck

BEFORE = ("default", "before-method-only", "continuously")
AFTER = ("default", "after-method-only", "continuously")
DURING = ("during-method-only", "continuously")


def status_from(state: dict[str, Any]) -> str:
    """chaoslib 1.44: an errored probe fails the run; a tolerance miss leaves it completed."""
    return "failed" if any(p["status"] != "succeeded" for p in state["probes"]) else "completed"


class Hypothesis:
    def __init__(self, state: RunState, activities: Activities):
        self.state = state
        self.activities = activities

    def check(self, phase: str) -> dict[str, Any]:
        """One pass over the probes, stopping at the first that fails or misses its tolerance;
        journaled as chaoslib's steady-state record and in the record's `hypothesis_checks`."""
        state, ctx = self.state, self.state.ctx
        hypothesis = state.experiment.get("steady-state-hypothesis") or {}
        result: dict[str, Any] = {"steady_state_met": None, "probes": []}
        state.progress("hypothesis", {"phase": phase, "title": hypothesis.get("title")})
        for probe in hypothesis.get("probes") or []:
            resolved = state.by_name.get(probe["ref"], probe) if "ref" in probe else probe
            run = self.activities.run(probe, f"hypothesis {phase}")
            result["probes"].append(run)
            if run["status"] == "failed":
                run["tolerance_met"] = False
                result["steady_state_met"] = False
                break
            met, why = within_tolerance(
                resolved.get("tolerance"),
                run["output"],
                configuration=ctx.configuration,
                secrets=ctx.secrets,
                run_probe=self._tolerance_probe,
            )
            run["tolerance_met"] = met
            if not met:
                run["aftershock_tolerance"] = why
                result["steady_state_met"] = False
                break
        else:
            result["steady_state_met"] = True
        state.progress("hypothesis_result", {"phase": phase, "met": result["steady_state_met"]})
        check = HypothesisCheck(
            phase=phase,
            met=result["steady_state_met"],
            errored=any(p["status"] == "failed" for p in result["probes"]),
        )
        ctx.append("hypothesis_checks", check.to_json())
        return result

    def _tolerance_probe(self, tolerance: dict[str, Any], value: Any) -> Any:
        record = self.activities.run(tolerance, "tolerance", {"value": value})
        if record["status"] != "succeeded":
            raise ActivityFailed(record["exception"][-1])
        return record["output"]

    def during(self, journal: dict[str, Any]) -> None:
        """The `during` thread: checks until the method is done; fail_fast aborts the method
        once the share of failed checks reaches its ratio."""
        state = self.state
        failures, iteration = 0, 0
        while not state.done.is_set() and not state.ctx.stop.is_set():
            iteration += 1
            result = self.check("during")
            journal["steady_states"]["during"].append(result)
            if not result["steady_state_met"]:
                failures += 1
                state.during_failed = True
                ratio = failures / iteration
                if state.fail_fast_ratio is not None and ratio >= state.fail_fast_ratio:
                    state.method_abort.set()
                    return
            state.done.wait(state.frequency)
