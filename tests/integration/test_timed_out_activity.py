"""Hostile review F3: a kill activity that times out stops killing. Its provider thread is
cancelled (checked right before each request), the run waits for its in-flight request, and
every pod it did disrupt is journaled and tracked for recovery. From the simulator's timeline."""

from __future__ import annotations

import time

from daemon.catalog.extension import AftershockSettings
from daemon.engine.context import RunContext
from daemon.engine.runner import Runner
from daemon.kube.client import Connection, Kube
from tests.integration.conftest import wait_for
from tests.integration.engine_helpers import run_experiment, settings
from tests.integration.test_guarded_scale import started

SLOW_DELETES = {
    "rules": [
        {
            "verb": "delete",
            "resource": "pods",
            "namespace": "shop",
            "error_rate": 0,
            "latency": "4s",
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
    experiment = {"title": "t", "description": "d", "method": [kill_two(2)], "rollbacks": []}
    result = run_experiment(sim, experiment, aftershock={"blast_radius": {"max_pods": 2}})
    ended = time.time()
    time.sleep(9)  # longer than two slow deletes: anything still being sent would land now
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


def test_a_disruption_the_run_could_not_wait_for_is_recovery_unmeasured(make_sim) -> None:
    """The shutdown bound cuts the wait for the in-flight delete: the run cannot say what
    that delete did, so it does not pass: failed / recovery_unmeasured, never a verdict."""
    sim = started(make_sim)
    sim.control("PUT", "/sim/v1/faults", {"rules": [{**SLOW_DELETES["rules"][0], "latency": "4s"}]})
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=5))
    ctx = RunContext(
        experiment_id="t",
        run_id="t-run",
        settings=settings(),
        aftershock=AftershockSettings.model_validate({"blast_radius": {"max_pods": 2}}),
        kube=kube,
        seed=1,
        dry_run=False,
        environ={},
        deadline=time.monotonic() + 2,
    )
    experiment = {"title": "t", "description": "d", "method": [kill_two(20)], "rollbacks": []}
    try:
        result = Runner(ctx, experiment).run()
        wait_for(lambda: len(sim.timeline()) >= 1, 10, "the in-flight delete to land")
    finally:
        kube.close()
    time.sleep(5)
    assert len(sim.timeline()) == 1  # only the delete already in flight; nothing after it
    assert (result.outcome, result.reason) == ("failed", "recovery_unmeasured")
    assert "recovery not measured" in result.journal["aftershock"]["error"]


def test_a_timed_out_scale_down_is_waited_for_and_journaled(make_sim) -> None:
    sim = started(make_sim)
    slow_scale = {
        "verb": "patch",
        "resource": "deployments.apps",
        "namespace": "shop",
        "latency": "4s",
    }
    sim.control("PUT", "/sim/v1/faults", {"rules": [slow_scale]})
    scale_down = {
        "type": "action",
        "name": "scale-web4-2",
        "timeout": 2,
        "provider": {
            "type": "python",
            "module": "chaosk8s.deployment.actions",
            "func": "scale_deployment",
            "arguments": {"name": "web4", "replicas": 2, "ns": "shop"},
        },
    }
    experiment = {"title": "t", "description": "d", "method": [scale_down], "rollbacks": []}
    result = run_experiment(sim, experiment, aftershock={"blast_radius": {"max_pods": 2}})
    at_end = int(sim.apps.read_namespaced_deployment("web4", "shop").spec.replicas)
    time.sleep(5)
    assert int(sim.apps.read_namespaced_deployment("web4", "shop").spec.replicas) == at_end == 2
    record = result.journal["aftershock"]
    assert [d["method"] for d in record["disrupted"]] == ["scale", "scale"]
    assert result.journal["run"][0]["status"] == "failed"  # it took too long: chaoslib's rule
    assert (result.outcome, result.reason) == ("failed", "activity_failed")
