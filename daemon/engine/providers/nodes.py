"""Node drills: chaosk8s's cordon/uncordon/drain_nodes and aftershock.nodes.drain, guarded.

Every provider here goes through `guarded_nodes`: node drills must be enabled
(`nodes.enabled`); the node guard (daemon.safety.nodes) picks the nodes; the pod guard plans
the evictions as one request (opt-in, protected namespaces, max percent, min ready); then
each node is cordoned (intent first, daemon.engine.cordons) and its pods are evicted one by
one through the Eviction API, each with its own intent, retried on a PDB's 429 until the
drain's deadline. Cordons are taken back at the end of the run, whatever happened.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

from daemon.durations import parse_duration
from daemon.engine import cordons
from daemon.engine.budget import Settled
from daemon.engine.context import RunContext
from daemon.engine.errors import ActivityFailed
from daemon.engine.providers.k8s import (
    Live,
    Refused,
    World,
    _ready_now,
    _start_tracking,
    apply_disruption,
    build_world,
    journal_plan,
    plan_in_budget,
    record_event,
)
from daemon.kube.client import Kube
from daemon.kube.errors import KubeError, NotFound, TooManyRequests
from daemon.records import WorkloadKey
from daemon.safety.budget import admit
from daemon.safety.guard import (
    Decision,
    Limits,
    Plan,
    Refusal,
    Request,
    Target,
    Workload,
)
from daemon.safety.limits import effective_limits
from daemon.safety.nodes import NodeLimits, NodePlan, plan_nodes

METHOD = "drain"  # the disruption (daemon.disruptions.nodes) and the intents' method
RETRY_SECONDS = 1.0  # between evictions a PDB refused (kubectl drain: 5 s)


# ---------------------------------------------------------------------- chaosk8s 0.39


def cordon_node(
    ctx: RunContext, name: str | None = None, label_selector: str | None = None
) -> list[str]:
    """chaosk8s.node.actions.cordon_node: every matching node, guarded; returns their names."""
    result = guarded_nodes(
        ctx, _Select(name=name, label_selector=label_selector), evict=False, every=True
    )
    return list(result["nodes"])


def uncordon_node(
    ctx: RunContext, name: str | None = None, label_selector: str | None = None
) -> list[str]:
    """chaosk8s.node.actions.uncordon_node: only nodes this run cordoned (others are journaled
    as skipped: an operator's cordon is not aftershock's to lift)."""
    result = guarded_nodes(
        ctx, _Select(name=name, label_selector=label_selector), evict=False, uncordon=True
    )
    return list(result["nodes"])


def _uncordon_ours(ctx: RunContext, kube: Kube, select: _Select) -> dict[str, Any]:
    done = []
    for node in _candidates(kube, select):
        node_name = node["metadata"]["name"]
        try:
            if cordons.uncordon(kube, node_name, ctx.run_id):
                done.append(node_name)
                ctx.append("uncordoned", {"node": node_name, "at": time.time()})
            else:
                ctx.append("plans", {"uncordon": node_name, "skipped": "not cordoned by this run"})
        except KubeError as exc:
            raise ActivityFailed(f"Failed to schedule node '{node_name}': {exc.message}") from None
    return {"nodes": done}


def drain_nodes(
    ctx: RunContext,
    name: str | None = None,
    label_selector: str | None = None,
    delete_pods_with_local_storage: bool = False,
    timeout: int = 120,
    count: int | None = None,
    pod_label_selector: str | None = None,
    pod_namespace: str | None = None,
) -> list[str]:
    """chaosk8s.node.actions.drain_nodes: cordon, evict (as `kubectl drain
    --ignore-daemonsets`), wait for the pods to go; returns the drained nodes' names."""
    select = _Select(
        name=name,
        label_selector=label_selector,
        pod_label_selector=pod_label_selector,
        pod_namespace=pod_namespace,
    )
    result = guarded_nodes(
        ctx,
        select,
        evict=True,
        count=count,
        delete_local_data=delete_pods_with_local_storage,
        timeout=float(timeout),
        every=True,
    )
    return list(result["nodes"])


