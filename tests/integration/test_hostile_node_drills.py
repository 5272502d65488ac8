"""Hostile review of node drills: each test names the invariant it guards, judged from the
simulator's ground truth (its timeline and the Node objects read back through the client)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from daemon.catalog.extension import AftershockSettings
from daemon.engine.context import RunContext
from daemon.engine.runner import Runner, RunResult
from daemon.kube.client import Connection, Kube
from daemon.settings import Settings
from tests.integration.engine_helpers import PERMISSIVE
from tests.integration.test_node_drills import (
    annotated,
    cordoned,
    drain_action,
    drill_cluster,
    experiment,
    node_with,
    ready,
)


def hostile_context(
    kube: Kube,
    run_id: str,
    *,
    nodes: dict[str, Any] | None = None,
    safety: dict[str, Any] | None = None,
    activity_timeout: str = "40s",
    recovery_timeout: str = "20s",
    dry_run: bool = False,
) -> RunContext:
    """A run's context as the hostile tests drive it: permissive pod limits, drills on."""
    return RunContext(
        experiment_id="hostile",
        run_id=run_id,
        settings=Settings(
            safety={**PERMISSIVE, **(safety or {})},
            engine={"activity_timeout": activity_timeout},
            nodes={"enabled": True, **(nodes or {})},
        ),
        aftershock=AftershockSettings.model_validate({"recovery": {"timeout": recovery_timeout}}),
        kube=kube,
        seed=11,
        dry_run=dry_run,
        environ=dict(os.environ),
    )


def hostile_run(
    sim,
    document: dict,
    *,
    nodes: dict[str, Any] | None = None,
    safety: dict[str, Any] | None = None,
    run_id: str = "hostile-run",
    dry_run: bool = False,
) -> RunResult:
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=5))
    ctx = hostile_context(kube, run_id, nodes=nodes, safety=safety, dry_run=dry_run)
    try:
        return Runner(ctx, document).run()
    finally:
        kube.close()


@contextmanager
def peak_cordoned(sim) -> Iterator[list[int]]:
    """Samples the cluster's cordoned-node count while the block runs (ground truth)."""
    peak: list[int] = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak.append(len(cordoned(sim)))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield peak
    finally:
        done.set()
        watcher.join(5)


def chaosk8s(func: str, activity: str = "node-act", **arguments: Any) -> dict[str, Any]:
    return {
        "type": "action",
        "name": activity,
        "provider": {
            "type": "python",
            "module": "chaosk8s.node.actions",
            "func": func,
            "arguments": arguments,
        },
    }


def human_cordon(sim, node: str) -> None:
    sim.core.patch_node(node, {"spec": {"unschedulable": True}})


def evicted(sim) -> list[dict]:
    return [d for d in sim.timeline() if d["method"] == "evict"]


# ------------------------------------------------------------- invariant 1: max_nodes


def test_cordon_node_with_a_selector_matching_every_node_respects_max_nodes(make_sim) -> None:
    """Invariant 1: chaosk8s cordon_node with a label selector matching all four nodes must
    never have more than nodes.max_nodes (1) cordoned at once."""
    sim = make_sim(drill_cluster())
    ready(sim)
    action = chaosk8s("cordon_node", label_selector="kubernetes.io/os=linux")
    action["provider"]["arguments"] = {"label_selector": ""}
    action["pauses"] = {"after": 1}
    with peak_cordoned(sim) as peak:
        result = hostile_run(sim, experiment([action]))
    assert max(peak) <= 1, (max(peak), result.outcome, result.journal["run"][0])
    assert cordoned(sim) == []


def test_cordon_node_by_zone_selector_respects_max_nodes(make_sim) -> None:
    """Invariant 1: cordon_node matching two nodes (one zone) with max_nodes 1."""
    sim = make_sim(drill_cluster())
    ready(sim)
    action = chaosk8s("cordon_node", label_selector="topology.kubernetes.io/zone=zone-1")
    action["pauses"] = {"after": 1}
    with peak_cordoned(sim) as peak:
        result = hostile_run(sim, experiment([action]))
    assert max(peak) <= 1, (max(peak), result.outcome, result.journal["run"][0])
    assert cordoned(sim) == []


def test_two_drains_in_one_run_respect_max_nodes(make_sim) -> None:
    """Invariant 1: the first drain's cordon is held to the end of the run, so a second
    drain activity in the same run must be refused by max_nodes 1."""
    sim = make_sim(drill_cluster())
    ready(sim)
    first = drain_action(count=1)
    second = drain_action(count=1)
    second["name"] = "drain-another"
    with peak_cordoned(sim) as peak:
        result = hostile_run(sim, experiment([first, second]))
    assert max(peak) <= 1, (max(peak), result.outcome)
    assert cordoned(sim) == []


def test_drain_nodes_count_larger_than_nodes_respects_max_nodes(make_sim) -> None:
    """Invariant 1/2: chaosk8s drain_nodes with count 10 on 4 nodes, max_nodes 1."""
    sim = make_sim(drill_cluster())
    ready(sim)
    with peak_cordoned(sim) as peak:
        result = hostile_run(sim, experiment([chaosk8s("drain_nodes", count=10, timeout=20)]))
    assert max(peak) <= 1, (max(peak), result.outcome)
    assert cordoned(sim) == []


