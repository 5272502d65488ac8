"""chaosk8s functions implemented natively, and the guarded pod kill behind them.

The probes keep chaosk8s's arguments, return values and failure messages. Every pod
disruption, whichever Chaos Toolkit name asked for it, goes through the same path: list,
build the world (workloads, namespaces, PDBs), plan with the guard, then delete or evict
one pod at a time with a uid precondition, emit an Event, and start recovery tracking.
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from daemon import disruptions, records
from daemon.durations import parse_duration
from daemon.engine.budget import Settled
from daemon.engine.context import RunContext
from daemon.engine.errors import ActivityFailed, Unobservable
from daemon.kube.client import Kube
from daemon.kube.errors import (
    Forbidden,
    Invalid,
    KubeError,
    NotFound,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from daemon.labels import SelectorError, from_label_selector, parse_selector, to_string
from daemon.records import WorkloadKey
from daemon.recovery import RESOURCES, RecoveryTracker
from daemon.safety.budget import admit
from daemon.safety.guard import (
    Budget,
    History,
    Limits,
    Plan,
    Refusal,
    Request,
    Target,
    Workload,
    is_ready,
    plan,
)
from daemon.safety.limits import effective_limits


class Refused(ActivityFailed):
    """The guard refused the disruption; the run ends `refused`, nothing was injected."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"refused by the blast-radius guard ({reason}): {detail}")
        self.reason = reason
        self.detail = detail


def api_failure(exc: KubeError) -> ActivityFailed:
    """A probe's API error: `Unobservable` when the API did not serve the request (outage,
    5xx, throttling), which is no verdict on the system under test; else ActivityFailed."""
    if isinstance(exc, Unavailable | TooManyRequests):
        return Unobservable(exc.message)
    return ActivityFailed(exc.message)


def _pods(kube: Kube, namespace: str, label_selector: str | None) -> list[dict[str, Any]]:
    try:
        return kube.list("pods", namespace, label_selector=label_selector or "")[0]
    except KubeError as exc:
        raise api_failure(exc) from None


def _fail_or_false(raise_on: bool, message: str) -> bool:
    if raise_on:
        raise ActivityFailed(message)
    return False


# ---------------------------------------------------------------------- chaosk8s probes


def pods_in_phase(
    ctx: RunContext,
    label_selector: str,
    phase: str = "Running",
    ns: str = "default",
    raise_on_invalid_phase: bool = True,
) -> bool:
    pods = _pods(ctx.require_kube(), ns, label_selector)
    if not pods:
        return _fail_or_false(raise_on_invalid_phase, f"no pods '{label_selector}' were found")
    for pod in pods:
        current = (pod.get("status") or {}).get("phase")
        if current != phase:
            return _fail_or_false(
                raise_on_invalid_phase,
                f"pod '{label_selector}' is in phase '{current}' but should be '{phase}'",
            )
    return True


def pods_not_in_phase(
    ctx: RunContext,
    label_selector: str,
    phase: str = "Running",
    ns: str = "default",
    raise_on_in_phase: bool = True,
) -> bool:
    pods = _pods(ctx.require_kube(), ns, label_selector)
    if not pods:
        return _fail_or_false(raise_on_in_phase, f"no pods '{label_selector}' were found")
    for pod in pods:
        current = (pod.get("status") or {}).get("phase")
        if current == phase:
            return _fail_or_false(
                raise_on_in_phase, f"pod '{label_selector}' should not be in phase '{current}'"
            )
    return True


def pods_in_conditions(
    ctx: RunContext,
    label_selector: str,
    conditions: list[dict[str, str]],
    ns: str = "default",
    raise_on_invalid_conditions: bool = True,
) -> bool:
    pods = _pods(ctx.require_kube(), ns, label_selector)
    if not pods:
        return _fail_or_false(raise_on_invalid_conditions, f"no pods '{label_selector}' were found")
    for pod in pods:
        present = [
            {"type": c.get("type"), "status": c.get("status")}
            for c in (pod.get("status") or {}).get("conditions") or []
        ]
        for condition in conditions:
            if condition not in present:
                return _fail_or_false(
                    raise_on_invalid_conditions,
                    f"pod {pod['metadata']['name']} does not match the following given "
                    f"condition: {condition}",
                )
    return True


