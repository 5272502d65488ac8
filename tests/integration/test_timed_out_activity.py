"""Hostile review F3: a kill activity that times out stops killing. Its provider thread is
cancelled (checked right before each request), the run waits for its in-flight request, and
every pod it did disrupt is journaled and tracked for recovery. From the simulator's timeline."""

from __future__ import annotations

import time

from tests.integration.engine_helpers import run_experiment
from tests.integration.test_guarded_scale import started

SLOW_DELETES = {
    "rules": [
        {
            "verb": "delete",
            "resource": "pods",
            "namespace": "shop",
            "error_rate": 0,
            "latency": "2s",
        }
    ]
}


def kill_two(timeout: float) -> dict:
    return {
        "type": "action",
        "name": "kill-two-web4",
        "timeout": timeout,
        "provider": {
            "type": "python",
            "module": "aftershock.pods",
            "func": "kill",
            "arguments": {
                "ns": "shop",
                "label_selector": "app=web4",
                "mode": "fixed",
                "value": 2,
            },
        },
    }


def test_a_timed_out_kill_sends_nothing_after_it_and_journals_what_it_did(make_sim) -> None:
    sim = started(make_sim)  # web4: 4 replicas, no PodDisruptionBudget
    sim.control("PUT", "/sim/v1/faults", SLOW_DELETES)
    experiment = {"title": "t", "description": "d", "method": [kill_two(1)], "rollbacks": []}
    result = run_experiment(sim, experiment, aftershock={"blast_radius": {"max_pods": 2}})
    ended = time.time()
    time.sleep(5)  # longer than two slow deletes: anything still being sent would land now
    timeline = sim.timeline()
    assert all(d["requested_at"] <= ended for d in timeline), (timeline, ended)
    assert len(timeline) == 1  # cancelled once the activity timed out: the second never sent
    record = result.journal["aftershock"]
    journaled = sorted(d["pod"] for d in record.get("disrupted", []))
    assert journaled == sorted(f"{d['namespace']}/{d['pod']}" for d in timeline)
    recovery = record.get("recovery") or []
    assert [(r["namespace"], r["name"]) for r in recovery] == [("shop", "web4")]
    assert recovery[0]["measured"]
    assert result.outcome == "failed"
    assert result.journal["run"][0]["status"] == "failed"
