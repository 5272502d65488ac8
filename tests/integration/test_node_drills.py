"""Node drills on the simulator: guarded drains, always uncordoned, judged by ground truth
(the simulator's timeline and the Node objects read back through the real client)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from daemon.catalog.extension import AftershockSettings
from daemon.engine.context import RunContext
from daemon.engine.cordons import RUN_ANNOTATION
from daemon.engine.runner import Runner, RunResult
from daemon.kube.client import Connection, Kube
from daemon.settings import Settings
from tests.integration.conftest import FAST_TIMING, wait_for
from tests.integration.engine_helpers import PERMISSIVE


def drill_cluster(nodes: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """Four nodes in two zones; webapp (PDB minAvailable 2), greeter, db, an agent DaemonSet."""
    return {
        "nodes": nodes
        or [
            {"name": f"node-{i}", "labels": {"topology.kubernetes.io/zone": f"zone-{i % 2}"}}
            for i in range(1, 5)
        ],
        "seed": 3,
        "timing": dict(FAST_TIMING),
        "watch": {"bookmark_interval": "200ms"},
        "namespaces": [
            {
                "name": "shop",
                "labels": {"aftershock/enabled": "true"},
                "workloads": [
                    {
                        "name": "webapp",
                        "replicas": 4,
                        "labels": {"app": "webapp"},
                        "grace_period": 1,
                        "service": {},
                    },
                    {
                        "name": "greeter",
                        "replicas": 2,
                        "labels": {"app": "greeter"},
                        "grace_period": 1,
                    },
                    {
                        "name": "db",
                        "kind": "StatefulSet",
                        "replicas": 2,
                        "labels": {"app": "db"},
                        "grace_period": 1,
                    },
                    {
                        "name": "agent",
                        "kind": "DaemonSet",
                        "labels": {"app": "agent"},
                        "grace_period": 1,
                    },
                ],
                "pdbs": [{"name": "webapp", "selector": {"app": "webapp"}, "min_available": 2}],
            },
            *extra.get("namespaces", []),
        ],
    }


def drain_action(**arguments: Any) -> dict[str, Any]:
    return {
        "type": "action",
        "name": "drain-a-node",
        "provider": {
            "type": "python",
            "module": "aftershock.nodes",
            "func": "drain",
            "arguments": {"timeout": "20s", **arguments},
        },
    }


def experiment(method: list[dict[str, Any]], rollbacks: list[dict[str, Any]] | None = None) -> dict:
    return {
        "title": "Losing a node keeps the shop serving",
        "description": "node drill",
        "steady-state-hypothesis": {
            "title": "webapp runs",
            "probes": [
                {
                    "type": "probe",
                    "name": "webapp-running",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "chaosk8s.pod.probes",
                        "func": "pods_in_phase",
                        "arguments": {
                            "label_selector": "app=webapp",
                            "phase": "Running",
                            "ns": "shop",
                        },
                    },
                }
            ],
        },
        "method": method,
        "rollbacks": rollbacks or [],
    }


def run_drill(
    sim,
    document: dict,
    *,
    nodes: dict[str, Any] | None = None,
    run_id: str = "drill-run",
    safety: dict[str, Any] | None = None,
    stop: threading.Event | None = None,
) -> RunResult:
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=5))
    ctx = RunContext(
        experiment_id="drill",
        run_id=run_id,
        settings=Settings(
            safety={**PERMISSIVE, **(safety or {})},
            engine={"activity_timeout": "40s"},
            nodes={"enabled": True, **(nodes or {})},
        ),
        aftershock=AftershockSettings.model_validate({"recovery": {"timeout": "20s"}}),
        kube=kube,
        seed=11,
        dry_run=False,
        environ=dict(os.environ),
    )
    if stop is not None:
        threading.Thread(
            target=lambda: stop.wait(30) and ctx.request_stop("halted", "test"), daemon=True
        ).start()
    try:
        return Runner(ctx, document).run()
    finally:
        kube.close()


def cordoned(sim) -> list[str]:
    return sorted(n.metadata.name for n in sim.core.list_node().items if n.spec.unschedulable)


def annotated(sim) -> list[str]:
    return sorted(
        n.metadata.name
        for n in sim.core.list_node().items
        if RUN_ANNOTATION in (n.metadata.annotations or {})
    )


def placement(sim, namespace: str = "shop") -> dict[str, str]:
    return {
        p.metadata.name: p.spec.node_name for p in sim.core.list_namespaced_pod(namespace).items
    }


def node_with(sim, app: str) -> str:
    pods = sim.core.list_namespaced_pod("shop", label_selector=f"app={app}").items
    return min(p.spec.node_name for p in pods if p.spec.node_name)


def ready(sim) -> None:
    sim.ready()
    wait_for(
        lambda: all(
            p.status.phase == "Running" and not p.metadata.deletion_timestamp
            for p in sim.core.list_namespaced_pod("shop").items
        ),
        10,
        "all pods running",
    )


# ---------------------------------------------------------------------- the drill


def test_drain_evicts_what_kubectl_would_then_uncordons_and_measures_recovery(make_sim) -> None:
    sim = make_sim(drill_cluster())
    ready(sim)
    target = node_with(sim, "webapp")
    before = placement(sim)
    result = run_drill(sim, experiment([drain_action(names=[target])]))
    record = result.journal["aftershock"]
    assert result.outcome == "passed", (result.reason, record.get("errors"), record.get("plans"))
    truth = sim.timeline()
    # ground truth: only pods of the drained node moved, all through the Eviction API,
    # and every pod of it but the DaemonSet's
    on_node = {pod for pod, node in before.items() if node == target}
    assert {d["pod"] for d in truth} == {p for p in on_node if not p.startswith("agent-")}
    assert {d["method"] for d in truth} == {"evict"}
    # always uncordoned, and nothing of aftershock left on the node
    assert cordoned(sim) == []
    assert annotated(sim) == []
    assert [c["node"] for c in record["cordoned"]] == [target]
    assert [u["node"] for u in record["uncordoned"]] == [target]
    # recovery: one entry per displaced workload, each within 0.15 s of ground truth
    (drill,) = record["node_drills"]
    assert drill["all_recovered"] is True
    assert drill["all_recovered_seconds"] > 0
    displaced = {(d["workload_kind"], d["workload_name"]) for d in truth}
    measured = {(r["kind"], r["name"]): r for r in record["recovery"]}
    assert set(measured) == displaced
    for (kind, name), recovery in measured.items():
        mine = [d for d in truth if (d["workload_kind"], d["workload_name"]) == (kind, name)]
        last = max(d["requested_at"] for d in mine)
        truth_seconds = max(d["workload_status_ready_at"] for d in mine) - last
        assert abs(recovery["recovery_seconds"] - truth_seconds) < 0.15, (recovery, mine)
    all_truth = max(d["workload_status_ready_at"] for d in truth)
    changes = sim.control("GET", "/sim/v1/timeline/nodes")["changes"]  # as the server applied it
    first_cordon = min(c["at"] for c in changes if c["cordoned"] and c["node"] == target)
    assert abs(drill["all_recovered_seconds"] - (all_truth - first_cordon)) < 0.25
    # every evicted pod gets its Event, as every pod kill does (action "Drain")
    events = [
        e
        for ns in {d["namespace"] for d in truth}
        for e in sim.core.list_namespaced_event(ns).items
        if e.reason == "AftershockPodKilled" and e.involved_object.kind == "Pod"
    ]
    assert {e.involved_object.name for e in events} == {d["pod"] for d in truth}
    assert {e.action for e in events} == {"Drain"}


def test_a_blocking_pdb_is_retried_to_the_deadline_then_the_drill_fails_and_uncordons(
    make_sim,
) -> None:
    sim = make_sim(drill_cluster())
    ready(sim)
    sim.policy.patch_namespaced_pod_disruption_budget(
        "webapp", "shop", {"spec": {"minAvailable": 4}}
    )
    wait_for(
        lambda: (
            sim.policy.read_namespaced_pod_disruption_budget(
                "webapp", "shop"
            ).status.disruptions_allowed
            == 0
        ),
        5,
        "budget exhausted",
    )
    target = node_with(sim, "webapp")
    started = time.monotonic()
    result = run_drill(sim, experiment([drain_action(names=[target], timeout="3s")]))
    record = result.journal["aftershock"]
    assert result.outcome in ("failed", "deviated", "aborted"), result.outcome
    assert time.monotonic() - started >= 3  # evictions were retried until the deadline
    message = str(result.journal["run"][0].get("exception"))
    assert "disruption budget" in message, message
    retried = int(message.split("retried ", 1)[1].split(" ", 1)[0])
    assert retried >= 2, message
    # ground truth: no webapp pod was evicted, the node is schedulable again
    assert not [d for d in sim.timeline() if d["workload_name"] == "webapp"]
    assert cordoned(sim) == []
    assert annotated(sim) == []
    assert [u["node"] for u in record["uncordoned"]] == [target]


def test_two_drills_at_once_the_second_is_refused_by_max_nodes(make_sim) -> None:
    sim = make_sim(drill_cluster())
    ready(sim)
    peak: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak.append(len(cordoned(sim)))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    first_action = drain_action(count=1)
    first_action["pauses"] = {"after": 8}  # the first drill holds its node while the second runs
    results: dict[str, RunResult] = {}
    first = threading.Thread(
        target=lambda: results.setdefault(
            "first", run_drill(sim, experiment([first_action]), run_id="first")
        )
    )
    first.start()
    wait_for(lambda: annotated(sim), 10, "the first drill's cordon")
    (held,) = annotated(sim)
    # the claim comes before the evictions: wait until the drain emptied the node (DaemonSet
    # pods stay), then for the replacements, so the second run's hypothesis holds before it
    wait_for(
        lambda: (
            {
                (p.metadata.labels or {}).get("app")
                for p in sim.core.list_namespaced_pod("shop").items
                if p.spec.node_name == held
            }
            <= {"agent"}
        ),
        15,
        "the first drill's node drained",
    )
    ready(sim)
    assert annotated(sim) == [held]  # still held: the first run pauses 8 s after its drain
    results["second"] = run_drill(sim, experiment([drain_action(count=1)]), run_id="second")
    first.join(30)
    done.set()
    watcher.join(5)
    assert results["first"].outcome == "passed", (
        results["first"].journal["aftershock"].get("errors")
    )
    assert (results["second"].outcome, results["second"].reason) == ("refused", "max_nodes")
    assert max(peak) == 1
    assert cordoned(sim) == []
    assert annotated(sim) == []


def test_protected_pods_control_plane_and_min_schedulable_refuse(make_sim) -> None:
    nodes = [
        {"name": "cp", "labels": {"node-role.kubernetes.io/control-plane": ""}},
        {"name": "node-1"},
        {"name": "node-2"},
    ]
    system = {
        "name": "kube-system",
        "labels": {"aftershock/enabled": "true"},  # opted in: only the node rule protects it
        "workloads": [
            {"name": "coredns", "replicas": 2, "labels": {"k8s-app": "kube-dns"}, "grace_period": 1}
        ],
    }
    sim = make_sim(drill_cluster(nodes, namespaces=[system]))
    ready(sim)
    host = next(
        p.spec.node_name
        for p in sim.core.list_namespaced_pod("kube-system").items
        if p.spec.node_name != "cp"
    )
    protected = run_drill(sim, experiment([drain_action(names=[host])]))
    assert (protected.outcome, protected.reason) == ("refused", "protected_namespace")
    refusal = protected.journal["aftershock"]["plans"][0]["refused"]["detail"]
    assert "kube-system/coredns-" in refusal
    control = run_drill(sim, experiment([drain_action(names=["cp"])]))
    assert (control.outcome, control.reason) == ("refused", "control_plane")
    floor = run_drill(
        sim,
        experiment([drain_action(count=1)]),
        nodes={"min_schedulable_nodes": "100%", "allow_protected_namespaces": True},
    )
    assert (floor.outcome, floor.reason) == ("refused", "min_schedulable_nodes")
    assert sim.timeline() == []
    assert cordoned(sim) == []
    allowed = run_drill(
        sim, experiment([drain_action(names=[host])]), nodes={"allow_protected_namespaces": True}
    )
    assert allowed.outcome == "passed", allowed.journal["aftershock"].get("plans")
    assert any(d["namespace"] == "kube-system" for d in sim.timeline())
    assert cordoned(sim) == []


def test_node_drills_are_off_unless_enabled(make_sim) -> None:
    sim = make_sim(drill_cluster())
    ready(sim)
    result = run_drill(sim, experiment([drain_action(count=1)]), nodes={"enabled": False})
    assert (result.outcome, result.reason) == ("refused", "node_drills_disabled")
    assert sim.timeline() == []
    assert cordoned(sim) == []


def test_chaosk8s_cordon_drain_uncordon_signatures(make_sim) -> None:
    sim = make_sim(drill_cluster())
    ready(sim)
    target = node_with(sim, "greeter")
    chaosk8s = [
        {
            "type": "action",
            "name": "drain",
            "provider": {
                "type": "python",
                "module": "chaosk8s.node.actions",
                "func": "drain_nodes",
                "arguments": {"name": target, "timeout": 20},
            },
        }
    ]
    rollbacks = [
        {
            "type": "action",
            "name": "uncordon",
            "provider": {
                "type": "python",
                "module": "chaosk8s.node.actions",
                "func": "uncordon_node",
                "arguments": {"name": target},
            },
        }
    ]
    result = run_drill(sim, experiment(chaosk8s, rollbacks))
    assert result.outcome == "passed", result.journal["aftershock"].get("errors")
    assert result.journal["run"][0]["output"] == [target]
    assert result.journal["rollbacks"][0]["output"] == [target]
    assert cordoned(sim) == []
    assert annotated(sim) == []
    cordon_only = [
        {
            "type": "action",
            "name": "cordon",
            "provider": {
                "type": "python",
                "module": "chaosk8s.node.actions",
                "func": "cordon_node",
                "arguments": {"name": target},
            },
        }
    ]
    result = run_drill(sim, experiment(cordon_only), run_id="cordon-only")
    assert result.journal["run"][0]["output"] == [target]
    assert cordoned(sim) == []  # no rollback in the file: aftershock took it back anyway


def test_a_halt_mid_drill_still_uncordons(make_sim) -> None:
    sim = make_sim(drill_cluster())
    ready(sim)
    action = drain_action(count=1)
    action["pauses"] = {"after": 20}
    stop = threading.Event()
    results: dict[str, RunResult] = {}
    runner = threading.Thread(
        target=lambda: results.setdefault("run", run_drill(sim, experiment([action]), stop=stop))
    )
    runner.start()
    wait_for(lambda: annotated(sim), 10, "the cordon")
    stop.set()
    runner.join(30)
    assert results["run"].outcome == "aborted", results["run"].reason
    assert cordoned(sim) == []
    assert annotated(sim) == []