def count_pods(
    ctx: RunContext, label_selector: str, phase: str | None = None, ns: str = "default"
) -> int:
    pods = _pods(ctx.require_kube(), ns, label_selector)
    if not phase:
        return len(pods)
    return sum(1 for p in pods if (p.get("status") or {}).get("phase") == phase)


def count_min_pods(
    ctx: RunContext,
    label_selector: str,
    phase: str = "Running",
    min_count: int = 2,
    ns: str = "default",
) -> bool:
    return count_pods(ctx, label_selector, phase, ns) >= min_count


def all_pods_healthy(
    ctx: RunContext, ns: str = "default", raise_on_any_unhealthy: bool = True
) -> bool:
    pods = _pods(ctx.require_kube(), ns, None)
    bad = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Running", "Succeeded")]
    if bad:
        return _fail_or_false(raise_on_any_unhealthy, "the system is unhealthy")
    return True


def _since_seconds(last: str | None) -> int | None:
    if not last:
        return None
    text = last.strip().lower()
    match = re.fullmatch(r"(\d+)\s*(second|minute|hour|day)s?(\s+ago)?", text)
    if match:
        unit = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[match.group(2)]
        return int(match.group(1)) * unit
    try:
        return int(parse_duration(text).total_seconds())
    except ValueError:
        raise ActivityFailed(
            f"cannot read 'last' value {last!r}; write e.g. 20s or 5 minutes"
        ) from None


def read_pod_logs(
    ctx: RunContext,
    name: str | None = None,
    last: str | None = None,
    ns: str = "default",
    from_previous: bool = False,
    label_selector: str = "name in ({name})",
    container_name: str | None = None,
) -> dict[str, str]:
    selector = label_selector.format(name=name)
    kube = ctx.require_kube()
    since = _since_seconds(last)
    logs = {}
    for pod in _pods(kube, ns, selector):
        pod_name = pod["metadata"]["name"]
        try:
            logs[pod_name] = kube.pod_log(
                ns, pod_name, container=container_name, since_seconds=since, previous=from_previous
            )
        except KubeError as exc:
            raise api_failure(exc) from None
    return logs


def _deployment(
    ctx: RunContext, name: str, ns: str, label_selector: str | None
) -> list[dict[str, Any]]:
    try:
        return ctx.require_kube().list(
            "deployments",
            ns,
            label_selector=label_selector or "",
            field_selector=f"metadata.name={name}",
        )[0]
    except KubeError as exc:
        raise api_failure(exc) from None


def deployment_available_and_healthy(
    ctx: RunContext,
    name: str,
    ns: str = "default",
    label_selector: str | None = None,
    raise_on_unavailable: bool = True,
) -> bool:
    deployments = _deployment(ctx, name, ns, label_selector)
    if not deployments:
        return _fail_or_false(raise_on_unavailable, f"Deployment '{name}' was not found")
    for deployment in deployments:
        available = (deployment.get("status") or {}).get("availableReplicas")
        if available != (deployment.get("spec") or {}).get("replicas"):
            return _fail_or_false(raise_on_unavailable, f"Deployment '{name}' is not healthy")
    return True


def microservice_available_and_healthy(
    ctx: RunContext, name: str, ns: str = "default", label_selector: str | None = None
) -> bool:
    """chaosk8s returns None here whatever happens; aftershock really checks and returns a bool."""
    return deployment_available_and_healthy(
        ctx, name, ns, label_selector, raise_on_unavailable=False
    )


