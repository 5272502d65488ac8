"""The blast-radius guard: rule by rule, and properties that must hold for any input."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.catalog.extension import BlastRadius
from daemon.labels import parse_selector
from daemon.safety.guard import (
    Budget,
    History,
    Limits,
    Plan,
    Refusal,
    Request,
    Workload,
    floor_for,
    plan,
)
from daemon.safety.limits import effective_limits
from daemon.settings import SafetySettings

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def pod(
    namespace: str,
    name: str,
    app: str,
    *,
    ready: bool = True,
    owner: bool = True,
    terminating: bool = False,
    labels: dict | None = None,
) -> dict:
    meta = {
        "namespace": namespace,
        "name": name,
        "labels": {"app": app, **(labels or {})},
        "creationTimestamp": f"2026-11-2{len(name) % 3}T00:00:00Z",
    }
    if owner:
        meta["ownerReferences"] = [
            {"kind": "ReplicaSet", "name": f"{app}-rs", "uid": app, "controller": True}
        ]
    if terminating:
        meta["deletionTimestamp"] = "2026-11-23T12:00:00Z"
    return {
        "metadata": meta,
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def limits(**overrides) -> Limits:
    base = {
        "max_pods": 10,
        "max_percent": 100.0,
        "min_ready": (0,),
        "require_workload_ready": True,
        "respect_pdb": True,
        "cooldown": timedelta(0),
        "max_disruptions_per_day": 100,
        "on_limit": "refuse",
        "require_opt_in": True,
        "opt_in_label": "aftershock/enabled",
        "protected_namespaces": frozenset({"kube-system"}),
        "allow_bare_pods": False,
        "own_namespace": "aftershock",
    }
    base.update(overrides)
    return Limits(**base)


def world(replicas: dict[str, int], namespace: str = "shop"):
    pods, workload_of, workloads = [], {}, {}
    for app, count in replicas.items():
        key = (namespace, "Deployment", app)
        workloads[key] = Workload(key, desired=count, ready=count)
        for i in range(count):
            p = pod(namespace, f"{app}-{i}", app)
            pods.append(p)
            workload_of[f"{namespace}/{app}-{i}"] = key
    return pods, workload_of, workloads


def run(
    pods,
    request,
    workload_of,
    workloads,
    lim,
    *,
    budgets=(),
    history=None,
    opt_in=True,
    seed=1,
):
    return plan(
        pods,
        request,
        workload_of=workload_of,
        workloads=workloads,
        namespace_labels={"shop": {"aftershock/enabled": "true"} if opt_in else {}},
        budgets=list(budgets),
        limits=lim,
        history=history or History(),
        now=NOW,
        rng=random.Random(seed),
    )


def test_one_pod_is_chosen_and_explained() -> None:
    pods, workload_of, workloads = world({"webapp": 3})
    result = run(pods, Request("one"), workload_of, workloads, limits())
    assert isinstance(result, Plan)
    assert len(result.targets) == 1
    assert result.candidates == ["shop/webapp-0", "shop/webapp-1", "shop/webapp-2"]
    assert any(d.rule == "request" for d in result.decisions)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p: p["metadata"].update(namespace="kube-system"), "protected_namespace"),
        (lambda p: p["metadata"].pop("ownerReferences"), "no_controller"),
        (lambda p: p["metadata"].update(deletionTimestamp="x"), "terminating"),
        (lambda p: p["status"]["conditions"][0].update(status="False"), "not_ready"),
        (
            lambda p: p["metadata"]["labels"].update({"app.kubernetes.io/name": "aftershock"}),
            "self",
        ),
    ],
)
def test_pod_exclusions(mutate, reason) -> None:
    pods, workload_of, workloads = world({"webapp": 1})
    mutate(pods[0])
    workload_of = {
        f"{p['metadata']['namespace']}/{p['metadata']['name']}": ("shop", "Deployment", "webapp")
        for p in pods
    }
    result = run(pods, Request("one"), workload_of, workloads, limits())
    assert isinstance(result, Refusal)
    assert result.reason == reason
    assert result.decisions[0].verdict == "excluded"


def test_opt_in_missing() -> None:
    pods, workload_of, workloads = world({"webapp": 3})
    result = run(pods, Request("one"), workload_of, workloads, limits(), opt_in=False)
    assert isinstance(result, Refusal)
    assert result.reason == "opt_in"
    assert "aftershock/enabled=true" in result.decisions[0].detail


def test_workload_label_opts_in_too() -> None:
    pods, workload_of, workloads = world({"webapp": 3})
    key = ("shop", "Deployment", "webapp")
    workloads[key] = Workload(key, 3, 3, {"aftershock/enabled": "true"})
    assert isinstance(
        run(pods, Request("one"), workload_of, workloads, limits(), opt_in=False), Plan
    )


def test_no_targets() -> None:
    result = run([], Request("one"), {}, {}, limits())
    assert isinstance(result, Refusal)
    assert result.reason == "no_targets"


def test_min_ready_replicas_refuses_or_caps() -> None:
    pods, workload_of, workloads = world({"webapp": 3})
    refused = run(pods, Request("all"), workload_of, workloads, limits(min_ready=(2,)))
    assert isinstance(refused, Refusal)
    assert refused.reason == "min_ready_replicas"
    assert "would leave 0 ready, under the floor of 2" in refused.detail
    capped = run(
        pods, Request("all"), workload_of, workloads, limits(min_ready=(2,), on_limit="cap")
    )
    assert isinstance(capped, Plan)
    assert len(capped.targets) == 1
    percent = run(
        pods, Request("all"), workload_of, workloads, limits(min_ready=("50%",), on_limit="cap")
    )
    assert isinstance(percent, Plan)
    assert len(percent.targets) == 1  # ceil(1.5) = 2 must stay ready


def test_max_percent_and_max_pods() -> None:
    pods, workload_of, workloads = world({"webapp": 4, "name": 4})
    assert (
        run(pods, Request("all"), workload_of, workloads, limits(max_percent=50)).reason
        == "max_percent"
    )
    capped = run(
        pods, Request("all"), workload_of, workloads, limits(max_percent=50, on_limit="cap")
    )
    assert len(capped.targets) == 4
    assert (
        run(pods, Request("all"), workload_of, workloads, limits(max_pods=3)).reason == "max_pods"
    )
    assert (
        len(
            run(
                pods, Request("all"), workload_of, workloads, limits(max_pods=3, on_limit="cap")
            ).targets
        )
        == 3
    )


def test_pdb_precheck() -> None:
    pods, workload_of, workloads = world({"webapp": 3})
    budget = Budget("shop", "webapp", 0, parse_selector("app=webapp"))
    result = run(pods, Request("one"), workload_of, workloads, limits(), budgets=[budget])
    assert result.reason == "pdb"
    assert "allows 0 disruption(s)" in result.detail
    assert isinstance(
        run(
            pods,
            Request("one"),
            workload_of,
            workloads,
            limits(respect_pdb=False),
            budgets=[budget],
        ),
        Plan,
    )


def test_cooldown_and_daily_budget() -> None:
    pods, workload_of, workloads = world({"webapp": 3})
    recent = History(last_disruption={("shop", "Deployment", "webapp"): NOW - timedelta(minutes=5)})
    assert (
        run(
            pods,
            Request("one"),
            workload_of,
            workloads,
            limits(cooldown=timedelta(minutes=10)),
            history=recent,
        ).reason
        == "cooldown"
    )
    assert isinstance(
        run(
            pods,
            Request("one"),
            workload_of,
            workloads,
            limits(cooldown=timedelta(minutes=4)),
            history=recent,
        ),
        Plan,
    )
    assert (
        run(
            pods,
            Request("one"),
            workload_of,
            workloads,
            limits(max_disruptions_per_day=5),
            history=History(disrupted_last_24h=5),
        ).reason
        == "daily_budget"
    )


def test_workload_not_ready() -> None:
    pods, workload_of, workloads = world({"webapp": 3})
    key = ("shop", "Deployment", "webapp")
    workloads[key] = Workload(key, desired=3, ready=2)
    assert (
        run(pods, Request("one"), workload_of, workloads, limits()).reason == "workload_not_ready"
    )


def test_same_seed_same_choice() -> None:
    pods, workload_of, workloads = world({"webapp": 10})
    a = run(pods, Request("fixed", 3), workload_of, workloads, limits(), seed=42)
    b = run(pods, Request("fixed", 3), workload_of, workloads, limits(), seed=42)
    assert [t.name for t in a.targets] == [t.name for t in b.targets]


def test_requests() -> None:
    pods, workload_of, workloads = world({"webapp": 10})
    lim = limits()
    assert len(run(pods, Request("fixed-percent", 25), workload_of, workloads, lim).targets) == 3
    assert (
        1
        <= len(run(pods, Request("random-max-percent", 50), workload_of, workloads, lim).targets)
        <= 5
    )
    first = run(pods, Request("first", 2, order="alphabetic"), workload_of, workloads, lim)
    assert [t.name for t in first.targets] == ["shop/webapp-0", "shop/webapp-1"]


def test_effective_limits_only_tighten() -> None:
    settings = SafetySettings(max_pods=5, max_percent=50, min_ready_replicas=1)
    assert effective_limits(settings, BlastRadius(max_pods=10)).max_pods == 5
    assert effective_limits(settings, BlastRadius(max_pods=2)).max_pods == 2
    tight = effective_limits(
        settings,
        BlastRadius(
            max_percent=80, min_ready_replicas="50%", on_limit="cap", cooldown=timedelta(hours=1)
        ),
        own_namespace="chaos",
    )
    assert tight.max_percent == 50
    assert tight.min_ready == (1, "50%")
    assert tight.on_limit == "refuse"  # global refuse wins
    assert tight.cooldown == timedelta(hours=1)
    assert "chaos" in tight.protected_namespaces


@st.composite
def scenarios(draw):
    apps = draw(
        st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.integers(1, 6), min_size=1)
    )
    pods, workload_of, workloads = world(apps)
    for p in pods:
        if draw(st.booleans()) and draw(st.booleans()):
            p["status"]["conditions"][0]["status"] = "False"
    for key, workload in list(workloads.items()):
        ready = sum(
            1
            for p in pods
            if workload_of[f"shop/{p['metadata']['name']}"] == key
            and p["status"]["conditions"][0]["status"] == "True"
        )
        workloads[key] = Workload(key, workload.desired, ready)
    lim = limits(
        max_pods=draw(st.integers(1, 10)),
        max_percent=draw(st.sampled_from([10.0, 34.0, 50.0, 100.0])),
        min_ready=(draw(st.one_of(st.integers(0, 4), st.sampled_from(["0%", "50%", "75%"]))),),
        require_workload_ready=draw(st.booleans()),
        on_limit=draw(st.sampled_from(["refuse", "cap"])),
        max_disruptions_per_day=draw(st.integers(1, 20)),
    )
    request = draw(
        st.one_of(
            st.just(Request("one")),
            st.just(Request("all")),
            st.integers(1, 10).map(lambda n: Request("fixed", n)),
            st.integers(1, 100).map(lambda p: Request("fixed-percent", p)),
            st.integers(1, 100).map(lambda p: Request("random-max-percent", p)),
        )
    )
    history = History(disrupted_last_24h=draw(st.integers(0, 20)))
    return pods, workload_of, workloads, lim, request, history, draw(st.integers(0, 2**16))


@settings(max_examples=400, deadline=None)
@given(scenario=scenarios())
def test_a_plan_never_exceeds_any_limit(scenario) -> None:
    pods, workload_of, workloads, lim, request, history, seed = scenario
    result = run(pods, request, workload_of, workloads, lim, history=history, seed=seed)
    if isinstance(result, Refusal):
        assert result.reason
        assert result.decisions[-1].verdict == "refused"
        return
    names = [t.name for t in result.targets]
    assert len(names) == len(set(names)) > 0
    assert set(names) <= set(result.eligible)
    assert len(names) <= lim.max_pods
    assert len(names) <= lim.max_disruptions_per_day - history.disrupted_last_24h
    for key, workload in workloads.items():
        mine = [t for t in result.targets if t.workload == key]
        if not mine:
            continue
        assert len(mine) <= lim.max_percent / 100 * workload.desired
        assert workload.ready - len(mine) >= max(
            floor_for(f, workload.desired) for f in lim.min_ready
        )
        if lim.require_workload_ready:
            assert workload.ready >= workload.desired
        assert all(p["status"]["conditions"][0]["status"] == "True" for p in (t.pod for t in mine))