def test_percent_100_respects_max_nodes_and_min_schedulable(make_sim) -> None:
    """Invariants 1 and 2: aftershock.nodes.drain percent 100 with max_nodes 4 must still leave
    min_schedulable_nodes (1) schedulable."""
    sim = make_sim(drill_cluster())
    ready(sim)
    with peak_cordoned(sim) as peak:
        result = hostile_run(sim, experiment([drain_action(percent=100)]), nodes={"max_nodes": 4})
    assert max(peak) <= 3, (max(peak), result.outcome, result.reason)
    assert cordoned(sim) == []


# ------------------------------------------------------------- invariant 2: min schedulable


def test_min_schedulable_percent_counts_a_human_cordon(make_sim) -> None:
    """Invariant 2: 4 nodes, one cordoned by a human, min_schedulable 75% (3 nodes): a drain
    would leave 2 schedulable, so it must be refused."""
    sim = make_sim(drill_cluster())
    ready(sim)
    human_cordon(sim, "node-4")
    result = hostile_run(
        sim,
        experiment([drain_action(names=["node-1"])]),
        nodes={"min_schedulable_nodes": "75%"},
    )
    assert (result.outcome, result.reason) == ("refused", "min_schedulable_nodes"), (
        result.outcome,
        result.reason,
    )
    assert cordoned(sim) == ["node-4"]


def test_min_schedulable_percent_rounds_up(make_sim) -> None:
    """Invariant 2: 4 nodes, min_schedulable 51% means at least 3 nodes (2.04 rounded up):
    max_nodes 2 and count 2 would leave 2, so the drain must be refused."""
    sim = make_sim(drill_cluster())
    ready(sim)
    with peak_cordoned(sim) as peak:
        result = hostile_run(
            sim,
            experiment([drain_action(count=2)]),
            nodes={"min_schedulable_nodes": "51%", "max_nodes": 2},
        )
    assert max(peak) <= 1, (max(peak), result.outcome, result.reason)
    assert cordoned(sim) == []


# ------------------------------------------------------------- invariant 3: one budget


def test_max_pods_counts_pods_evicted_by_two_drains(make_sim) -> None:
    """Invariant 3: max_pods 3 for the whole run, two drains (max_nodes 2): the evictions
    across both drains never exceed 3 (ground truth)."""
    sim = make_sim(drill_cluster())
    ready(sim)
    second = drain_action(count=1)
    second["name"] = "drain-another"
    result = hostile_run(
        sim,
        experiment([drain_action(count=1), second]),
        nodes={"max_nodes": 2},
        safety={"max_pods": 3},
    )
    assert len(evicted(sim)) <= 3, (evicted(sim), result.outcome, result.reason)
    assert cordoned(sim) == []


def test_max_percent_counts_a_workload_across_two_drained_nodes(make_sim) -> None:
    """Invariant 3: max_percent 50 per workload across the run: draining two nodes must not
    take more than half of any workload's pods (ground truth)."""
    sim = make_sim(drill_cluster())
    ready(sim)
    second = drain_action(count=1)
    second["name"] = "drain-another"
    result = hostile_run(
        sim,
        experiment([drain_action(count=1), second]),
        nodes={"max_nodes": 2},
        safety={"max_percent": 50},
    )
    sizes = {"webapp": 4, "greeter": 2, "db": 2}
    per: dict[str, int] = {}
    for d in evicted(sim):
        per[d["workload_name"]] = per.get(d["workload_name"], 0) + 1
    for name, n in per.items():
        assert n <= sizes[name] * 0.5, (per, result.outcome, result.reason)


def test_drain_then_pod_kill_share_the_budget(make_sim) -> None:
    """Invariant 3: a drain followed by a pod kill in one run: max_pods 2 holds in total."""
    sim = make_sim(drill_cluster())
    ready(sim)
    kill = {
        "type": "action",
        "name": "kill-webapp",
        "provider": {
            "type": "python",
            "module": "chaosk8s.pod.actions",
            "func": "terminate_pods",
            "arguments": {"label_selector": "app=webapp", "ns": "shop", "qty": 2},
        },
    }
    result = hostile_run(sim, experiment([drain_action(count=1), kill]), safety={"max_pods": 2})
    assert len(sim.timeline()) <= 2, (sim.timeline(), result.outcome, result.reason)
    assert cordoned(sim) == []


def test_a_drain_in_the_rollbacks_counts_against_the_budget(make_sim) -> None:
    """Invariant 3: a drain in the rollbacks is still guarded by the run's max_pods."""
    sim = make_sim(drill_cluster())
    ready(sim)
    result = hostile_run(
        sim,
        experiment([drain_action(count=1)], rollbacks=[drain_action(count=1)]),
        nodes={"max_nodes": 2},
        safety={"max_pods": 3},
    )
    assert len(evicted(sim)) <= 3, (evicted(sim), result.outcome)
    assert cordoned(sim) == []


def test_chaosk8s_drain_nodes_selector_obeys_opt_in(make_sim) -> None:
    """Invariant 3: drain_nodes on a node hosting a pod of a namespace NOT opted in must be
    refused (no eviction of that pod)."""
    other = {
        "name": "other",
        "workloads": [{"name": "lonely", "replicas": 4, "labels": {"app": "lonely"}}],
    }
    sim = make_sim(drill_cluster(namespaces=[other]))
    ready(sim)
    hostile_run(sim, experiment([chaosk8s("drain_nodes", label_selector="", count=1, timeout=20)]))
    assert not [d for d in sim.timeline() if d["namespace"] == "other"], sim.timeline()
    assert cordoned(sim) == []