# ---------------------------------------------------------------------- native


def drain(
    ctx: RunContext,
    names: list[str] | None = None,
    label_selector: str = "",
    topology_key: str = "",
    topology_value: str = "",
    count: int | None = None,
    percent: float | None = None,
    delete_local_data: bool = False,
    force: bool = False,
    timeout: Any = None,
    grace_period: int | None = None,
) -> dict[str, Any]:
    """aftershock.nodes.drain: select nodes (names, labels, one topology domain such as a
    zone), `count` or `percent` of them; cordon, evict, wait; the result names what moved."""
    select = _Select(
        names=names or [],
        label_selector=label_selector,
        topology_key=topology_key,
        topology_value=topology_value,
    )
    seconds = parse_duration(timeout).total_seconds() if timeout is not None else None
    return guarded_nodes(
        ctx,
        select,
        evict=True,
        count=count,
        percent=percent,
        delete_local_data=delete_local_data,
        force=force,
        timeout=seconds,
        grace_period=grace_period,
    )


# ---------------------------------------------------------------------- the guard


@dataclass(frozen=True)
class _Select:
    name: str | None = None
    names: list[str] = field(default_factory=list)
    label_selector: str | None = None
    topology_key: str = ""
    topology_value: str = ""
    pod_label_selector: str | None = None
    pod_namespace: str | None = None


def _candidates(kube: Kube, select: _Select) -> list[dict[str, Any]]:
    try:
        nodes, _ = kube.list(
            "nodes",
            label_selector=select.label_selector or "",
            field_selector=f"metadata.name={select.name}" if select.name else "",
        )
        if select.names:
            nodes = [n for n in nodes if n["metadata"]["name"] in select.names]
        if select.topology_key:
            domains = sorted(
                {(n["metadata"].get("labels") or {}).get(select.topology_key, "") for n in nodes}
                - {""}
            )
            domain = select.topology_value or (domains[0] if domains else "")
            nodes = [
                n
                for n in nodes
                if (n["metadata"].get("labels") or {}).get(select.topology_key) == domain
            ]
        if select.pod_label_selector and select.pod_namespace:
            pods, _ = kube.list(
                "pods", select.pod_namespace, label_selector=select.pod_label_selector
            )
            hosts = {(p.get("spec") or {}).get("nodeName") for p in pods}
            nodes = [n for n in nodes if n["metadata"]["name"] in hosts]
    except (KubeError, ValueError) as exc:
        message = exc.message if isinstance(exc, KubeError) else str(exc)
        raise ActivityFailed(f"could not read the cluster's nodes: {message}") from None
    if not nodes:
        raise ActivityFailed("failed to find a node that matches selector")
    return sorted(nodes, key=lambda n: n["metadata"]["name"])


def _count(candidates: int, count: int | None, percent: float | None, every: bool) -> int:
    """`percent` of the candidates (rounded up), else `count`, else all of them (chaosk8s)
    or one (aftershock.nodes.drain)."""
    if percent is not None:
        return max(1, math.ceil(percent / 100 * candidates))
    if count is not None:
        return int(count)
    return candidates if every else 1


@dataclass(frozen=True)
class _Drill:
    evict: bool
    count: int | None = None
    percent: float | None = None
    delete_local_data: bool = False
    force: bool = False
    timeout: float | None = None
    grace_period: int | None = None
    every: bool = False
    uncordon: bool = False  # take back this run's cordons (never another's)