def deployment_fully_available(
    ctx: RunContext,
    name: str,
    ns: str = "default",
    label_selector: str | None = None,
    timeout: float = 30,
    raise_on_not_fully_available: bool = True,
) -> bool:
    kube = ctx.require_kube()
    deadline = time.monotonic() + float(timeout)
    try:
        items, rv = kube.list(
            "deployments",
            ns,
            label_selector=label_selector or "",
            field_selector=f"metadata.name={name}",
        )
        if items and _fully_ready(items[0]):
            return True
        while time.monotonic() < deadline and not ctx.stop.is_set():
            remaining = max(1, int(deadline - time.monotonic()))
            for kind, obj in kube.watch(
                "deployments",
                ns,
                resource_version=rv,
                timeout_seconds=remaining,
                field_selector=f"metadata.name={name}",
            ):
                rv = obj.get("metadata", {}).get("resourceVersion", rv)
                if kind in ("ADDED", "MODIFIED") and _fully_ready(obj):
                    return True
                if time.monotonic() >= deadline:
                    break
    except KubeError as exc:
        raise api_failure(exc) from None
    return _fail_or_false(
        raise_on_not_fully_available, f"deployment '{name}' failed to recover within {timeout}s"
    )


def _fully_ready(deployment: dict[str, Any]) -> bool:
    return bool(
        (deployment.get("status") or {}).get("readyReplicas", 0)
        == (deployment.get("spec") or {}).get("replicas")
    )


# ---------------------------------------------------------------------- the guarded kill


def terminate_pods(
    ctx: RunContext,
    label_selector: str | None = None,
    name_pattern: str | None = None,
    all: bool = False,
    rand: bool = False,
    mode: str = "fixed",
    qty: int = 1,
    grace_period: int = -1,
    ns: str = "default",
    order: str = "alphabetic",
) -> list[str]:
    """chaosk8s's selection semantics (first N alphabetically unless rand, percentage mode)."""
    if qty < 0:
        raise ActivityFailed(f"Cannot select pods. Quantity '{qty}' is negative.")
    if all:
        request = Request("all")
    elif mode == "percentage":
        request = Request("fixed-percent", qty, "random" if rand else order)  # type: ignore[arg-type]
    else:
        request = Request("fixed", qty, "random" if rand else order)  # type: ignore[arg-type]
    result = guarded_kill(
        ctx,
        namespaces=[ns],
        label_selector=label_selector or "",
        name_pattern=name_pattern,
        request=request,
        method="delete",
        grace_period=grace_period if grace_period >= 0 else None,
    )
    # chaosk8s returns the deleted pods' bare names.
    return [name.split("/", 1)[1] for name in result["killed"]]


def kill(
    ctx: RunContext,
    ns: str | None = None,
    namespaces: list[str] | None = None,
    label_selector: str | dict[str, Any] = "",
    annotation_selector: str = "",
    field_selector: str = "",
    node_selector: str = "",
    owner_kinds: list[str] | None = None,
    name_pattern: str | None = None,
    min_age: Any = None,
    mode: str = "one",
    value: float = 1,
    method: str = "delete",
    grace_period: int | None = None,
) -> dict[str, Any]:
    """aftershock.pods.kill: the native, richer selection."""
    if isinstance(label_selector, dict):
        try:
            label_selector = str(from_label_selector(label_selector))
        except SelectorError as exc:
            raise ActivityFailed(f"label_selector: {exc}") from None
    request = Request(mode, float(value), "random")  # type: ignore[arg-type]
    spaces = namespaces or ([ns] if ns else None)
    return guarded_kill(
        ctx,
        namespaces=spaces,
        label_selector=label_selector,
        field_selector=field_selector,
        annotation_selector=annotation_selector,
        node_selector=node_selector,
        owner_kinds=owner_kinds,
        name_pattern=name_pattern,
        min_age=parse_duration(min_age).total_seconds() if min_age else None,
        request=request,
        method=method,
        grace_period=grace_period,
    )


def _client_filters(
    pods: list[dict[str, Any]],
    *,
    name_pattern: str | None,
    annotation_selector: str,
    node_selector: str,
    owner_kinds: list[str] | None,
    min_age: float | None,
    kube: Kube,
) -> list[dict[str, Any]]:
    out = pods
    if name_pattern:
        pattern = re.compile(name_pattern)
        out = [p for p in out if pattern.search(p["metadata"]["name"])]
    if annotation_selector:
        selector = parse_selector(annotation_selector)
        out = [p for p in out if selector.matches(p["metadata"].get("annotations") or {})]
    if node_selector:
        selector = parse_selector(node_selector)
        nodes = {
            n["metadata"]["name"]: n["metadata"].get("labels") or {} for n in kube.list("nodes")[0]
        }
        out = [
            p
            for p in out
            if selector.matches(nodes.get((p.get("spec") or {}).get("nodeName", ""), {}))
        ]
    if owner_kinds:
        out = [p for p in out if _owned_by(p, owner_kinds, kube)]
    if min_age:
        now = time.time()
        out = [p for p in out if now - _stamp(p["metadata"].get("creationTimestamp")) >= min_age]
    return out


