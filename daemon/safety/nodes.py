"""The node guard: which nodes a drill may cordon and which pods a drain evicts.

Pure functions over API dicts, like daemon.safety.guard: every decision recorded. The rules,
in order: control-plane nodes never; a node already cordoned is not ours to drain; a node
that is not Ready is left alone; a node running pods of a protected namespace is refused
(naming them) unless the settings allow it; a node with pods that `kubectl drain` would
refuse (unmanaged, local storage) is refused; then, run-wide, at most `max_nodes` cordoned by
aftershock at once (cluster-wide, across runs) and never fewer than `min_schedulable_nodes`
schedulable nodes left.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from daemon.safety.guard import Decision, Refusal

Node = dict[str, Any]
Pod = dict[str, Any]
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
MIRROR = "kubernetes.io/config.mirror"


@dataclass(frozen=True)
class NodeLimits:
    max_nodes: int = 1
    min_schedulable_nodes: int | str = 1  # a count, or "N%" of all nodes
    allow_protected_namespaces: bool = False
    protected_namespaces: frozenset[str] = frozenset()


@dataclass
class NodePlan:
    nodes: list[str]
    decisions: list[Decision]
    candidates: list[str]
    evict: dict[str, list[Pod]] = field(default_factory=dict)  # node -> pods to evict


def _name(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def _pod_name(pod: Pod) -> str:
    return f"{pod['metadata'].get('namespace', '')}/{pod['metadata']['name']}"


def is_control_plane(node: Node) -> bool:
    labels = node["metadata"].get("labels") or {}
    return any(label in labels for label in CONTROL_PLANE_LABELS)


def is_cordoned(node: Node) -> bool:
    return bool((node.get("spec") or {}).get("unschedulable"))


def schedulable(node: Node) -> bool:
    """Where an ordinary pod can land: Ready, not cordoned, and no NoSchedule/NoExecute taint
    (a tainted control-plane node takes no workload pods, so it does not hold the floor)."""
    taints = (node.get("spec") or {}).get("taints") or []
    return (
        node_ready(node)
        and not is_cordoned(node)
        and not any(t.get("effect") in ("NoSchedule", "NoExecute") for t in taints)
    )


def node_ready(node: Node) -> bool:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _controller(pod: Pod) -> dict[str, Any] | None:
    return next(
        (r for r in pod["metadata"].get("ownerReferences") or [] if r.get("controller")), None
    )


@dataclass
class Drainable:
    """What `kubectl drain --ignore-daemonsets` does with each pod of a node."""

    evict: list[Pod] = field(default_factory=list)
    left: list[tuple[str, str]] = field(default_factory=list)  # (pod, why)
    blockers: list[tuple[str, str]] = field(default_factory=list)  # (pod, why the drain stops)


def drainable(
    pods: list[Pod], *, delete_local_data: bool = False, force: bool = False
) -> Drainable:
    """kubectl's filters: mirror and DaemonSet pods stay; finished pods go; an unmanaged pod
    (without `force`) or one with emptyDir data (without `delete_local_data`) stops the drain."""
    out = Drainable()
    for pod in sorted(pods, key=_pod_name):
        name = _pod_name(pod)
        meta = pod["metadata"]
        if "deletionTimestamp" in meta:
            out.left.append((name, "already terminating"))
            continue
        if MIRROR in (meta.get("annotations") or {}):
            out.left.append((name, "mirror pod (static, run by the kubelet)"))
            continue
        owner = _controller(pod)
        if owner is not None and owner.get("kind") == "DaemonSet":
            out.left.append((name, "DaemonSet pod"))
            continue
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            out.evict.append(pod)
            continue
        if owner is None and not force:
            out.blockers.append((name, "not managed by a controller (kubectl drain needs --force)"))
            continue
        volumes = (pod.get("spec") or {}).get("volumes") or []
        if any("emptyDir" in v for v in volumes) and not delete_local_data:
            out.blockers.append((name, "has emptyDir data (delete_local_data is false)"))
            continue
        out.evict.append(pod)
    return out


def min_schedulable(floor: int | str, total: int) -> int:
    if isinstance(floor, str):
        text = floor.strip()
        if text.endswith("%"):
            return math.ceil(float(text[:-1]) / 100 * total)
        return int(text)
    return int(floor)


def plan_nodes(
    candidates: list[Node],
    all_nodes: list[Node],
    pods_by_node: dict[str, list[Pod]],
    count: int,
    *,
    cordoned_by_aftershock: int,
    limits: NodeLimits,
    rng: random.Random,
    delete_local_data: bool = False,
    force: bool = False,
    evicting: bool = True,
) -> NodePlan | Refusal:
    """The nodes to cordon and drain, or a refusal naming the rule (and the pods) that won.
    `evicting` False (a cordon alone): the protected-namespace rule still applies to the node's
    pods (a cordoned node is one `kubectl drain` away), the drainability rules do not."""
    names = sorted(_name(n) for n in candidates)
    decisions: list[Decision] = []
    eligible: list[Node] = []
    evict: dict[str, list[Pod]] = {}
    for node in sorted(candidates, key=_name):
        name = _name(node)
        rule, detail, pods = node_rule(
            node,
            pods_by_node.get(name, []),
            limits,
            delete_local_data=delete_local_data,
            force=force,
            evict=evicting,
        )
        if rule:
            decisions.append(Decision(name, rule, "excluded", detail))
        else:
            evict[name] = pods
            eligible.append(node)
    if not eligible:
        rule = _dominant(decisions) if candidates else "no_targets"
        detail = (
            "no node matches the selection"
            if not candidates
            else "; ".join(f"{d.subject}: {d.detail}" for d in decisions)
        )
        decisions.append(Decision("run", rule, "refused", detail))
        return Refusal(rule, detail, decisions, names)
    count = max(1, count)
    room = limits.max_nodes - cordoned_by_aftershock
    if count > room:
        detail = (
            f"{count} node(s) requested; max_nodes {limits.max_nodes} and "
            f"{cordoned_by_aftershock} already cordoned by aftershock leave {max(0, room)}"
        )
        decisions.append(Decision("run", "max_nodes", "refused", detail))
        return Refusal("max_nodes", detail, decisions, names)
    left = sum(1 for n in all_nodes if schedulable(n))
    floor = min_schedulable(limits.min_schedulable_nodes, len(all_nodes))
    if left - count < floor:
        detail = (
            f"cordoning {count} of {left} schedulable node(s) would leave "
            f"{left - count}, under min_schedulable_nodes {limits.min_schedulable_nodes}"
            f" ({floor} of {len(all_nodes)})"
        )
        decisions.append(Decision("run", "min_schedulable_nodes", "refused", detail))
        return Refusal("min_schedulable_nodes", detail, decisions, names)
    if count > len(eligible):
        detail = f"{count} node(s) requested, {len(eligible)} eligible"
        decisions.append(Decision("run", "not_enough_nodes", "refused", detail))
        return Refusal("not_enough_nodes", detail, decisions, names)
    chosen = sorted(_name(n) for n in rng.sample(sorted(eligible, key=_name), count))
    decisions.extend(
        Decision(n, "node_limits", "kept", f"{len(evict[n])} pod(s) to evict") for n in chosen
    )
    return NodePlan(chosen, decisions, names, {n: evict[n] for n in chosen})


def node_rule(
    node: Node,
    pods: list[Pod],
    limits: NodeLimits,
    *,
    delete_local_data: bool = False,
    force: bool = False,
    evict: bool = True,
) -> tuple[str, str, list[Pod]]:
    """(rule, detail, []) when the node is excluded, else ("", "", the pods to evict)."""
    if is_control_plane(node):
        return "control_plane", "control-plane nodes are never drained", []
    if is_cordoned(node):
        return "already_cordoned", "already cordoned (not by this drill)", []
    if not node_ready(node):
        return "node_not_ready", "the node is not Ready", []
    protected = sorted(
        _pod_name(p)
        for p in pods
        if p["metadata"].get("namespace") in limits.protected_namespaces and not _is_left_anyway(p)
    )
    if protected and not limits.allow_protected_namespaces:
        return (
            "protected_namespace",
            "runs pods of protected namespaces: " + ", ".join(protected),
            [],
        )
    if not evict:
        return "", "", []
    plan = drainable(pods, delete_local_data=delete_local_data, force=force)
    if plan.blockers:
        return "undrainable_pods", "; ".join(f"{p}: {why}" for p, why in plan.blockers), []
    return "", "", plan.evict


def _is_left_anyway(pod: Pod) -> bool:
    """DaemonSet and mirror pods stay on a drained node: they do not make it protected."""
    owner = _controller(pod)
    return (owner is not None and owner.get("kind") == "DaemonSet") or MIRROR in (
        pod["metadata"].get("annotations") or {}
    )


RULES = (
    "control_plane",
    "protected_namespace",
    "undrainable_pods",
    "already_cordoned",
    "node_not_ready",
)


def _dominant(decisions: list[Decision]) -> str:
    rules = [d.rule for d in decisions if d.verdict == "excluded"]
    return max(RULES, key=lambda r: (rules.count(r), -RULES.index(r))) if rules else "no_targets"