def guarded_nodes(ctx: RunContext, select: _Select, **options: Any) -> dict[str, Any]:
    """Plan (nodes, then pods), cordon with intents, evict with intents; see module doc."""
    drill = _Drill(**options)
    settings = ctx.settings.nodes
    if not settings.enabled:
        raise Refused(
            "node_drills_disabled",
            "node drills are off (nodes.enabled: false; the chart's nodeDrills.enabled adds RBAC)",
        )
    kube = ctx.require_kube()
    if drill.uncordon:
        return _uncordon_ours(ctx, kube, select)
    limits = effective_limits(
        ctx.settings.safety, ctx.aftershock.blast_radius, ctx.settings.kube.namespace
    )
    deadline = time.monotonic() + (
        drill.timeout if drill.timeout is not None else settings.drain_timeout.total_seconds()
    )
    with ctx.budget.lock, cordons.LOCK:
        candidates = _candidates(kube, select)
        node_plan = _plan_nodes(ctx, kube, candidates, drill, limits)
        pods = [p for n in node_plan.nodes for p in node_plan.evict[n]]
        planned = _plan_pods(ctx, kube, pods, limits) if pods else None
        if ctx.dry_run:
            return {
                "dry_run": True,
                "nodes": [],
                "would_cordon": node_plan.nodes,
                "would_evict": sorted(
                    f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods
                ),
            }
        record: dict[str, Any] = {"nodes": [], "started_at": time.time(), "evicted": []}
        ctx.append("node_drills", record)
        cordoned: list[str] = record["nodes"]
        for name in node_plan.nodes:
            node = next(n for n in candidates if n["metadata"]["name"] == name)
            try:
                cordons.cordon(
                    ctx,
                    kube,
                    node,
                    max_nodes=settings.max_nodes,
                    min_schedulable_nodes=settings.min_schedulable_nodes,
                )
            except Exception as exc:  # noqa: BLE001 - never half applied: whatever stopped
                released = [n for n in cordoned if _release_now(ctx, kube, n)]  # it, the
                record["uncordoned_on_failure"] = released  # drill's cordons go at once
                why = str(exc) if isinstance(exc, cordons.CordonRefusedError) else repr(exc)
                raise ActivityFailed(
                    f"{why}; cordoned before it: {cordoned}, uncordoned again: {released}"
                ) from None
            cordoned.append(name)
    if not drill.evict or planned is None:
        return {"nodes": cordoned, "evicted": [], "workloads": []}
    evicted, failure = _evict_all(
        ctx, kube, planned, deadline, drill.grace_period, cordons=len(cordoned)
    )
    record["evicted"] = [t.name for t in evicted]
    record["workloads"] = sorted({str(WorkloadKey(*t.workload)) for t in evicted})
    failure = failure or _wait_gone(kube, evicted, deadline)
    if failure:
        released = [n for n in cordoned if _release_now(ctx, kube, n)]
        record["uncordoned_on_failure"] = released
        raise ActivityFailed(
            f"drain of {', '.join(cordoned)} failed: {failure}; uncordoned {released}"
        )
    return {"nodes": cordoned, "evicted": record["evicted"], "workloads": record["workloads"]}


def _plan_nodes(
    ctx: RunContext, kube: Kube, candidates: list[dict[str, Any]], drill: _Drill, limits: Limits
) -> NodePlan:
    settings = ctx.settings.nodes
    try:
        all_nodes, _ = kube.list("nodes")
        pods_by_node: dict[str, list[dict[str, Any]]] = {}
        if drill.evict or not ctx.settings.nodes.allow_protected_namespaces:
            for node in candidates:  # a cordon alone still may not touch protected pods' nodes
                name = node["metadata"]["name"]
                pods_by_node[name] = kube.list(
                    "pods", None, field_selector=f"spec.nodeName={name}"
                )[0]
        held = cordons.held_in(all_nodes)  # the same listing: one read of the nodes
    except KubeError as exc:
        raise ActivityFailed(
            f"could not read the cluster to plan the drill: {exc.message}"
        ) from None
    wanted = _count(len(candidates), drill.count, drill.percent, drill.every)
    result = plan_nodes(
        candidates,
        all_nodes,
        pods_by_node,
        wanted,
        cordoned_by_aftershock=len(held),
        limits=NodeLimits(
            max_nodes=settings.max_nodes,
            min_schedulable_nodes=settings.min_schedulable_nodes,
            allow_protected_namespaces=settings.allow_protected_namespaces,
            protected_namespaces=limits.protected_namespaces,
        ),
        rng=ctx.rng,
        delete_local_data=drill.delete_local_data,
        force=drill.force,
        evicting=drill.evict,
    )
    _journal_nodes(ctx, wanted, result)
    if isinstance(result, Refusal):
        raise Refused(result.reason, result.detail)
    return result


