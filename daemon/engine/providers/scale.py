"""`chaosk8s.deployment.actions.scale_deployment`, guarded (I3).

Scaling a Deployment down by N removes N of its pods: it is planned exactly as disrupting N
pods of that Deployment (protected namespaces, opt-in, max pods and max percent for the whole
run, min ready, PDBs, cooldown, daily budget, dry run), each of the N recorded as an intent
before the scale is sent. Scaling up disrupts nothing but is bounded *per run*: at most
max(2 x first, first + SCALE_UP_STEP) replicas, where `first` is the replicas the run first
saw for that Deployment (kept in the ledger, so chained scale-ups cannot compound, and
recorded in the history at that first read, so a replay after a crash keeps the same
bound), or back to what this run scaled it down from. Both directions are refused where chaos
may never go.
Right before the request, a scale-down asks `ctx.disruption_blocked()` (halt, lease, stop,
the activity's cancellation), in every phase, rollbacks included; a scale-up disrupts nothing
(a rollback restoring replicas may run while halted) and only asks `ctx.cancelled()`.
"""

from __future__ import annotations

from typing import Any

from daemon import records
from daemon.engine.budget import Settled
from daemon.engine.context import RunContext
from daemon.engine.errors import ActivityFailed
from daemon.engine.providers.k8s import Refused, build_world, journal_plan, plan_in_budget
from daemon.kube.client import Kube
from daemon.kube.errors import Conflict, Invalid, KubeError, NotFound
from daemon.labels import to_string
from daemon.records import WorkloadKey
from daemon.safety.budget import admit
from daemon.safety.guard import (
    Decision,
    Limits,
    Plan,
    Refusal,
    Request,
    workload_exclusion,
)
from daemon.safety.limits import effective_limits

SCALE_UP_FACTOR = 2
SCALE_UP_STEP = 5
SCALE_ATTEMPTS = 3  # a scale that met a changed Deployment is judged again, this many times


def scale_up_ceiling(first: int, scaled_from: int = 0) -> int:
    """The most replicas any scale-up of one run may ask for (docs/safety.md, "Blast radius"):
    `first` is the replicas the run first saw for the Deployment, not the live count."""
    return max(SCALE_UP_FACTOR * first, first + SCALE_UP_STEP, scaled_from)