# ------------------------------------------------------------- invariant 4: never uncordon others


def test_uncordon_node_skips_a_node_cordoned_by_a_human(make_sim) -> None:
    """Invariant 4: uncordon_node on a node an operator cordoned must not uncordon it."""
    sim = make_sim(drill_cluster())
    ready(sim)
    human_cordon(sim, "node-2")
    result = hostile_run(sim, experiment([chaosk8s("uncordon_node", name="node-2")]))
    assert cordoned(sim) == ["node-2"], (result.outcome, result.journal["run"][0])


def test_uncordon_node_by_selector_skips_human_cordons(make_sim) -> None:
    """Invariant 4: uncordon_node with a selector matching everything leaves human cordons."""
    sim = make_sim(drill_cluster())
    ready(sim)
    human_cordon(sim, "node-2")
    human_cordon(sim, "node-3")
    hostile_run(sim, experiment([chaosk8s("uncordon_node", label_selector="")]))
    assert cordoned(sim) == ["node-2", "node-3"]


def test_drain_of_a_human_cordoned_node_is_refused_and_left_cordoned(make_sim) -> None:
    """Invariant 4: a drain naming a node a human cordoned is refused; the node stays
    cordoned after the run."""
    sim = make_sim(drill_cluster())
    ready(sim)
    human_cordon(sim, "node-2")
    result = hostile_run(sim, experiment([drain_action(names=["node-2"])]))
    assert result.outcome == "refused", (result.outcome, result.reason)
    assert evicted(sim) == []
    assert cordoned(sim) == ["node-2"]
    assert annotated(sim) == []


def test_cordon_node_on_a_human_cordoned_node_does_not_adopt_it(make_sim) -> None:
    """Invariant 4: cordon_node naming a node a human already cordoned must not take it over
    (and so must not uncordon it at the end of the run)."""
    sim = make_sim(drill_cluster())
    ready(sim)
    human_cordon(sim, "node-2")
    result = hostile_run(sim, experiment([chaosk8s("cordon_node", name="node-2")]))
    assert cordoned(sim) == ["node-2"], (result.outcome, result.journal["run"][0])


def test_uncordon_in_the_method_then_run_end_does_not_double_uncordon_a_human(
    make_sim,
) -> None:
    """Invariant 4: the run cordons node-1, uncordons it itself, then a human cordons node-1
    while the run continues: the end of run must not lift the human's cordon."""
    sim = make_sim(drill_cluster())
    ready(sim)
    uncordon = chaosk8s("uncordon_node", name="node-1")
    uncordon["name"] = "give-back"
    human = {
        "type": "action",
        "name": "wait",
        "provider": {"type": "python", "module": "time", "func": "sleep", "arguments": {"secs": 2}},
    }
    box: dict[str, RunResult] = {}
    runner = threading.Thread(
        target=lambda: box.setdefault(
            "r",
            hostile_run(sim, experiment([chaosk8s("cordon_node", name="node-1"), uncordon, human])),
        )
    )
    runner.start()
    deadline = time.monotonic() + 15
    seen_uncordon = False
    saw_cordon = False
    while time.monotonic() < deadline and runner.is_alive():
        now = cordoned(sim)
        if "node-1" in now:
            saw_cordon = True
        elif saw_cordon and not seen_uncordon:
            seen_uncordon = True
            human_cordon(sim, "node-1")
        time.sleep(0.02)
    runner.join(30)
    if seen_uncordon:
        assert cordoned(sim) == ["node-1"], box["r"].journal["aftershock"].get("uncordoned")


# ------------------------------------------------------------- invariant 5: dry run / disabled


def test_dry_run_drain_and_cordon_disrupt_nothing(make_sim) -> None:
    """Invariant 5: dry-run: no cordon, no eviction, for native and chaosk8s providers."""
    sim = make_sim(drill_cluster())
    ready(sim)
    method = [
        drain_action(count=1),
        chaosk8s("cordon_node", name="node-2"),
        chaosk8s("drain_nodes", name="node-3", timeout=20),
    ]
    with peak_cordoned(sim) as peak:
        hostile_run(sim, experiment(method), dry_run=True, safety={"dry_run": True})
    assert max(peak) == 0
    assert sim.timeline() == []


def test_disabled_refuses_chaosk8s_cordon_and_uncordon(make_sim) -> None:
    """Invariant 5: nodes.enabled false refuses the chaosk8s cordon_node too."""
    sim = make_sim(drill_cluster())
    ready(sim)
    with peak_cordoned(sim) as peak:
        hostile_run(
            sim,
            experiment([chaosk8s("cordon_node", name="node-2")]),
            nodes={"enabled": False},
        )
    assert max(peak) == 0


# ------------------------------------------------------------- hostile arguments