def _journal_nodes(ctx: RunContext, wanted: int, result: NodePlan | Refusal) -> None:
    ctx.append(
        "plans",
        {
            "request": {"mode": "nodes", "value": wanted, "method": METHOD},
            "candidates": result.candidates,
            "decisions": [d.as_json() for d in result.decisions],
            "targets": result.nodes if isinstance(result, NodePlan) else [],
            "refused": None
            if isinstance(result, NodePlan)
            else {"reason": result.reason, "detail": result.detail},
        },
    )


@dataclass(frozen=True)
class _Planned:
    plan: Plan
    workloads: dict[WorkloadKey, Workload]
    live: Live


def _plan_pods(ctx: RunContext, kube: Kube, pods: list[dict[str, Any]], limits: Limits) -> _Planned:
    """Every pod the drain displaces, as one request to the pod guard, which must keep all
    of them: a drain that would leave excluded pods behind (not opted in, not Ready, ...) is
    refused, never half applied. PDBs are the Eviction API's to enforce (retried, as kubectl)."""
    try:
        workload_of, workloads, namespace_labels, _pdbs = build_world(
            kube, pods, read_namespaces=ctx.settings.kube.cluster_scope
        )
    except KubeError as exc:
        raise ActivityFailed(
            f"could not read the cluster to plan the drain: {exc.message}"
        ) from None
    strict = dataclasses.replace(limits, on_limit="refuse")
    if ctx.settings.nodes.allow_protected_namespaces:  # explicitly allowed; opt-in still holds
        strict = dataclasses.replace(
            strict, protected_namespaces=frozenset({limits.own_namespace} - {""})
        )
    world: World = (workload_of, workloads, namespace_labels, [])
    result, history = plan_in_budget(ctx, pods, Request("all"), world, strict)
    if isinstance(result, Plan) and len(result.targets) < len(pods):
        kept = {t.name for t in result.targets}
        left = [d for d in result.decisions if d.verdict == "excluded" and d.subject not in kept]
        detail = "the drain would displace pods the guard excludes: " + "; ".join(
            f"{d.subject} ({d.rule}: {d.detail})" for d in left
        )
        result = Refusal(
            left[0].rule if left else "excluded",
            detail,
            [*result.decisions, Decision("run", "drain", "refused", detail)],
            result.candidates,
        )
    journal_plan(
        ctx, {"mode": "all", "value": len(pods), "order": "node", "method": METHOD}, result
    )
    if not isinstance(result, Plan):
        raise Refused(result.reason, result.detail)
    return _Planned(result, workloads, Live(workloads, strict, history.disrupted_last_24h))


