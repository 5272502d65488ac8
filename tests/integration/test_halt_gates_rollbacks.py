"""Hostile review F2 and F11b: halt closes the gate every disruption asks right before its
request, in every phase, rollbacks included. A rollback that disrupts (scale-down, kill) is
not sent while halted and is recorded failed with the reason; a rollback that only restores
(scale back up to what this run scaled from) still runs. Asserted from the simulator."""

from __future__ import annotations

import time
from typing import Any

from tests.integration.engine_helpers import halted_after, run_experiment
from tests.integration.test_guarded_scale import cluster, replicas, scale, started

KILL_WEB4 = {
    "type": "action",
    "name": "kill-web4",
    "provider": {
        "type": "python",
        "module": "aftershock.pods",
        "func": "kill",
        "arguments": {"ns": "shop", "label_selector": "app=web4", "mode": "one"},
    },
}


def slow_get(sim) -> dict[str, Any]:
    """A harmless method activity that keeps the run busy while the halt arrives."""
    return {
        "type": "probe",
        "name": "get-webapp",
        "provider": {"type": "http", "url": sim.sim.service_url("shop", "webapp"), "timeout": 3},
        "pauses": {"after": 8},
    }


def test_halt_refuses_disrupting_rollbacks(make_sim) -> None:
    sim = started(make_sim)
    assert cluster()  # the same cluster: web4 has 4 replicas in the opted-in namespace
    experiment = {
        "title": "halt in rollbacks",
        "description": "d",
        "method": [slow_get(sim)],
        "rollbacks": [scale("web4", 2), KILL_WEB4],
    }
    begun = time.monotonic()
    result = run_experiment(
        sim,
        experiment,
        halted=halted_after(2),
        aftershock={"blast_radius": {"max_pods": 4}},
    )
    assert time.monotonic() - begun < 8, "the halt interrupted the pause"
    # Ground truth: nothing was disrupted, nothing scaled down.
    assert sim.timeline() == []
    assert replicas(sim, "web4", "shop") == 4
    assert (result.outcome, result.reason) == ("aborted", "halted")
    rollbacks = result.journal["rollbacks"]
    assert [r["status"] for r in rollbacks] == ["failed", "failed"]  # never "succeeded" (F11b)
    for record in rollbacks:
        assert "halted" in record["exception"][-1], record["exception"]
    assert result.journal["aftershock"].get("disrupted", []) == []


def test_a_restoring_rollback_still_runs_while_halted(make_sim) -> None:
    sim = started(make_sim)
    experiment = {
        "title": "restore while halted",
        "description": "d",
        "method": [scale("web4", 2), slow_get(sim)],
        "rollbacks": [scale("web4", 4)],
    }
    result = run_experiment(
        sim,
        experiment,
        halted=halted_after(3),
        aftershock={"blast_radius": {"max_pods": 4}},
    )
    assert (result.outcome, result.reason) == ("aborted", "halted")
    assert result.journal["run"][0]["status"] == "succeeded"  # scaled down before the halt
    assert result.journal["rollbacks"][0]["status"] == "succeeded"
    assert replicas(sim, "web4", "shop") == 4  # restored to what the run scaled down from


def test_a_rollback_kill_refused_by_the_halt_is_recorded_failed(make_sim) -> None:
    sim = started(make_sim)
    experiment = {
        "title": "halted rollback kill",
        "description": "d",
        "method": [slow_get(sim)],
        "rollbacks": [KILL_WEB4],
    }
    result = run_experiment(sim, experiment, halted=halted_after(1))
    assert sim.timeline() == []
    record = result.journal["rollbacks"][0]
    assert record["status"] == "failed", record  # not `succeeded` with {"killed": []}
    assert record["output"] is None
    assert "not sent" in record["exception"][-1]
    assert "halted" in record["exception"][-1]