def _owned_by(pod: dict[str, Any], kinds: list[str], kube: Kube) -> bool:
    """Does a controller of the pod (its own, or its ReplicaSet's) match one of `kinds`?
    `Kind` matches any API group, `Kind.group` (Rollout.argoproj.io) only that group."""
    chain = [_controller_ref(pod)]
    if chain[0] is not None and chain[0]["kind"] == "ReplicaSet":
        with contextlib.suppress(KubeError):
            rs = kube.get("replicasets", pod["metadata"]["namespace"], chain[0]["name"])
            chain.append(_controller_ref(rs))
    for ref in (r for r in chain if r is not None):
        group = str(ref.get("apiVersion", "")).rpartition("/")[0]
        names = {ref["kind"], f"{ref['kind']}.{group}" if group else ref["kind"]}
        if names & set(kinds):
            return True
    return False


def _stamp(text: str | None) -> float:
    if not text:
        return 0.0
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def build_world(
    kube: Kube, pods: list[dict[str, Any]], *, read_namespaces: bool = True
) -> tuple[
    dict[str, WorkloadKey], dict[WorkloadKey, Workload], dict[str, dict[str, str]], list[Budget]
]:
    """Workload of each pod, readiness, namespace labels and PDBs, from namespaced lists only."""
    namespaces = sorted({p["metadata"]["namespace"] for p in pods})
    workload_of: dict[str, WorkloadKey] = {}
    workloads: dict[WorkloadKey, Workload] = {}
    labels: dict[str, dict[str, str]] = {}
    budgets: list[Budget] = []
    for namespace in namespaces:
        labels[namespace] = {}
        if read_namespaces:
            try:
                labels[namespace] = (
                    kube.get("namespaces", None, namespace)["metadata"].get("labels") or {}
                )
            except KubeError:
                labels[namespace] = {}
        owners: dict[tuple[str, str], dict[str, Any]] = {}
        for kind, resource in RESOURCES.items():
            for obj in kube.list(resource, namespace)[0]:
                owners[(kind, obj["metadata"]["name"])] = obj
        for pdb in kube.list("poddisruptionbudgets", namespace)[0]:
            try:
                selector = from_label_selector((pdb.get("spec") or {}).get("selector"))
            except SelectorError:
                continue
            budgets.append(
                Budget(
                    namespace,
                    pdb["metadata"]["name"],
                    int((pdb.get("status") or {}).get("disruptionsAllowed", 0)),
                    selector,
                )
            )
        siblings: list[dict[str, Any]] | None = None  # every pod of the namespace, if needed
        for pod in (p for p in pods if p["metadata"]["namespace"] == namespace):
            key = _workload_key(pod, owners)
            workload_of[f"{namespace}/{pod['metadata']['name']}"] = key
            if key in workloads:
                continue
            if key[1] in RESOURCES or key[1] == "Pod":
                workloads[key] = _workload(key, owners.get((key[1], key[2])), pod)
                continue
            if siblings is None:
                siblings = kube.list("pods", namespace)[0]
            workloads[key] = _owned_workload(key, top_controller(pod, owners)[2], owners, siblings)
    return workload_of, workloads, labels, budgets


def _controller_ref(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    refs = (obj or {}).get("metadata", {}).get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), None)