def test_odd_argument_types_are_refused_cleanly(make_sim) -> None:
    """Bad input: odd argument types cordon nothing and never exceed max_nodes."""
    sim = make_sim(drill_cluster())
    ready(sim)
    odd: list[dict[str, Any]] = [
        {"count": -1},
        {"count": "2"},
        {"count": 0},
        {"percent": 150},
        {"percent": -5},
        {"names": "node-1"},
        {"names": [1, 2]},
        {"names": ["node-1", "node-1"]},
        {"count": True},
        {"timeout": "-5s"},
        {"label_selector": "!!!bad"},
        {"count": 1.5},
    ]
    outcomes = []
    for arguments in odd:
        with peak_cordoned(sim) as peak:
            result = hostile_run(
                sim,
                experiment(
                    [
                        {
                            **drain_action(),
                            "provider": {**drain_action()["provider"], "arguments": arguments},
                        }
                    ]
                ),
                run_id=f"odd-{len(outcomes)}",
            )
        outcomes.append((arguments, result.outcome, result.reason, max(peak)))
        assert max(peak) <= 1, outcomes
        assert cordoned(sim) == [], outcomes
        ready(sim)


def test_templated_arguments_resolve_before_the_guard(make_sim) -> None:
    """Invariant 1: a `${count}` template resolving to 3 is still capped by max_nodes 1."""
    sim = make_sim(drill_cluster())
    ready(sim)
    document = experiment([drain_action(count="${count}")])
    document["configuration"] = {"count": 3}
    with peak_cordoned(sim) as peak:
        result = hostile_run(sim, document)
    assert max(peak) <= 1, (max(peak), result.outcome, result.reason)
    assert cordoned(sim) == []


# ------------------------------------------------------------- concurrency and timeouts


def test_two_runs_started_together_never_exceed_max_nodes(make_sim) -> None:
    """Invariant 1: two runs whose drains start at the same instant (no pause between them):
    the guard's count-then-cordon must not let both cordon (max_nodes 1), ground truth."""
    sim = make_sim(drill_cluster())
    ready(sim)
    worst = 0
    for attempt in range(4):
        barrier = threading.Barrier(2)
        results: dict[str, RunResult] = {}

        def go(
            run_id: str,
            barrier: threading.Barrier = barrier,
            results: dict[str, RunResult] = results,
            attempt: int = attempt,
        ) -> None:
            action = drain_action(count=1)
            action["pauses"] = {"after": 1}
            document = experiment([action])
            document["steady-state-hypothesis"]["probes"] = []
            barrier.wait(10)
            results[run_id] = hostile_run(sim, document, run_id=f"{run_id}-{attempt}")

        with peak_cordoned(sim) as peak:
            threads = [threading.Thread(target=go, args=(r,)) for r in ("a", "b")]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        worst = max(worst, *peak)
        assert worst <= 1, (attempt, worst, {k: (v.outcome, v.reason) for k, v in results.items()})
        assert cordoned(sim) == []
        ready(sim)


def test_activity_timeout_mid_drain_uncordons(make_sim) -> None:
    """Invariant 4: an activity timeout while the drain retries a blocked PDB eviction must
    still uncordon the node (at the latest at the end of the run)."""
    sim = make_sim(drill_cluster())
    ready(sim)
    sim.policy.patch_namespaced_pod_disruption_budget(
        "webapp", "shop", {"spec": {"minAvailable": 4}}
    )
    time.sleep(1)
    target = node_with(sim, "webapp")
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=5))
    ctx = hostile_context(kube, "timeout-run", activity_timeout="2s", recovery_timeout="5s")
    try:
        result = Runner(ctx, experiment([drain_action(names=[target], timeout="30s")])).run()
    finally:
        kube.close()
    time.sleep(1)
    assert cordoned(sim) == [], (result.outcome, result.reason)
    assert annotated(sim) == []
    assert not [d for d in sim.timeline() if d["workload_name"] == "webapp"]


# ------------------------------------------------------------- schedulable means schedulable


def test_min_schedulable_does_not_count_a_tainted_control_plane_node(make_sim) -> None:
    """Invariant 2 (BREAK): a control-plane node tainted NoSchedule takes no workload pods, yet
    the floor counts it as schedulable. One control plane + 2 workers, min_schedulable 2:
    draining a worker leaves ONE node pods can land on, so the drain must be refused.
    Found: daemon/safety/nodes.py plan_nodes counts `not is_cordoned and node_ready`, ignoring
    the control-plane rule it applies to candidates and NoSchedule taints."""
    nodes = [
        {
            "name": "cp",
            "labels": {"node-role.kubernetes.io/control-plane": ""},
            "taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}],
        },
        {"name": "node-1"},
        {"name": "node-2"},
    ]
    sim = make_sim(drill_cluster(nodes))
    ready(sim)
    result = hostile_run(
        sim,
        experiment([drain_action(names=["node-1"])]),
        nodes={"min_schedulable_nodes": 2},
    )
    assert (result.outcome, result.reason) == ("refused", "min_schedulable_nodes"), (
        result.outcome,
        result.reason,
        evicted(sim),
    )
    assert evicted(sim) == []


# ------------------------------------------------------------- invariant 6: operator owners