def _replicas(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise ActivityFailed(f"replicas: {value!r} is not a number of replicas")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise ActivityFailed(f"replicas: {value!r} is not a number of replicas") from None
    if number < 0 or number != float(value):
        raise ActivityFailed(f"replicas: {value!r} must be a whole number >= 0")
    return number


class DeploymentChangedError(Exception):
    """The Deployment changed between the read the scale was judged on and the request."""


def scale_deployment(ctx: RunContext, name: str, replicas: Any, ns: str = "default") -> None:
    """chaosk8s's signature; everything goes through the guard (the registry test checks).
    A scale that met a changed Deployment is judged again on what it is now."""
    wanted = _replicas(replicas)
    for _ in range(SCALE_ATTEMPTS):
        try:
            guarded_scale(ctx, ns, name, wanted)
        except DeploymentChangedError:
            continue
        return
    raise ActivityFailed(
        f"scale {ns}/{name} to {wanted} not sent: the Deployment kept changing while it was "
        f"judged ({SCALE_ATTEMPTS} attempts)"
    )


def guarded_scale(ctx: RunContext, ns: str, name: str, wanted: int) -> None:
    """Refuse, scale up within bounds, or scale down as a disruption of that many pods.

    A scale-down plans and acts under the run budget's lock. A scale-up spends no budget, so
    it never waits for that lock, which a kill (of this run or, in the daemon, of another)
    holds across its request: a restoring rollback must not wait for a DELETE that hangs.
    Both are conditional on the replicas they were judged on, so a scale-down landing in
    between makes the scale-up judged again."""
    kube = ctx.require_kube()
    key: WorkloadKey = records.WorkloadKey(ns, "Deployment", name)
    deployment, current = _current(kube, ns, name)
    if wanted >= current:  # judged on this read, without the lock
        _judge(ctx, kube, key, deployment, current, wanted)
        return
    with ctx.budget.lock:  # a scale-down: read again, under the lock, and judge on that
        deployment, current = _current(kube, ns, name)
        _judge(ctx, kube, key, deployment, current, wanted)


def _current(kube: Kube, ns: str, name: str) -> tuple[dict[str, Any], int]:
    try:
        deployment = kube.get("deployments", ns, name)
    except NotFound:
        raise ActivityFailed(f"Deployment {ns}/{name} was not found") from None
    except KubeError as exc:
        raise ActivityFailed(f"could not read Deployment {ns}/{name}: {exc.message}") from None
    return deployment, int((deployment.get("spec") or {}).get("replicas", 1))


def _judge(
    ctx: RunContext,
    kube: Kube,
    key: WorkloadKey,
    deployment: dict[str, Any],
    current: int,
    wanted: int,
) -> None:
    ns = key[0]
    ctx.budget.first_read(ctx.run_id, key, current)  # durable before any judgement
    limits = effective_limits(
        ctx.settings.safety, ctx.aftershock.blast_radius, ctx.settings.kube.namespace
    )
    namespace_labels = _namespace_labels(ctx, kube, ns)
    request = {"mode": "scale", "value": wanted, "order": "", "method": "scale"}
    excluded = workload_exclusion(
        ns, {}, deployment["metadata"].get("labels") or {}, namespace_labels, limits
    )
    if excluded is not None:
        _refuse(ctx, request, key, *excluded)
    if wanted >= current:
        _scale_up(ctx, kube, key, current, wanted, request)
        return
    _scale_down(ctx, kube, key, current, wanted, request, limits)


def _namespace_labels(ctx: RunContext, kube: Kube, ns: str) -> dict[str, str]:
    if not ctx.settings.kube.cluster_scope:
        return {}
    try:
        return dict(kube.get("namespaces", None, ns)["metadata"].get("labels") or {})
    except KubeError:
        return {}


def _refuse(
    ctx: RunContext, request: dict[str, Any], key: WorkloadKey, rule: str, detail: str
) -> None:
    subject = str(records.WorkloadKey(*key))
    decisions = [Decision(subject, rule, "refused", detail)]
    journal_plan(ctx, request, Refusal(rule, detail, decisions, [subject]))
    raise Refused(rule, detail)


def _scale_up(
    ctx: RunContext,
    kube: Kube,
    key: WorkloadKey,
    current: int,
    wanted: int,
    request: dict[str, Any],
) -> None:
    subject = str(records.WorkloadKey(*key))
    ledger = ctx.budget.ledger
    first = ledger.first_seen.get(key, current)
    scaled_from = ledger.scaled_from.get(key, 0)
    ceiling = scale_up_ceiling(first, scaled_from)
    if wanted > ceiling:
        _refuse(
            ctx,
            request,
            key,
            "scale_up_bound",
            f"{subject} has {current} replicas (this run first saw {first}); scaling up to "
            f"{wanted} is over the run's bound of {ceiling} (max of 2 x {first}, "
            f"{first} + {SCALE_UP_STEP}, what this run scaled down from)",
        )
    detail = f"{subject}: {current} -> {wanted} replicas"
    journal_plan(
        ctx,
        request,
        Plan([], [Decision(subject, "scale_up", "kept", detail)], [subject], [subject]),
    )
    if ctx.dry_run or wanted == current:
        if ctx.dry_run:
            ctx.append("dry_run_actions", f"scale deployment {key[0]}/{key[2]} to {wanted}")
        return
    _send(ctx, kube, key, current, wanted, intents=[])


def _scale_down(
    ctx: RunContext,
    kube: Kube,
    key: WorkloadKey,
    current: int,
    wanted: int,
    request: dict[str, Any],
    limits: Limits,
) -> None:
    ns, _, name = key
    count = current - wanted
    try:
        deployment = kube.get("deployments", ns, name)
        selector = (deployment.get("spec") or {}).get("selector") or {}
        pods = kube.list("pods", ns, label_selector=to_string(selector))[0]
        workload_of, workloads, namespace_labels, budgets = build_world(
            kube, pods, read_namespaces=ctx.settings.kube.cluster_scope
        )
    except KubeError as exc:
        raise ActivityFailed(
            f"could not read the cluster to plan the scale: {exc.message}"
        ) from None
    pods = [p for p in pods if workload_of.get(f"{ns}/{p['metadata']['name']}") == key]
    result, history = plan_in_budget(
        ctx,
        pods,
        Request("fixed", count, "alphabetic"),
        (workload_of, workloads, namespace_labels, budgets),
        limits,
    )
    now, ledger = ctx.now(), ctx.budget.ledger
    if isinstance(result, Plan) and len(result.targets) < count and limits.on_limit == "refuse":
        detail = (
            f"scaling {ns}/{name} down by {count} needs {count} pods; {len(result.targets)} allowed"
        )
        result = Refusal("max_pods", detail, result.decisions, result.candidates)
    journal_plan(ctx, request, result)
    if not isinstance(result, Plan):
        raise Refused(result.reason, f"scale {ns}/{name} {current} -> {wanted}: {result.detail}")
    allowed = len(result.targets)
    wanted = current - allowed
    workload = workloads[key]
    verdict = admit(
        ledger,
        key,
        desired=workload.desired,
        ready_now=workload.ready,
        limits=limits,
        disrupted_last_24h=history.disrupted_last_24h,
        count=allowed,
    )
    if verdict is not None:
        _refuse(ctx, request, key, *verdict)
    if ctx.dry_run:
        ctx.append("dry_run_actions", f"scale deployment {ns}/{name} to {wanted}")
        return
    intents = [
        ctx.budget.intent(
            ctx.run_id,
            key,
            pod=target.pod["metadata"]["name"],
            uid=str(target.pod["metadata"].get("uid", "")),
            method="scale",
            now=now,
        )
        for target in result.targets
    ]
    targets = list(zip(intents, result.targets, strict=True))
    _send(ctx, kube, key, current, wanted, intents=targets)


def _send(
    ctx: RunContext,
    kube: Kube,
    key: WorkloadKey,
    current: int,
    wanted: int,
    *,
    intents: list[tuple[int, Any]],
) -> None:
    """Ask the gate (a scale-down, which has intents) or the cancellation (a scale-up), send
    the scale conditional on the replica count it was judged on (`current`), read it back
    when the answer is unclear, settle the intents."""
    ns, _, name = key
    closed = ctx.disruption_blocked() if wanted < current else ctx.cancelled()
    if closed:  # as close to the request as possible, after the intents were written
        _settle_all(ctx, key, intents, "failed", f"not sent: {closed}")
        raise ActivityFailed(f"scale {ns}/{name} {current} -> {wanted} not sent: {closed}")
    state: Settled = "done"
    error = ""
    try:
        kube.scale_deployment(ns, name, wanted, expect=current)
    except (Conflict, Invalid):  # its replicas changed: nothing applied, judge again
        _settle_all(ctx, key, intents, "failed", "not applied: the replicas changed since read")
        raise DeploymentChangedError(f"{ns}/{name}") from None
    except KubeError as exc:
        error = exc.message
        try:
            now_replicas = int(
                (kube.get("deployments", ns, name).get("spec") or {}).get("replicas", -1)
            )
            if now_replicas == wanted:
                state = "done"
            else:  # refused; or no answer (status 0): it may still land, so it counts
                state = "uncertain" if exc.status == 0 else "failed"
        except KubeError:
            state = "uncertain"
    _settle_all(ctx, key, intents, state, error)
    if state != "failed":
        problem = ctx.budget.scaled(ctx.run_id, key, current)
        if problem:
            ctx.append("errors", problem)
        for _, target in intents:
            ctx.append(
                "disrupted",
                records.Disruption(
                    pod=target.name,
                    workload=records.WorkloadKey(*key),
                    method="scale",
                    at=ctx.now().timestamp(),
                    state=state,
                    scale=(current, wanted),
                ).to_json(),
            )
    if state == "failed":
        raise ActivityFailed(f"scale {ns}/{name} to {wanted}: {error}")
    if state == "uncertain":
        raise ActivityFailed(
            f"scale {ns}/{name} to {wanted}: {error}; whether it was applied could not be "
            "verified (counted against the budget)"
        )


def _settle_all(
    ctx: RunContext,
    key: WorkloadKey,
    intents: list[tuple[int, Any]],
    state: Settled,
    detail: str,
) -> None:
    for intent_id, target in intents:
        uid = str(target.pod["metadata"].get("uid", ""))
        problem = ctx.budget.settle(intent_id, key, uid, state, detail)
        if problem:
            ctx.append("errors", problem)