def top_controller(
    pod: dict[str, Any], owners: dict[tuple[str, str], dict[str, Any]]
) -> tuple[str, str, str, str]:
    """(kind, name, uid, API group) of the pod's top controller, walking controller
    ownerReferences through a ReplicaSet (Deployment, Argo Rollout, ...); the pod itself
    when nothing controls it. Only ReplicaSets are read: an operator's own kind never is."""
    ref = _controller_ref(pod)
    if ref is None:
        return ("Pod", pod["metadata"]["name"], "", "")
    if ref["kind"] == "ReplicaSet":
        parent = _controller_ref(owners.get(("ReplicaSet", ref["name"])))
        if parent is not None:
            ref = parent
    group = str(ref.get("apiVersion", "")).rpartition("/")[0]
    return (ref["kind"], ref["name"], str(ref.get("uid", "")), group)


def owner_uids(uid: str, owners: dict[tuple[str, str], dict[str, Any]]) -> frozenset[str]:
    """The owner's uid and those of the ReplicaSets it controls: its pods' controllers."""
    controlled = {
        rs["metadata"]["uid"]
        for (kind, _), rs in owners.items()
        if kind == "ReplicaSet" and (_controller_ref(rs) or {}).get("uid") == uid
    }
    return frozenset({uid, *controlled})


def _owned_workload(
    key: WorkloadKey,
    uid: str,
    owners: dict[tuple[str, str], dict[str, Any]],
    siblings: list[dict[str, Any]],
) -> Workload:
    """A kind aftershock does not know, grouped by its owner's uid: desired = the pods it
    runs now (not terminating), ready = those Ready. The owner itself is never read."""
    uids = owner_uids(uid, owners)
    mine = [
        p
        for p in siblings
        if (_controller_ref(p) or {}).get("uid") in uids
        and "deletionTimestamp" not in p["metadata"]
    ]
    ready = sum(1 for p in mine if is_ready(p))
    labels = (mine[0]["metadata"].get("labels") or {}) if mine else {}
    return Workload(key, len(mine), ready, labels, owner_uids=uids)


def _workload_key(
    pod: dict[str, Any], owners: dict[tuple[str, str], dict[str, Any]]
) -> WorkloadKey:
    kind, name, _uid, _group = top_controller(pod, owners)
    return WorkloadKey(pod["metadata"]["namespace"], kind, name)


def _workload(key: WorkloadKey, owner: dict[str, Any] | None, pod: dict[str, Any]) -> Workload:
    if owner is None:
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (pod.get("status") or {}).get("conditions") or []
        )
        return Workload(key, 1, int(ready), pod["metadata"].get("labels") or {})
    status = owner.get("status") or {}
    if key[1] == "DaemonSet":
        desired, ready = status.get("desiredNumberScheduled", 0), status.get("numberReady", 0)
    else:
        desired, ready = (
            int((owner.get("spec") or {}).get("replicas", 1)),
            status.get("readyReplicas", 0),
        )
    selector = ""
    with contextlib.suppress(SelectorError, ValueError, TypeError, AttributeError):
        selector = to_string((owner.get("spec") or {}).get("selector"))
    return Workload(key, desired, ready, owner["metadata"].get("labels") or {}, selector)


World = tuple[
    dict[str, WorkloadKey], dict[WorkloadKey, Workload], dict[str, dict[str, str]], list[Budget]
]


def plan_in_budget(
    ctx: RunContext, pods: list[dict[str, Any]], request: Request, world: World, limits: Limits
) -> tuple[Plan | Refusal, History]:
    """The guard's plan against the history and everything this run has already spent
    (called under the run budget's lock; kills and scale-downs alike)."""
    workload_of, workloads, namespace_labels, budgets = world
    now = ctx.now()
    history = ctx.budget.history(now)
    ledger = ctx.budget.ledger
    result = plan(
        pods,
        request,
        workload_of=workload_of,
        workloads=workloads,
        namespace_labels=namespace_labels,
        budgets=budgets,
        limits=limits,
        history=history,
        now=now,
        rng=ctx.rng,
        spent=dict(ledger.per_workload),
        spent_total=ledger.total,
    )
    return result, history


