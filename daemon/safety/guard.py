"""Target selection and the blast-radius guard: pure functions, every decision recorded.

Inputs are plain data (pods as API dicts, workloads, PDBs, limits, history, now, rng);
the output is a Plan (the pods to disrupt) or a Refusal with a machine-readable reason.
Nothing here talks to the API, so every rule is unit- and property-tested, and a run's
journal can explain afterwards why each pod was or was not chosen.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from daemon.records import WorkloadKey  # namespace, kind, name; str() is "ns/Kind/name"

Pod = dict[str, Any]
SELF_LABEL = ("app.kubernetes.io/name", "aftershock")

# Exclusion rules in the order they are applied; a refusal names the dominant one.
EXCLUSIONS = ("protected_namespace", "self", "opt_in", "no_controller", "terminating", "not_ready")


@dataclass(frozen=True)
class Workload:
    key: WorkloadKey
    desired: int
    ready: int
    labels: dict[str, str] = field(default_factory=dict)
    selector: str = ""  # label selector of its pods, for the live re-check before each act
    # A kind aftershock does not know (an operator's): its pods are those whose controller
    # is one of these uids (the owner's, and ReplicaSets it owns); no read of the owner.
    owner_uids: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return f"{self.key[0]}/{self.key[1]}/{self.key[2]}"


@dataclass(frozen=True)
class Budget:
    """A PodDisruptionBudget, reduced to what the guard needs."""

    namespace: str
    name: str
    disruptions_allowed: int
    selector: Any  # daemon.labels.Selector


@dataclass(frozen=True)
class Limits:
    max_pods: int
    max_percent: float
    min_ready: tuple[int | str, ...]  # every floor must hold (count or "N%")
    require_workload_ready: bool
    respect_pdb: bool
    cooldown: timedelta
    max_disruptions_per_day: int
    on_limit: Literal["refuse", "cap"]
    require_opt_in: bool
    opt_in_label: str
    protected_namespaces: frozenset[str]
    allow_bare_pods: bool
    own_namespace: str = ""


@dataclass(frozen=True)
class History:
    """What earlier runs did, for cooldown and the daily budget."""

    last_disruption: dict[WorkloadKey, datetime] = field(default_factory=dict)
    disrupted_last_24h: int = 0


@dataclass(frozen=True)
class Decision:
    subject: str  # ns/pod, ns/Kind/name, or "run"
    rule: str
    verdict: Literal["excluded", "kept", "refused", "capped"]
    detail: str = ""

    def as_json(self) -> dict[str, str]:
        return {
            "subject": self.subject,
            "rule": self.rule,
            "verdict": self.verdict,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Target:
    pod: Pod
    workload: WorkloadKey

    @property
    def name(self) -> str:
        return f"{self.pod['metadata']['namespace']}/{self.pod['metadata']['name']}"


@dataclass
class Plan:
    targets: list[Target]
    decisions: list[Decision]
    candidates: list[str]
    eligible: list[str]


@dataclass
class Refusal:
    reason: str
    detail: str
    decisions: list[Decision]
    candidates: list[str] = field(default_factory=list)


def _name(pod: Pod) -> str:
    return f"{pod['metadata'].get('namespace', '')}/{pod['metadata']['name']}"


def is_ready(pod: Pod) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _controller(pod: Pod) -> dict[str, Any] | None:
    for ref in pod["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def floor_for(floor: int | str, desired: int) -> int:
    if isinstance(floor, str) and floor.endswith("%"):
        return math.ceil(float(floor[:-1]) / 100 * desired)
    return int(floor)


def workload_exclusion(
    namespace: str,
    labels: dict[str, str],
    workload_labels: dict[str, str],
    namespace_labels: dict[str, str],
    limits: Limits,
) -> tuple[str, str] | None:
    """Where chaos may never go, whatever the provider (a pod kill or a scale): protected
    namespaces, aftershock itself, and anything not opted in."""
    if namespace in limits.protected_namespaces:
        return "protected_namespace", f"namespace {namespace} is protected"
    if namespace == limits.own_namespace or SELF_LABEL[1] in (
        labels.get(SELF_LABEL[0]),
        workload_labels.get(SELF_LABEL[0]),
    ):
        return "self", "aftershock never disrupts itself"
    if limits.require_opt_in and not (
        namespace_labels.get(limits.opt_in_label) == "true"
        or workload_labels.get(limits.opt_in_label) == "true"
    ):
        return "opt_in", (
            f"neither namespace {namespace} nor the workload has {limits.opt_in_label}=true"
        )
    return None


def eligible_pods(
    pods: list[Pod],
    workload_of: dict[str, WorkloadKey],
    workloads: dict[WorkloadKey, Workload],
    namespace_labels: dict[str, dict[str, str]],
    limits: Limits,
) -> tuple[list[Pod], list[Decision]]:
    """Per-pod rules: what may be considered at all."""
    keep: list[Pod] = []
    decisions: list[Decision] = []
    for pod in sorted(pods, key=_name):
        name = _name(pod)
        namespace = pod["metadata"].get("namespace", "")
        labels = pod["metadata"].get("labels") or {}
        workload = workloads.get(workload_of.get(name, WorkloadKey("", "", "")))
        reason, detail = workload_exclusion(
            namespace,
            labels,
            workload.labels if workload is not None else {},
            namespace_labels.get(namespace) or {},
            limits,
        ) or ("", "")
        if reason:
            pass
        elif _controller(pod) is None and not limits.allow_bare_pods:
            reason, detail = "no_controller", "a pod without a controller would not come back"
        elif "deletionTimestamp" in pod["metadata"]:
            reason, detail = "terminating", "already terminating"
        elif not is_ready(pod):
            reason, detail = "not_ready", "not Ready"
        if reason:
            decisions.append(Decision(name, reason, "excluded", detail))
        else:
            keep.append(pod)
    return keep, decisions


def dominant_exclusion(decisions: list[Decision]) -> str:
    counts = Counter(d.rule for d in decisions if d.verdict == "excluded")
    if not counts:
        return "no_targets"
    top = max(counts.values())
    return next(rule for rule in EXCLUSIONS if counts.get(rule) == top)


@dataclass(frozen=True)
class Request:
    """How many of the eligible pods a provider asks for."""

    mode: Literal["one", "all", "fixed", "fixed-percent", "random-max-percent", "first"]
    value: float = 1
    order: Literal["random", "alphabetic", "oldest"] = "random"


def choose(eligible: list[Pod], request: Request, rng: random.Random) -> tuple[list[Pod], str]:
    """The requested subset of eligible pods; never silently empty when pods are eligible."""
    total = len(eligible)
    if request.mode == "all":
        count = total
    elif request.mode == "one":
        count = 1
    elif request.mode in ("fixed", "first"):
        count = int(request.value)
    elif request.mode == "fixed-percent":
        count = math.ceil(request.value / 100 * total)
    else:  # random-max-percent: between 1 and the percentage
        count = rng.randint(1, max(1, math.ceil(request.value / 100 * total)))
    count = max(0, min(count, total))
    if request.order == "random":
        chosen = rng.sample(eligible, count)
    elif request.order == "oldest":
        chosen = sorted(eligible, key=lambda p: p["metadata"].get("creationTimestamp", ""))[:count]
    else:
        chosen = sorted(eligible, key=_name)[:count]
    detail = f"mode {request.mode} {request.value:g} of {total} eligible -> {count}"
    return sorted(chosen, key=_name), detail


def guard(  # noqa: PLR0912, PLR0915 - one rule after another, in the documented order
    chosen: list[Pod],
    *,
    workload_of: dict[str, WorkloadKey],
    workloads: dict[WorkloadKey, Workload],
    budgets: list[Budget],
    limits: Limits,
    history: History,
    now: datetime,
    rng: random.Random,
    spent: Mapping[WorkloadKey, int] | None = None,
    spent_total: int = 0,
) -> tuple[list[Target], list[Decision], Refusal | None]:
    """Apply the blast-radius limits to a chosen set: keep, cap (on_limit=cap) or refuse.

    `spent`/`spent_total` are what this run already disrupted (daemon.safety.budget): the
    size limits hold for the whole run, not for each request."""
    spent = spent or {}
    decisions: list[Decision] = []
    targets = [Target(pod, workload_of[_name(pod)]) for pod in chosen]

    def limit(rule: str, detail: str, allowed: list[Target]) -> Refusal | None:
        nonlocal targets
        if limits.on_limit == "refuse" or not allowed:
            decisions.append(Decision("run", rule, "refused", detail))
            return Refusal(rule, detail, decisions)
        dropped = [t.name for t in targets if t not in allowed]
        decisions.append(Decision("run", rule, "capped", f"{detail}; dropped {', '.join(dropped)}"))
        targets = allowed
        return None

    # Workload state: readiness and cooldown, per workload.
    for key in sorted({t.workload for t in targets}):
        workload = workloads[key]
        mine = [t for t in targets if t.workload == key]
        if limits.require_workload_ready and workload.ready < workload.desired:
            refusal = limit(
                "workload_not_ready",
                f"{workload.name} has {workload.ready}/{workload.desired} ready",
                [t for t in targets if t.workload != key],
            )
            if refusal:
                return targets, decisions, refusal
            continue
        last = history.last_disruption.get(key)
        if last is not None and now - last < limits.cooldown:
            remaining = limits.cooldown - (now - last)
            refusal = limit(
                "cooldown",
                f"{workload.name} was disrupted {now - last} ago; cooldown "
                f"{limits.cooldown} ({remaining} left)",
                [t for t in targets if t.workload != key],
            )
            if refusal:
                return targets, decisions, refusal
            continue
        # Per-workload size limits: max_percent and the ready floors.
        allowed_count = len(mine)
        already = spent.get(key, 0)
        percent_cap = max(0, math.floor(limits.max_percent / 100 * workload.desired) - already)
        floors = [floor_for(f, workload.desired) for f in limits.min_ready]
        floor = max(floors, default=0)
        ready_cap = max(0, workload.ready - floor)
        for rule, cap, detail in (
            (
                "max_percent",
                percent_cap,
                f"{len(mine)} of {workload.desired} pods of {workload.name} is over "
                f"max_percent {limits.max_percent:g}% ({percent_cap} allowed"
                + (f", {already} already disrupted in this run)" if already else ")"),
            ),
            (
                "min_ready_replicas",
                ready_cap,
                f"disrupting {len(mine)} of {workload.name} would leave "
                f"{workload.ready - len(mine)} ready, under the floor of {floor}",
            ),
        ):
            if allowed_count > cap:
                keep_mine = rng.sample(mine, cap) if cap > 0 else []
                refusal = limit(
                    rule, detail, [t for t in targets if t.workload != key or t in keep_mine]
                )
                if refusal:
                    return targets, decisions, refusal
                mine = [t for t in mine if t in keep_mine]
                allowed_count = len(mine)
        decisions.extend(
            Decision(
                target.name,
                "workload_limits",
                "kept",
                f"{workload.name}: ready {workload.ready}/{workload.desired}, floor {floor}",
            )
            for target in mine
        )

    # PodDisruptionBudgets (pre-check; the Eviction API has the final word).
    if limits.respect_pdb:
        for budget in budgets:
            covered = [
                t
                for t in targets
                if t.pod["metadata"].get("namespace") == budget.namespace
                and budget.selector.matches(t.pod["metadata"].get("labels"))
            ]
            if len(covered) > budget.disruptions_allowed:
                keep_covered = rng.sample(covered, max(0, budget.disruptions_allowed))
                refusal = limit(
                    "pdb",
                    f"PodDisruptionBudget {budget.namespace}/{budget.name} allows "
                    f"{budget.disruptions_allowed} disruption(s), the plan needs {len(covered)}",
                    [t for t in targets if t not in covered or t in keep_covered],
                )
                if refusal:
                    return targets, decisions, refusal

    # Run-wide limits.
    room = max(0, limits.max_pods - spent_total)
    if len(targets) > room:
        refusal = limit(
            "max_pods",
            f"{len(targets)} pods is over max_pods {limits.max_pods}"
            + (f" ({spent_total} already disrupted in this run)" if spent_total else ""),
            rng.sample(targets, room),
        )
        if refusal:
            return targets, decisions, refusal
    left = limits.max_disruptions_per_day - history.disrupted_last_24h
    if len(targets) > left:
        refusal = limit(
            "daily_budget",
            f"{history.disrupted_last_24h} pods disrupted in the last 24 h; "
            f"max_disruptions_per_day {limits.max_disruptions_per_day} leaves {max(0, left)}",
            rng.sample(targets, max(0, left)),
        )
        if refusal:
            return targets, decisions, refusal
    if not targets:
        decisions.append(Decision("run", "no_targets", "refused", "nothing left to disrupt"))
        return targets, decisions, Refusal("no_targets", "nothing left to disrupt", decisions)
    return sorted(targets, key=lambda t: t.name), decisions, None


def plan(
    pods: list[Pod],
    request: Request,
    *,
    workload_of: dict[str, WorkloadKey],
    workloads: dict[WorkloadKey, Workload],
    namespace_labels: dict[str, dict[str, str]],
    budgets: list[Budget],
    limits: Limits,
    history: History,
    now: datetime,
    rng: random.Random,
    spent: Mapping[WorkloadKey, int] | None = None,
    spent_total: int = 0,
) -> Plan | Refusal:
    """Eligibility, then the requested subset, then the guard."""
    candidates = sorted(_name(p) for p in pods)
    eligible, decisions = eligible_pods(pods, workload_of, workloads, namespace_labels, limits)
    if not eligible:
        reason = "no_targets" if not pods else dominant_exclusion(decisions)
        detail = (
            "no pod matches the selector"
            if not pods
            else f"all {len(pods)} candidate pods were excluded"
        )
        decisions.append(Decision("run", reason, "refused", detail))
        return Refusal(reason, detail, decisions, candidates)
    chosen, detail = choose(eligible, request, rng)
    decisions.append(Decision("run", "request", "kept", detail))
    if not chosen:
        decisions.append(Decision("run", "no_targets", "refused", detail))
        return Refusal("no_targets", detail, decisions, candidates)
    targets, guard_decisions, refusal = guard(
        chosen,
        workload_of=workload_of,
        workloads=workloads,
        budgets=budgets,
        limits=limits,
        history=history,
        now=now,
        rng=rng,
        spent=spent,
        spent_total=spent_total,
    )
    decisions.extend(guard_decisions)
    if refusal is not None:
        refusal.decisions = decisions
        refusal.candidates = candidates
        return refusal
    return Plan(targets, decisions, candidates, sorted(_name(p) for p in eligible))