def _with_kafka(nodes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec = drill_cluster(nodes)
    spec["namespaces"][0]["workloads"].append(
        {
            "name": "kafka",
            "kind": "Operator",
            "replicas": 3,
            "labels": {"app": "kafka"},
            "grace_period": 1,
            "operator": {"naming": "stable", "recreate_delay": "300ms"},
        }
    )
    return spec


def test_drains_never_take_an_operator_owner_below_min_ready(make_sim) -> None:
    """Invariant 6: kafka (3 pods owned by a StrimziPodSet), min_ready_replicas 2: two drains
    over the run (max_nodes 2) may evict at most one kafka pod in total (ground truth)."""
    sim = make_sim(_with_kafka())
    ready(sim)
    second = {**drain_action(names=["node-2"]), "name": "drain-another"}
    result = hostile_run(
        sim,
        experiment([drain_action(names=["node-1"]), second]),
        nodes={"max_nodes": 2},
        safety={"min_ready_replicas": 2},
    )
    kafka = [d for d in evicted(sim) if d["workload_name"] == "kafka"]
    assert len(kafka) <= 1, (kafka, result.outcome, result.reason)
    assert cordoned(sim) == []


def test_drain_of_operator_pods_counts_max_percent_by_owner(make_sim) -> None:
    """Invariant 6: max_percent 34 of 3 kafka siblings allows one: a drain of every node that
    hosts kafka (max_nodes 4, percent 100 of the nodes hosting kafka) evicts at most one."""
    sim = make_sim(_with_kafka())
    ready(sim)
    action = chaosk8s(
        "drain_nodes", pod_label_selector="app=kafka", pod_namespace="shop", timeout=20
    )
    result = hostile_run(
        sim,
        experiment([action]),
        nodes={"max_nodes": 3},
        safety={"max_percent": 34},
    )
    kafka = [d for d in evicted(sim) if d["workload_name"] == "kafka"]
    assert len(kafka) <= 1, (kafka, result.outcome, result.reason)
    assert cordoned(sim) == []


# ------------------------------------------------------------- another process


OTHER_PROCESS = textwrap.dedent(
    """
    import os, sys, time
    from daemon.catalog.extension import AftershockSettings
    from daemon.engine.context import RunContext
    from daemon.engine.runner import Runner
    from daemon.kube.client import Connection, Kube
    from daemon.settings import Settings

    import json
    kubeconfig, signal_file = sys.argv[1], sys.argv[2]
    namespace = sys.argv[3] if len(sys.argv) > 3 else "aftershock"
    node_settings = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    original = Kube.patch_node

    def slow_patch(self, name, body):  # a cordon request that is slow on the wire
        if (body.get("spec") or {}).get("unschedulable"):
            open(signal_file, "w").close()
            time.sleep(2.0)
        return original(self, name, body)

    Kube.patch_node = slow_patch
    kube = Kube.connect(Connection(kubeconfig=kubeconfig, timeout=5))
    ctx = RunContext(
        experiment_id="other", run_id="other-process",
        settings=Settings(
            safety={"dry_run": False, "max_percent": 100, "min_ready_replicas": 0,
                    "cooldown": "0s", "stop_condition_interval": "200ms"},
            engine={"activity_timeout": "40s"}, nodes={"enabled": True, **node_settings},
            kube={"namespace": namespace},
        ),
        aftershock=AftershockSettings.model_validate({}), kube=kube, seed=1,
        dry_run=False, environ=dict(os.environ),
    )
    action = {"type": "action", "name": "cordon", "pauses": {"after": 4},
              "provider": {"type": "python", "module": "chaosk8s.node.actions",
                           "func": "cordon_node", "arguments": {"name": "node-1"}}}
    result = Runner(ctx, {"title": "t", "description": "d", "method": [action]}).run()
    print(result.outcome, result.reason, result.journal["run"][0].get("exception"))
    """
)


def test_a_slow_cordon_from_another_process_does_not_let_a_second_node_be_cordoned(
    make_sim, tmp_path
) -> None:
    """Invariant 1, across processes (two replicas, or `aftershock run` beside the daemon):
    process B's cordon PATCH of node-1 is slow on the wire (2 s); meanwhile this process
    cordons node-2. Counting annotated nodes alone would let both through (neither sees the
    other's annotation in time); the claim on the shared Lease, written before B's PATCH,
    makes this process's claim see B's cordon in flight and refuse (daemon/engine/claims.py).
    Ground truth: at most one node cordoned at any moment, none after both runs."""
    sim = make_sim(drill_cluster())
    ready(sim)
    signal = tmp_path / "b-sent"
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_PROCESS, sim.sim.kubeconfig, str(signal)],
        cwd=Path.cwd(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not signal.exists():
            assert time.monotonic() < deadline, "the other process never cordoned"
            assert other.poll() is None, other.communicate()[0]
            time.sleep(0.02)
        action = chaosk8s("cordon_node", name="node-2")
        action["pauses"] = {"after": 4}
        document = {"title": "t", "description": "d", "method": [action]}
        with peak_cordoned(sim) as peak:
            mine = hostile_run(sim, document, run_id="this-process")
            output = other.communicate(timeout=30)[0]
    finally:
        if other.poll() is None:
            other.kill()
    assert max(peak) <= 1, (max(peak), (mine.outcome, mine.reason), output)
    assert cordoned(sim) == []


# ------------------------------------------------------------- the halt ConfigMap, as a process

HALT = {"metadata": {"name": "aftershock-halt"}, "data": {"halted": "true", "reason": "freeze"}}
CLI_SETTINGS = {
    "safety": {
        "max_percent": 100,
        "min_ready_replicas": 0,
        "cooldown": "0s",
        "stop_condition_interval": "200ms",
    },
    "kube": {"namespace": "aftershock"},
    "nodes": {"enabled": True},
}


def _halt_cluster() -> dict[str, Any]:
    return drill_cluster(namespaces=[{"name": "aftershock", "workloads": []}])


def test_a_halted_cli_cordons_nothing(make_sim, tmp_path) -> None:
    """Invariant 5: with the halt ConfigMap set, `aftershock run --no-dry-run` of a drain and
    a chaosk8s cordon cordons nothing and evicts nothing."""
    from tests.integration.test_run_cli import run as cli_run

    sim = make_sim(_halt_cluster())
    ready(sim)
    sim.core.create_namespaced_config_map("aftershock", HALT)
    method = [drain_action(count=1), chaosk8s("cordon_node", name="node-2")]
    with peak_cordoned(sim) as peak:
        done = cli_run(sim, tmp_path, experiment(method), "--no-dry-run", settings=CLI_SETTINGS)
    assert max(peak) == 0, done.stdout
    assert sim.timeline() == []
    assert done.returncode != 0


def test_a_halt_configmap_mid_drain_stops_evictions_and_uncordons(make_sim, tmp_path) -> None:
    """Invariants 4 and 5: the drain retries a PDB-blocked eviction; the halt ConfigMap set
    meanwhile stops the drain (no eviction after it), and the node is uncordoned before the
    process exits."""
    from tests.integration.test_run_cli import command

    sim = make_sim(_halt_cluster())
    ready(sim)
    sim.policy.patch_namespaced_pod_disruption_budget(
        "webapp", "shop", {"spec": {"minAvailable": 4}}
    )
    time.sleep(1)
    target = node_with(sim, "webapp")
    argv, env = command(
        sim,
        tmp_path,
        experiment([drain_action(names=[target], timeout="40s")]),
        "--no-dry-run",
        settings=CLI_SETTINGS,
    )
    process = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while target not in annotated(sim):
            assert time.monotonic() < deadline, "never cordoned"
            assert process.poll() is None, process.communicate()[0]
            time.sleep(0.05)
        time.sleep(1)
        sim.core.create_namespaced_config_map("aftershock", HALT)
        halted_at = time.time()
        sim.policy.patch_namespaced_pod_disruption_budget(  # evictions would now succeed
            "webapp", "shop", {"spec": {"minAvailable": 0}}
        )
        out, _ = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
    late = [
        d
        for d in sim.timeline()
        if d["workload_name"] == "webapp" and d["requested_at"] > halted_at + 0.5
    ]
    assert late == [], late
    assert cordoned(sim) == [], out
    assert annotated(sim) == []


# ------------------------------------------------------------- protected pods


def _system(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "labels": {"aftershock/enabled": "true"},
        "workloads": [
            {"name": "core", "replicas": 2, "labels": {"k8s-app": "core"}, "grace_period": 1}
        ],
    }


def _host_of(sim, namespace: str) -> str:
    return min(p.spec.node_name for p in sim.core.list_namespaced_pod(namespace).items)


def test_cordon_node_refuses_a_node_running_protected_pods(make_sim) -> None:
    """Invariant 2 (BREAK): chaosk8s cordon_node on a node running kube-system pods must be
    refused (naming the pods) like a drain: `_plan_nodes` lists the node's pods only when the
    drill evicts, so the protected-namespace rule sees no pods for a cordon."""
    sim = make_sim(drill_cluster(namespaces=[_system("kube-system")]))
    ready(sim)
    host = _host_of(sim, "kube-system")
    with peak_cordoned(sim) as peak:
        result = hostile_run(sim, experiment([chaosk8s("cordon_node", name=host)]))
    assert max(peak) == 0, (result.outcome, result.reason, result.journal["run"][0])
    assert (result.outcome, result.reason) == ("refused", "protected_namespace")


def test_allow_protected_never_drains_aftershocks_own_namespace(make_sim) -> None:
    """Invariant 2: allow_protected_namespaces does not open aftershock's own namespace."""
    sim = make_sim(drill_cluster(namespaces=[_system("aftershock")]))
    ready(sim)
    host = _host_of(sim, "aftershock")
    result = hostile_run(
        sim,
        experiment([drain_action(names=[host])]),
        nodes={"allow_protected_namespaces": True},
    )
    assert not [d for d in sim.timeline() if d["namespace"] == "aftershock"], result.reason
    assert result.outcome == "refused", (result.outcome, result.reason)
    assert cordoned(sim) == []


# ------------------------------------------------------------- a slow API and the activity timeout


def test_a_cordon_in_flight_when_the_activity_times_out_is_still_uncordoned(make_sim) -> None:
    """Invariant 4: node PATCHes take 3 s on the API server (simulator latency fault); the
    activity times out after 1 s while the cordon is in flight. The end of the run must still
    take the cordon back once it lands (holds: the run waits for the in-flight cordon)."""
    from tests.integration.test_engine_faults import faults

    sim = make_sim(drill_cluster())
    ready(sim)
    faults(sim, {"verb": "patch", "resource": "nodes", "latency": "3s"})
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=10))
    ctx = hostile_context(kube, "in-flight", activity_timeout="1s", recovery_timeout="5s")
    document = experiment([chaosk8s("cordon_node", name="node-2")])
    document["steady-state-hypothesis"]["probes"] = []
    try:
        result = Runner(ctx, document).run()
    finally:
        kube.close()
    time.sleep(4)  # the in-flight cordon has landed by now
    faults(sim)
    assert cordoned(sim) == [], (
        result.outcome,
        result.reason,
        result.journal["aftershock"].get("uncordoned"),
        result.journal["aftershock"].get("errors"),
        annotated(sim),
    )