def guarded_kill(
    ctx: RunContext,
    *,
    namespaces: list[str] | None,
    label_selector: str,
    request: Request,
    method: str,
    grace_period: int | None,
    field_selector: str = "",
    annotation_selector: str = "",
    node_selector: str = "",
    owner_kinds: list[str] | None = None,
    name_pattern: str | None = None,
    min_age: float | None = None,
) -> dict[str, Any]:
    """Plan and act under the run's budget lock: one budget for every activity of the run."""
    kube = ctx.require_kube()
    settings = ctx.settings
    with ctx.budget.lock:
        try:
            pods: list[dict[str, Any]] = []
            for namespace in namespaces or [None]:  # type: ignore[list-item]
                pods += kube.list(
                    "pods", namespace, label_selector=label_selector, field_selector=field_selector
                )[0]
            pods = _client_filters(
                pods,
                name_pattern=name_pattern,
                annotation_selector=annotation_selector,
                node_selector=node_selector,
                owner_kinds=owner_kinds,
                min_age=min_age,
                kube=kube,
            )
            workload_of, workloads, namespace_labels, budgets = build_world(
                kube, pods, read_namespaces=settings.kube.cluster_scope
            )
        except KubeError as exc:
            raise ActivityFailed(
                f"could not read the cluster to plan the disruption: {exc.message}"
            ) from None
        limits = effective_limits(
            settings.safety, ctx.aftershock.blast_radius, settings.kube.namespace
        )
        result, history = plan_in_budget(
            ctx, pods, request, (workload_of, workloads, namespace_labels, budgets), limits
        )
        journal_plan(
            ctx,
            {
                "mode": request.mode,
                "value": request.value,
                "order": request.order,
                "method": method,
            },
            result,
        )
        if not isinstance(result, Plan):
            raise Refused(result.reason, result.detail)
        if ctx.dry_run:
            return {
                "dry_run": True,
                "killed": [],
                "would_kill": [t.name for t in result.targets],
                "method": method,
            }
        return _execute(
            ctx,
            kube,
            chosen=result,
            method=method,
            grace_period=grace_period,
            pods=pods,
            live=Live(workloads, limits, history.disrupted_last_24h),
        )


def journal_plan(ctx: RunContext, request: dict[str, Any], result: Plan | Refusal) -> None:
    """Every plan and refusal in the journal's `plans`, whatever the provider."""
    ctx.append(
        "plans",
        {
            "request": request,
            "candidates": result.candidates,
            "decisions": [d.as_json() for d in result.decisions],
            "targets": [t.name for t in result.targets] if isinstance(result, Plan) else [],
            "refused": None
            if isinstance(result, Plan)
            else {"reason": result.reason, "detail": result.detail},
        },
    )


@dataclass
class Live:
    """What the re-check right before each act compares live state with."""

    workloads: dict[WorkloadKey, Workload]
    limits: Limits
    disrupted_last_24h: int  # as planned; each intent of this plan adds one


def _ready_now(ctx: RunContext, kube: Kube, target: Target, workload: Workload) -> int:
    """Ready, not terminating pods of the workload now, not counting those this run hit."""
    if target.workload[1] == "Pod" or not (workload.selector or workload.owner_uids):
        return int(is_ready(target.pod))
    try:
        pods = kube.list("pods", target.workload[0], label_selector=workload.selector)[0]
        if workload.owner_uids:  # an operator's pods: by their controller, not by labels
            pods = [p for p in pods if (_controller_ref(p) or {}).get("uid") in workload.owner_uids]
    except KubeError as exc:
        raise ActivityFailed(
            f"could not re-check {workload.name} before disrupting {target.name}: {exc.message}; "
            "nothing more was disrupted"
        ) from None
    hit = ctx.budget.ledger.uids
    return sum(
        1
        for p in pods
        if is_ready(p)
        and "deletionTimestamp" not in p["metadata"]
        and p["metadata"].get("uid") not in hit
    )


def _verify(ctx: RunContext, kube: Kube, meta: dict[str, Any], *, no_answer: bool) -> Settled:
    """After a request that got no clear answer: was it applied? Read the pod back by uid.

    With no answer at all (client timeout, connection reset) the server may still apply it:
    watch for up to one request timeout; not applied by then is `uncertain`, never `failed`.
    """
    window = kube.timeout if no_answer else 0.0
    remaining = ctx.remaining()
    deadline = time.monotonic() + (window if remaining is None else min(window, remaining))
    while True:
        seen: Settled = "uncertain"
        try:
            pod = kube.get("pods", meta["namespace"], meta["name"])
        except NotFound:
            return "done"
        except KubeError:
            pass
        else:
            if (
                pod["metadata"].get("uid") != meta.get("uid")
                or "deletionTimestamp" in pod["metadata"]
            ):
                return "done"
            seen = "uncertain" if no_answer else "failed"
        if time.monotonic() >= deadline:
            return seen
        time.sleep(0.05)


