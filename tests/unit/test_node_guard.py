"""The node guard (daemon.safety.nodes): pure rules, as a table and as properties."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from daemon.safety.guard import Refusal
from daemon.safety.nodes import (
    NodeLimits,
    NodePlan,
    drainable,
    is_control_plane,
    is_cordoned,
    min_schedulable,
    plan_nodes,
)


def node(name: str, *, cordoned: bool = False, control: bool = False, ready: bool = True) -> dict:
    labels = {"node-role.kubernetes.io/control-plane": ""} if control else {}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"unschedulable": True} if cordoned else {},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def pod(name: str, namespace: str = "shop", owner: str | None = "ReplicaSet", **extra: Any) -> dict:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, **extra.pop("meta", {})}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": "x", "uid": "u", "controller": True}]
    return {"metadata": meta, "spec": extra.pop("spec", {}), "status": {"phase": "Running"}}


def test_drainable_follows_kubectl() -> None:
    plan = drainable(
        [
            pod("web"),
            pod("agent", owner="DaemonSet"),
            pod("static", owner=None, meta={"annotations": {"kubernetes.io/config.mirror": "x"}}),
            pod("bare", owner=None),
            pod("cache", spec={"volumes": [{"name": "c", "emptyDir": {}}]}),
        ]
    )
    assert [p["metadata"]["name"] for p in plan.evict] == ["web"]
    assert {name for name, _ in plan.left} == {"shop/agent", "shop/static"}
    assert {name for name, _ in plan.blockers} == {"shop/bare", "shop/cache"}
    forced = drainable([pod("bare", owner=None)], force=True, delete_local_data=True)
    assert len(forced.evict) == 1


def test_refusals_name_the_rule_and_the_pods() -> None:
    nodes = [node("cp", control=True), node("a"), node("b")]
    limits = NodeLimits(protected_namespaces=frozenset({"kube-system"}))
    rng = random.Random(1)
    refused = plan_nodes([nodes[0]], nodes, {}, 1, cordoned_by_aftershock=0, limits=limits, rng=rng)
    assert isinstance(refused, Refusal)
    assert refused.reason == "control_plane"
    protected = plan_nodes(
        [nodes[1]],
        nodes,
        {"a": [pod("coredns-1", "kube-system"), pod("agent", "kube-system", owner="DaemonSet")]},
        1,
        cordoned_by_aftershock=0,
        limits=limits,
        rng=rng,
    )
    assert isinstance(protected, Refusal)
    assert protected.reason == "protected_namespace"
    assert "kube-system/coredns-1" in protected.detail
    assert "agent" not in protected.detail  # DaemonSet pods stay: they do not protect a node
    held = plan_nodes([nodes[1]], nodes, {}, 1, cordoned_by_aftershock=1, limits=limits, rng=rng)
    assert isinstance(held, Refusal)
    assert held.reason == "max_nodes"
    assert min_schedulable("50%", 5) == 3


@given(
    total=st.integers(1, 8),
    cordoned=st.integers(0, 8),
    held=st.integers(0, 3),
    wanted=st.integers(1, 5),
    max_nodes=st.integers(1, 3),
    floor=st.one_of(st.integers(0, 8), st.sampled_from(["0%", "25%", "50%", "100%"])),
    seed=st.integers(0, 1000),
)
def test_a_plan_never_exceeds_max_nodes_nor_breaks_the_floor(
    total: int, cordoned: int, held: int, wanted: int, max_nodes: int, floor: Any, seed: int
) -> None:
    nodes = [
        node(f"n{i}", cordoned=i < cordoned, control=i == total - 1 and total > 2)
        for i in range(total)
    ]
    result = plan_nodes(
        nodes,
        nodes,
        {},
        wanted,
        cordoned_by_aftershock=held,
        limits=NodeLimits(max_nodes=max_nodes, min_schedulable_nodes=floor),
        rng=random.Random(seed),
    )
    if isinstance(result, NodePlan):
        chosen = [n for n in nodes if n["metadata"]["name"] in result.nodes]
        assert len(chosen) == wanted
        assert held + len(chosen) <= max_nodes
        schedulable = sum(1 for n in nodes if not is_cordoned(n))
        assert schedulable - len(chosen) >= min_schedulable(floor, total)
        assert not any(is_control_plane(n) or is_cordoned(n) for n in chosen)