def test_a_cordon_whose_answer_is_lost_is_still_uncordoned_when_it_lands(make_sim) -> None:
    """Invariant 4 (BREAK): the cordon PATCH reaches the API server but its answer does not
    come back in time (4 s of latency, client timeout 2 s): the intent is settled
    "uncertain" and the drill fails. The end of the run lists the nodes once, before the
    PATCH lands, finds none of its own and gives up; the cordon lands a moment later and
    stays (daemon/engine/cordons.py release(): no wait for an uncertain cordon)."""
    from tests.integration.test_engine_faults import faults

    sim = make_sim(drill_cluster())
    ready(sim)
    faults(sim, {"verb": "patch", "resource": "nodes", "latency": "4s"})
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=2))
    ctx = hostile_context(kube, "answer-lost", activity_timeout="30s", recovery_timeout="5s")
    document = experiment([chaosk8s("cordon_node", name="node-2")])
    document["steady-state-hypothesis"]["probes"] = []
    try:
        result = Runner(ctx, document).run()
    finally:
        kube.close()
    time.sleep(5)  # the PATCH has landed by now
    faults(sim)
    assert cordoned(sim) == [], (
        result.outcome,
        result.journal["run"][0].get("exception"),
        result.journal["aftershock"].get("uncordoned"),
        result.journal["aftershock"].get("errors"),
        annotated(sim),
    )