def apply_disruption(
    kube: Kube, method: str, meta: dict[str, Any], grace_period: int | None
) -> None:
    """The disruption named `method` (daemon.disruptions) applies itself."""
    disruptions.get(method).apply(
        kube,
        meta["namespace"],
        meta["name"],
        uid=str(meta.get("uid") or ""),
        grace_period=grace_period,
    )


def _execute(  # noqa: PLR0912, PLR0915 - one act, with its checks and its record, in order
    ctx: RunContext,
    kube: Kube,
    *,
    chosen: Plan,
    method: str,
    grace_period: int | None,
    pods: list[dict[str, Any]],
    live: Live,
) -> dict[str, Any]:
    """Per target: stop/gate, live re-check, intent, request, settle (I1, I4, I10)."""
    killed: list[Target] = []
    uncertain: list[Target] = []
    returned_at: dict[WorkloadKey, float] = {}
    budget = ctx.budget
    not_sent = ""
    try:
        for target in chosen.targets:
            closed = ctx.disruption_blocked()
            if closed:
                not_sent = closed
                break
            workload = live.workloads[target.workload]
            refusal = admit(
                budget.ledger,
                target.workload,
                desired=workload.desired,
                ready_now=_ready_now(ctx, kube, target, workload),
                limits=live.limits,
                disrupted_last_24h=live.disrupted_last_24h + len(killed) + len(uncertain),
            )
            if refusal is not None:
                rule, detail = refusal
                ctx.append(
                    "plans",
                    {"recheck": target.name, "refused": {"reason": rule, "detail": detail}},
                )
                if not killed and not uncertain:
                    raise Refused(rule, f"re-checked before the act: {detail}")
                break
            meta = target.pod["metadata"]
            uid = str(meta.get("uid", ""))
            intent_id = budget.intent(
                ctx.run_id, target.workload, pod=meta["name"], uid=uid, method=method, now=ctx.now()
            )
            closed = ctx.disruption_blocked()
            if closed:  # asked again after the intent write, as close to the act as possible
                _settle(ctx, intent_id, target, "failed", f"not sent: {closed}")
                not_sent = closed
                break
            try:
                apply_disruption(kube, method, meta, grace_period)
            except TooManyRequests as exc:
                _settle(ctx, intent_id, target, "failed", exc.message)
                if exc.disruption_budget and not killed and not uncertain:
                    raise Refused("pdb", exc.message) from None
                ctx.append("errors", f"{target.name}: {exc.message}")
                if exc.disruption_budget:
                    break
                raise ActivityFailed(f"{method} {target.name}: {exc.message}") from None
            except (Invalid, Forbidden, Unauthorized) as exc:
                _settle(ctx, intent_id, target, "failed", exc.message)
                raise ActivityFailed(
                    f"{method} {target.name} failed after {len(killed)} pod(s): {exc.message}"
                ) from None
            except KubeError as exc:  # 404/409 too: gone, maybe by this very request
                state = _verify(ctx, kube, meta, no_answer=exc.status == 0)
                _settle(ctx, intent_id, target, state, f"client saw: {exc.message}")
                if state == "failed":
                    raise ActivityFailed(
                        f"{method} {target.name} failed after {len(killed)} pod(s): "
                        f"{exc.message} (read back: not applied)"
                    ) from None
                if state == "uncertain":
                    uncertain.append(target)
                    raise ActivityFailed(
                        f"{method} {target.name}: {exc.message}; whether it was applied could "
                        f"not be verified (counted against the budget); {len(killed)} pod(s) "
                        "disrupted before it"
                    ) from None
                ctx.append(
                    "errors",
                    f"{target.name}: {exc.message} (read back: the {method} was applied)",
                )
            else:
                _settle(ctx, intent_id, target, "done")
            returned_at[target.workload] = time.time()
            killed.append(target)
            record_event(ctx, kube, target, method)
    finally:
        _start_tracking(ctx, kube, killed, returned_at, pods, method, live.workloads)
        for target in killed + uncertain:
            ctx.append(
                "disrupted",
                {
                    "pod": target.name,
                    "workload": str(records.WorkloadKey(*target.workload)),
                    "method": method,
                    "at": returned_at.get(target.workload, time.time()),
                    "state": "uncertain" if target in uncertain else "done",
                },
            )
    if not_sent:  # a disruption that was not sent is never a success (F11b)
        raise ActivityFailed(
            f"{method} not sent to {len(chosen.targets) - len(killed)} of "
            f"{len(chosen.targets)} planned pod(s): {not_sent}; disrupted before it: "
            f"{[t.name for t in killed]}"
        )
    return {
        "killed": [t.name for t in killed],
        "method": method,
        "workloads": sorted({str(records.WorkloadKey(*t.workload)) for t in killed}),
    }