def _evict_all(
    ctx: RunContext,
    kube: Kube,
    planned: _Planned,
    deadline: float,
    grace_period: int | None,
    *,
    cordons: int = 0,
) -> tuple[list[Target], str]:
    """Evict each planned pod with an intent first; a PDB's 429 is retried to the deadline.
    `cordons`: made by this drill after its plan read the 24 h count; each is one disruption
    of the daily budget (docs/node-drills.md), so the re-check before each eviction counts it."""
    chosen, workloads, live = planned.plan, planned.workloads, planned.live
    budget = ctx.budget
    evicted: list[Target] = []
    returned_at: dict[WorkloadKey, float] = {}
    failure = ""
    uncertain: list[Target] = []  # sent, no answer: counted, and said so
    pods = [t.pod for t in chosen.targets]
    try:
        for target in chosen.targets:
            meta = target.pod["metadata"]
            uid = str(meta.get("uid", ""))
            with budget.lock:  # the re-check and the intent, as one step of the run's budget
                workload = workloads[target.workload]
                refusal = admit(
                    budget.ledger,
                    target.workload,
                    desired=workload.desired,
                    ready_now=_ready_now(ctx, kube, target, workload),
                    limits=live.limits,
                    disrupted_last_24h=live.disrupted_last_24h + cordons + len(evicted),
                )
                if refusal is not None:
                    failure = f"{target.name} re-checked before its eviction: {refusal[1]}"
                    break
                intent_id = budget.intent(
                    ctx.run_id,
                    target.workload,
                    pod=meta["name"],
                    uid=uid,
                    method=METHOD,
                    now=ctx.now(),
                )
            # The lock is shared with the daemon's other runs: never held while a PDB waits.
            state, detail = _evict_one(ctx, kube, meta, deadline, grace_period)
            if state == "done" and detail != "already gone":
                record_event(ctx, kube, target, METHOD)  # as for every pod kill
            with budget.lock:
                problem = budget.settle(intent_id, target.workload, uid, state, detail)
            if problem:
                ctx.append("errors", problem)
            if state == "failed":
                failure = f"{target.name}: {detail}"
                break
            returned_at[target.workload] = time.time()
            evicted.append(target)
            if state == "uncertain":
                uncertain.append(target)
                failure = f"{target.name}: {detail}"
                break
    finally:
        _start_tracking(ctx, kube, evicted, returned_at, pods, METHOD, workloads)
        for target in evicted:
            ctx.append(
                "disrupted",
                {
                    "pod": target.name,
                    "workload": str(WorkloadKey(*target.workload)),
                    "method": METHOD,
                    "at": returned_at.get(target.workload, time.time()),
                    "state": "uncertain" if target in uncertain else "done",
                },
            )
    return evicted, failure


def _evict_one(
    ctx: RunContext, kube: Kube, meta: dict[str, Any], deadline: float, grace_period: int | None
) -> tuple[Settled, str]:
    """(state, detail): done, failed (refused or not sent) or uncertain (no answer)."""
    refusals = 0
    while True:
        closed = ctx.disruption_blocked()
        if closed:
            return "failed", f"not sent: {closed}"
        try:  # the drain's own disruption (daemon/disruptions/nodes.py): an eviction
            apply_disruption(kube, METHOD, meta, grace_period)
        except NotFound:
            return "done", "already gone"
        except TooManyRequests as exc:
            refusals += 1
            pause = RETRY_SECONDS if exc.retry_after is None else min(exc.retry_after, 5.0)
            if time.monotonic() + pause > deadline:
                return (
                    "failed",
                    f"{exc.message} (retried {refusals} time(s) until the drain's deadline)",
                )
            ctx.stop.wait(pause)
        except KubeError as exc:
            state: Settled = "uncertain" if exc.status == 0 else "failed"
            return state, exc.message
        else:
            return "done", ""


def _wait_gone(kube: Kube, evicted: list[Target], deadline: float) -> str:
    """As kubectl drain: wait until every evicted pod is gone (or replaced under its name)."""
    pending = list(evicted)
    while pending:
        still = []
        for target in pending:
            meta = target.pod["metadata"]
            try:
                pod = kube.get("pods", meta["namespace"], meta["name"])
            except NotFound:
                continue
            except KubeError:
                still.append(target)
                continue
            if pod["metadata"].get("uid") == meta.get("uid"):
                still.append(target)
        pending = still
        if not pending:
            return ""
        if time.monotonic() > deadline:
            return "still terminating: " + ", ".join(t.name for t in pending)
        time.sleep(0.1)
    return ""


def _release_now(ctx: RunContext, kube: Kube, node: str) -> bool:
    try:
        done = cordons.uncordon(kube, node, ctx.run_id)
    except KubeError as exc:
        ctx.append("errors", f"uncordon {node}: {exc.message} (retried at the end of the run)")
        return False
    if done:
        ctx.append("uncordoned", {"node": node, "at": time.time()})
    return done