# ------------------------------------------------------------- daily budget and cooldown


def test_daily_budget_counts_the_cordon_a_drain_makes(make_sim) -> None:
    """Invariant 3 (BREAK): docs/node-drills.md: the cordon "counts as one disruption in the
    daily budget". With max_disruptions_per_day equal to the k pods a node would lose, the
    drain needs k + 1 disruptions and must be refused; it passes, cordoning and evicting all
    k (ground truth): the plan counts only the pods (`plan_in_budget`), and the per-pod
    `admit` uses the 24 h count read before the cordon's intent was recorded."""
    sim = make_sim(drill_cluster())
    ready(sim)
    pods = sim.core.list_namespaced_pod("shop").items
    evictable: dict[str, int] = {}
    for p in pods:
        if not p.metadata.name.startswith("agent-"):
            evictable[p.spec.node_name] = evictable.get(p.spec.node_name, 0) + 1
    target, k = max(evictable.items(), key=lambda item: item[1])
    seen: set[str] = set()
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.update(cordoned(sim))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = hostile_run(
            sim,
            experiment([drain_action(names=[target])]),
            safety={"max_disruptions_per_day": k},
        )
    finally:
        done.set()
        watcher.join(5)
    disruptions = len(evicted(sim)) + len(seen)
    assert disruptions <= k, (k, len(evicted(sim)), sorted(seen), result.outcome, result.reason)
    assert cordoned(sim) == []


def test_cooldown_holds_between_a_pod_kill_and_a_drain_in_one_run(make_sim) -> None:
    """Invariant 3: cooldown 10m: a webapp pod killed earlier in the run means the drain of a
    node hosting webapp must not evict webapp again (ground truth)."""
    sim = make_sim(drill_cluster())
    ready(sim)
    kill = {
        "type": "action",
        "name": "kill-webapp",
        "provider": {
            "type": "python",
            "module": "chaosk8s.pod.actions",
            "func": "terminate_pods",
            "arguments": {"label_selector": "app=webapp", "ns": "shop", "qty": 1},
        },
        "pauses": {"after": 2},
    }
    result = hostile_run(
        sim,
        experiment([kill, drain_action(count=1, label_selector="")]),
        safety={"cooldown": "10m"},
    )
    webapp = [d for d in sim.timeline() if d["workload_name"] == "webapp"]
    assert len(webapp) <= 1, (webapp, result.outcome, result.reason)
    assert cordoned(sim) == []


# ------------------------------------------------------------- hostile argument shapes


def test_names_given_as_a_string_never_drains_a_node_it_does_not_name(make_sim) -> None:
    """Bad input (BREAK): `names: "node-12"` (a string, e.g. from a `${var}` template) names
    no existing node. It must be refused with a clear error; instead `name in "node-12"` is
    a substring test and node-1 or node-2 is drained (ground truth: a cordon and evictions on
    a node the file never named)."""
    sim = make_sim(drill_cluster())
    ready(sim)
    document = experiment([drain_action(names="${targets}")])
    document["configuration"] = {"targets": "node-12"}
    with peak_cordoned(sim) as peak:
        result = hostile_run(sim, document)
    assert max(peak) == 0, (result.outcome, result.journal["run"][0].get("output"))
    assert evicted(sim) == []


