"""The simulator's nodes and operator-owned pods, driven by the real kubectl and client."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import shop, wait_for
from tests.integration.test_sim_tools import kubectl

TAINT = "node.kubernetes.io/unschedulable"


def _taints(sim, node: str) -> list[str]:
    return [t.key for t in sim.core.read_node(node).spec.taints or []]


def _on(sim, node: str) -> list[Any]:
    return [
        p
        for p in sim.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
        if not p.metadata.deletion_timestamp
    ]


def test_kubectl_cordon_taints_and_scheduler_avoids_the_node(sim) -> None:
    cordoned = kubectl(sim, "cordon", "sim-node-1")
    assert cordoned.returncode == 0, cordoned.stderr
    assert sim.core.read_node("sim-node-1").spec.unschedulable
    wait_for(lambda: TAINT in _taints(sim, "sim-node-1"), 5, "unschedulable taint")
    before = {p.metadata.name for p in _on(sim, "sim-node-1")}
    sim.apps.patch_namespaced_deployment("webapp", "shop", {"spec": {"replicas": 9}})
    wait_for(
        lambda: (
            (sim.apps.read_namespaced_deployment("webapp", "shop").status.ready_replicas or 0) == 9
        ),
        10,
        "scaled up",
    )
    # nothing new lands on the cordoned node; DaemonSet pods stay (they tolerate the taint)
    assert {p.metadata.name for p in _on(sim, "sim-node-1")} <= before
    assert any(p.metadata.labels.get("app") == "agent" for p in _on(sim, "sim-node-1"))
    uncordoned = kubectl(sim, "uncordon", "sim-node-1")
    assert uncordoned.returncode == 0, uncordoned.stderr
    assert not sim.core.read_node("sim-node-1").spec.unschedulable
    wait_for(lambda: TAINT not in _taints(sim, "sim-node-1"), 5, "taint removed")


def test_scheduler_never_binds_to_a_cordoned_node(make_sim) -> None:
    sim = make_sim(
        shop(
            nodes=[
                {"name": "a"},
                {"name": "b", "unschedulable": True},
                {"name": "c", "taints": [{"key": "dedicated", "value": "db"}]},
            ]
        )
    )
    sim.ready()
    pods = sim.core.list_namespaced_pod("shop").items
    placed = {p.metadata.labels.get("app"): set() for p in pods}
    for p in pods:
        placed[p.metadata.labels.get("app")].add(p.spec.node_name)
    assert placed["webapp"] == {"a"}
    assert placed["agent"] == {"a", "b"}  # DaemonSet ignores the cordon, not other taints


def test_kubectl_drain_evicts_what_kubectl_would_and_scheduler_reschedules(sim) -> None:
    node = "sim-node-2"
    drained = kubectl(sim, "drain", node, "--ignore-daemonsets", "--force", "--timeout=30s")
    assert drained.returncode == 0, drained.stderr
    left = _on(sim, node)
    assert {p.metadata.owner_references[0].kind for p in left} <= {"DaemonSet"}
    sim.ready()
    assert all(
        p.spec.node_name != node
        for p in sim.core.list_namespaced_pod("shop").items
        if p.metadata.labels.get("app") != "agent"
    )
    assert {d["method"] for d in sim.timeline()} <= {"evict"}


def _operator_spec(naming: str, delay: str = "200ms") -> dict[str, Any]:
    spec = shop()
    spec["namespaces"][0]["workloads"].append(
        {
            "name": "kafka" if naming == "stable" else "pg",
            "kind": "Operator",
            "replicas": 3,
            "labels": {"app": "kafka" if naming == "stable" else "pg"},
            "grace_period": 1,
            "operator": (
                {"naming": "stable", "recreate_delay": delay}
                if naming == "stable"
                else {
                    "kind": "Cluster",
                    "api_version": "postgresql.cnpg.io/v1",
                    "naming": "generated",
                    "recreate_delay": delay,
                }
            ),
        }
    )
    return spec


def test_operator_kind_recreates_same_names_and_kubectl_gets_it(make_sim) -> None:
    sim = make_sim(_operator_spec("stable"))
    sim.ready()
    wait_for(
        lambda: (
            len(
                [
                    p
                    for p in sim.core.list_namespaced_pod("shop", label_selector="app=kafka").items
                    if p.status.phase == "Running"
                ]
            )
            == 3
        ),
        10,
        "kafka pods",
    )
    pods = sim.core.list_namespaced_pod("shop", label_selector="app=kafka").items
    assert sorted(p.metadata.name for p in pods) == ["kafka-0", "kafka-1", "kafka-2"]
    ref = pods[0].metadata.owner_references[0]
    assert (ref.kind, ref.name, ref.controller, ref.api_version) == (
        "StrimziPodSet",
        "kafka",
        True,
        "core.strimzi.io/v1beta2",
    )
    got = kubectl(sim, "get", "strimzipodsets", "-n", "shop")
    assert got.returncode == 0, got.stderr
    assert "kafka" in got.stdout
    crd = kubectl(sim, "get", "crd", "strimzipodsets.core.strimzi.io")
    assert crd.returncode == 0, crd.stderr
    old_uid = pods[1].metadata.uid
    deleted = kubectl(sim, "delete", "pod", "kafka-1", "-n", "shop", "--wait=true")
    assert deleted.returncode == 0, deleted.stderr

    def back() -> bool:
        pod = sim.core.list_namespaced_pod("shop", field_selector="metadata.name=kafka-1").items
        return bool(pod) and pod[0].metadata.uid != old_uid and pod[0].status.phase == "Running"

    wait_for(back, 10, "kafka-1 recreated with its name")
    [event] = [d for d in sim.timeline() if d["pod"] == "kafka-1"]
    assert (event["workload_kind"], event["workload_name"]) == ("StrimziPodSet", "kafka")


def test_operator_kind_recreates_with_new_names_after_delay(make_sim) -> None:
    sim = make_sim(_operator_spec("generated", delay="500ms"))
    sim.ready()

    def running() -> list[Any]:
        return [
            p
            for p in sim.core.list_namespaced_pod("shop", label_selector="app=pg").items
            if p.status.phase == "Running" and not p.metadata.deletion_timestamp
        ]

    wait_for(lambda: len(running()) == 3, 10, "pg pods")
    victim = running()[0].metadata.name
    assert victim.startswith("pg-")
    sim.core.delete_namespaced_pod(victim, "shop", grace_period_seconds=0)
    wait_for(lambda: len(running()) == 3, 10, "pg recreated")
    names = {p.metadata.name for p in running()}
    assert victim not in names
    got = kubectl(sim, "get", "clusters.postgresql.cnpg.io", "-n", "shop", "-o", "name")
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "cluster.postgresql.cnpg.io/pg"


def test_operator_kind_through_a_replicaset_like_argo_rollouts(make_sim) -> None:
    spec = shop()
    spec["namespaces"][0]["workloads"].append(
        {
            "name": "checkout",
            "kind": "Operator",
            "replicas": 2,
            "labels": {"app": "checkout"},
            "grace_period": 1,
            "operator": {
                "kind": "Rollout",
                "api_version": "argoproj.io/v1alpha1",
                "naming": "generated",
                "pods_via": "ReplicaSet",
            },
        }
    )
    sim = make_sim(spec)
    sim.ready()

    def running() -> list[Any]:
        return [
            p
            for p in sim.core.list_namespaced_pod("shop", label_selector="app=checkout").items
            if p.status.phase == "Running" and not p.metadata.deletion_timestamp
        ]

    wait_for(lambda: len(running()) == 2, 10, "checkout pods")
    rs_ref = running()[0].metadata.owner_references[0]
    assert rs_ref.kind == "ReplicaSet"
    rs = sim.apps.read_namespaced_replica_set(rs_ref.name, "shop")
    assert (rs.metadata.owner_references[0].kind, rs.metadata.owner_references[0].name) == (
        "Rollout",
        "checkout",
    )
    victim = running()[0].metadata.name
    sim.core.delete_namespaced_pod(victim, "shop")
    wait_for(
        lambda: len(running()) == 2 and victim not in {p.metadata.name for p in running()},
        10,
        "replaced",
    )
    [event] = [d for d in sim.timeline() if d["pod"] == victim]
    assert (event["workload_kind"], event["workload_name"]) == ("Rollout", "checkout")
    got = kubectl(sim, "get", "rollouts", "-n", "shop", "-o", "name")
    assert got.stdout.strip() == "rollout.argoproj.io/checkout", got.stderr