def _settle(
    ctx: RunContext, intent_id: int, target: Target, state: Settled, detail: str = ""
) -> None:
    uid = str(target.pod["metadata"].get("uid", ""))
    problem = ctx.budget.settle(intent_id, target.workload, uid, state, detail)
    if problem:
        ctx.append("errors", problem)


def _start_tracking(
    ctx: RunContext,
    kube: Kube,
    killed: list[Target],
    returned_at: dict[WorkloadKey, float],
    pods: list[dict[str, Any]],
    method: str = "delete",
    workloads: dict[WorkloadKey, Workload] | None = None,
) -> None:
    timeout = ctx.aftershock.recovery.timeout.total_seconds()
    for key in sorted({t.workload for t in killed}):
        if any((t.result.namespace, t.result.kind, t.result.name) == key for t in ctx.trackers):
            continue
        known = {p["metadata"].get("uid", "") for p in pods if p["metadata"]["namespace"] == key[0]}
        owned = (workloads or {}).get(key)
        owned = owned if owned is not None and owned.owner_uids else None
        tracker = RecoveryTracker(
            kube,
            key[0],
            key[1],
            key[2],
            started_at=returned_at[key],
            known_uids=known,
            killed_uids={t.pod["metadata"].get("uid", "") for t in killed if t.workload == key},
            timeout=timeout,
            disruption=method,
            owner_uids=owned.owner_uids if owned else frozenset(),
            expected=owned.ready if owned else None,
        ).start()
        ctx.trackers.append(tracker)


def record_event(ctx: RunContext, kube: Kube, target: Target, method: str) -> None:
    """An Event on the pod and on its workload; best effort (a 403 is journaled, not fatal)."""
    meta = target.pod["metadata"]
    disruption = disruptions.get(method)
    verb = disruption.past_tense
    message = (
        f"aftershock experiment {ctx.experiment_id} (run {ctx.run_id}) {verb} pod {meta['name']}"
    )
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    subjects = [("Pod", "v1", meta["name"], meta.get("uid"))]
    if target.workload[1] != "Pod":
        subjects.append((target.workload[1], "apps/v1", target.workload[2], None))
    for kind, api_version, name, uid in subjects:
        body = {
            "metadata": {
                "generateName": f"{name}.aftershock-",
                "namespace": meta["namespace"],
                "labels": {"app.kubernetes.io/managed-by": "aftershock"},
            },
            "involvedObject": {
                "kind": kind,
                "apiVersion": api_version,
                "name": name,
                "namespace": meta["namespace"],
                **({"uid": uid} if uid else {}),
            },
            "reason": "AftershockPodKilled",
            "message": message,
            "type": "Normal",
            "source": {"component": "aftershock"},
            "reportingComponent": "aftershock",
            "reportingInstance": ctx.run_id,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "action": disruption.event_action,
        }
        try:
            kube.create_event(meta["namespace"], body)
        except Forbidden as exc:
            ctx.append("errors", f"event not recorded (forbidden): {exc.message}")
        except KubeError as exc:
            ctx.append("errors", f"event not recorded: {exc.message}")