@pytest.mark.parametrize("evictions", ["fast", "slow"])
def test_a_drain_in_the_rollbacks_after_a_halt_cordons_nothing(make_sim, evictions) -> None:
    """Invariants 4/5: the run is halted mid-method; a drain in its rollbacks must not cordon
    (the halt gates every cordon), and the method's cordon is taken back. With slow
    evictions the halt lands mid-drain: the method's drain stops part-way and uncordons at
    once, so max_nodes no longer stands in the way of the rollback's drain; only the closed
    gate does (seen under a loaded machine: node-3 cordoned after the halt)."""
    from tests.integration.test_engine_faults import faults

    sim = make_sim(drill_cluster())
    ready(sim)
    if evictions == "slow":
        faults(sim, {"verb": "create", "resource": "pods/eviction", "latency": "2s"})
    action = drain_action(names=["node-1"])
    action["pauses"] = {"after": 20}
    rollback = drain_action(names=["node-3"])
    seen: set[str] = set()
    box: dict[str, RunResult] = {}
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=5))
    ctx = hostile_context(kube, "halted-rollback", activity_timeout="40s", recovery_timeout="20s")
    runner = threading.Thread(
        target=lambda: box.setdefault("r", Runner(ctx, experiment([action], [rollback])).run())
    )
    runner.start()
    deadline = time.monotonic() + 15
    while "node-1" not in annotated(sim):
        assert time.monotonic() < deadline, "never cordoned"
        time.sleep(0.05)
    ctx.request_stop("halted", "test")
    faults(sim)
    while runner.is_alive() and time.monotonic() < deadline + 30:
        seen.update(cordoned(sim))
        time.sleep(0.02)
    runner.join(5)
    kube.close()
    assert "node-3" not in seen, box["r"].journal.get("rollbacks")
    changes = sim.control("GET", "/sim/v1/timeline/nodes")["changes"]
    assert [c["node"] for c in changes if c.get("cordoned")] == ["node-1"], changes
    assert cordoned(sim) == []


def test_a_background_drain_and_a_pod_kill_share_max_pods(make_sim) -> None:
    """Invariant 3: a drain in the background and a pod kill at the same time, max_pods 2
    for the run: never more than 2 pods disrupted in total (ground truth)."""
    sim = make_sim(drill_cluster())
    ready(sim)
    background = {**drain_action(count=1), "background": True}
    kill = {
        "type": "action",
        "name": "kill-greeter",
        "provider": {
            "type": "python",
            "module": "chaosk8s.pod.actions",
            "func": "terminate_pods",
            "arguments": {"label_selector": "app=greeter", "ns": "shop", "qty": 2},
        },
    }
    result = hostile_run(sim, experiment([background, kill]), safety={"max_pods": 2})
    assert len(sim.timeline()) <= 2, (sim.timeline(), result.outcome, result.reason)
    assert cordoned(sim) == []


def test_an_operator_slower_than_the_recovery_timeout_is_not_recovered(make_sim) -> None:
    """Invariant 6: the operator recreates its pods 8 s after the eviction, the recovery
    timeout is 3 s: the displaced owner is NOT recovered, nor is the drill."""
    spec = drill_cluster()
    spec["namespaces"][0]["workloads"].append(
        {
            "name": "kafka",
            "kind": "Operator",
            "replicas": 3,
            "labels": {"app": "kafka"},
            "grace_period": 1,
            "operator": {"naming": "generated", "recreate_delay": "8s"},
        }
    )
    sim = make_sim(spec)
    ready(sim)
    from tests.integration.test_operator_workloads import kafka_ready

    kafka_ready(sim)
    host = min(
        p.spec.node_name
        for p in sim.core.list_namespaced_pod("shop", label_selector="app=kafka").items
    )
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=5))
    ctx = hostile_context(kube, "slow-operator", activity_timeout="40s", recovery_timeout="3s")
    document = experiment([drain_action(names=[host])])
    document["steady-state-hypothesis"]["probes"] = []
    try:
        result = Runner(ctx, document).run()
    finally:
        kube.close()
    record = result.journal["aftershock"]
    kafka = [r for r in record.get("recovery", []) if r["name"] == "kafka"]
    assert kafka, record.get("recovery")
    assert all(r.get("recovered") is not True for r in kafka), kafka
    (drill,) = record["node_drills"]
    assert drill["all_recovered"] is False, drill
    assert cordoned(sim) == []


def test_an_api_outage_of_35s_after_the_cordon_leaves_no_cordon_behind(
    make_sim,
) -> None:
    """Invariant 4: the API server is unreachable for 35 s from just after the cordon. A run
    alone (no daemon, no sweep) must still take its cordon back: the end of the run retries
    the uncordon for `nodes.release_patience` (5 min by default, cut only by a shutdown
    deadline), so once the API is back the node is uncordoned."""
    sim = make_sim(drill_cluster())
    ready(sim)
    action = chaosk8s("cordon_node", name="node-2")
    action["pauses"] = {"after": 2}
    document = experiment([action])
    document["steady-state-hypothesis"]["probes"] = []
    box: dict[str, RunResult] = {}
    runner = threading.Thread(target=lambda: box.setdefault("r", hostile_run(sim, document)))
    runner.start()
    deadline = time.monotonic() + 15
    while "node-2" not in annotated(sim):
        assert time.monotonic() < deadline, "never cordoned"
        time.sleep(0.05)
    sim.control("POST", "/sim/v1/faults/outage", {"seconds": 35})
    outage_ends = time.monotonic() + 35
    runner.join(60)
    time.sleep(max(0.0, outage_ends + 1 - time.monotonic()))  # the API is back
    record = box["r"].journal["aftershock"]
    time.sleep(2)
    assert cordoned(sim) == [], (record.get("errors"), record.get("uncordon_failed"))
