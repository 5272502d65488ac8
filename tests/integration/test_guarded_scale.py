"""Issue 12, finding 2: `scale_deployment` goes through the guard and the run's budget.
A scale-down by N is N pods of that Deployment disrupted; a scale-up is bounded."""

from __future__ import annotations

import threading
import time
from typing import Any

from tests.integration.conftest import shop
from tests.integration.engine_helpers import run_experiment


def cluster() -> dict[str, Any]:
    spec = shop()
    spec["namespaces"][0]["workloads"].append(
        {"name": "web4", "replicas": 4, "labels": {"app": "web4"}, "grace_period": 1}
    )
    spec["namespaces"] += [
        {
            "name": "kube-system",
            "workloads": [{"name": "coredns", "replicas": 2, "labels": {"k8s-app": "kube-dns"}}],
        },
        {"name": "other", "workloads": [{"name": "api", "replicas": 2, "labels": {"app": "api"}}]},
    ]
    return spec


def scale(name: str, replicas: Any, ns: str = "shop") -> dict[str, Any]:
    return {
        "type": "action",
        "name": f"scale-{name}",
        "provider": {
            "type": "python",
            "module": "chaosk8s.deployment.actions",
            "func": "scale_deployment",
            "arguments": {"name": name, "replicas": replicas, "ns": ns},
        },
    }


def experiment(*method: dict[str, Any]) -> dict[str, Any]:
    return {"title": "scale", "description": "d", "method": list(method), "rollbacks": []}


def replicas(sim, name: str, ns: str) -> int:
    return int(sim.apps.read_namespaced_deployment(name, ns).spec.replicas)


def started(make_sim):
    sim = make_sim(cluster())
    for namespace in ("shop", "kube-system", "other"):
        sim.ready(namespace)
    return sim


def test_scaling_coredns_to_zero_is_refused(make_sim) -> None:
    sim = started(make_sim)
    result = run_experiment(sim, experiment(scale("coredns", 0, "kube-system")))
    assert (result.outcome, result.reason) == ("refused", "protected_namespace")
    assert replicas(sim, "coredns", "kube-system") == 2
    result = run_experiment(sim, experiment(scale("coredns", 4, "kube-system")))
    assert (result.outcome, result.reason) == ("refused", "protected_namespace")
    assert replicas(sim, "coredns", "kube-system") == 2


def test_a_deployment_not_opted_in_is_not_scaled(make_sim) -> None:
    sim = started(make_sim)
    result = run_experiment(
        sim, experiment(scale("api", 0, "other")), safety={"require_opt_in": True}
    )
    assert (result.outcome, result.reason) == ("refused", "opt_in")
    assert replicas(sim, "api", "other") == 2


def test_scale_down_over_the_limits_is_refused(make_sim) -> None:
    sim = started(make_sim)
    result = run_experiment(
        sim,
        experiment(scale("web4", 0)),
        aftershock={"blast_radius": {"max_percent": 50, "max_pods": 4}},
    )
    assert (result.outcome, result.reason) == ("refused", "max_percent")
    assert replicas(sim, "web4", "shop") == 4
    result = run_experiment(
        sim, experiment(scale("web4", 1)), aftershock={"blast_radius": {"min_ready_replicas": 2}}
    )
    assert result.outcome == "refused"
    assert replicas(sim, "web4", "shop") == 4
    assert sim.timeline() == []


def test_scale_down_and_kills_share_the_run_budget(make_sim) -> None:
    sim = started(make_sim)
    kill = {
        "type": "action",
        "name": "kill",
        "provider": {
            "type": "python",
            "module": "aftershock.pods",
            "func": "kill",
            "arguments": {"ns": "shop", "label_selector": "app=web4", "mode": "one"},
        },
    }
    result = run_experiment(
        sim, experiment(kill, scale("web4", 2)), aftershock={"blast_radius": {"max_pods": 2}}
    )
    assert len(sim.timeline()) == 1
    assert replicas(sim, "web4", "shop") == 4  # 1 killed + 2 scaled down is over max_pods 2
    assert (result.outcome, result.reason) == ("aborted", "budget_exhausted")


def test_scale_within_limits_is_planned_recorded_and_applied(make_sim) -> None:
    sim = started(make_sim)
    result = run_experiment(
        sim, experiment(scale("web4", 3)), aftershock={"blast_radius": {"max_pods": 1}}
    )
    assert result.outcome == "passed", result.journal["aftershock"]
    assert replicas(sim, "web4", "shop") == 3
    record = result.journal["aftershock"]
    assert [d["method"] for d in record["disrupted"]] == ["scale"]
    assert record["plans"][0]["request"]["method"] == "scale"


def test_scale_up_is_bounded(make_sim) -> None:
    sim = started(make_sim)
    result = run_experiment(sim, experiment(scale("web4", 1000)))
    assert (result.outcome, result.reason) == ("refused", "scale_up_bound")
    assert replicas(sim, "web4", "shop") == 4
    result = run_experiment(sim, experiment(scale("web4", 8)))
    assert result.outcome == "passed"
    assert replicas(sim, "web4", "shop") == 8


def test_dry_run_scales_nothing(make_sim) -> None:
    sim = started(make_sim)
    result = run_experiment(sim, experiment(scale("web4", 3)), dry_run=True)
    assert result.outcome == "passed"
    assert replicas(sim, "web4", "shop") == 4


def test_scale_up_is_bounded_per_run_not_per_request(make_sim) -> None:
    spec = cluster()
    spec["namespaces"][0]["workloads"].append(
        {"name": "one", "replicas": 1, "labels": {"app": "one"}, "grace_period": 1}
    )
    sim = make_sim(spec)
    sim.ready()
    steps = [scale("one", n) for n in (6, 12, 24, 48)]
    for step, n in zip(steps, (6, 12, 24, 48), strict=True):
        step["name"] = f"scale-one-{n}"
    result = run_experiment(sim, experiment(*steps))
    # max(2 x 1, 1 + 5) = 6 from the replicas the run first saw, however the requests chain.
    assert replicas(sim, "one", "shop") == 6
    assert [r["status"] for r in result.journal["run"]] == ["succeeded", "failed"]
    refused = [p["refused"] for p in result.journal["aftershock"]["plans"] if p.get("refused")]
    assert refused[0]["reason"] == "scale_up_bound"
    # Scaling back down and up again within the run's ceiling is still allowed.
    sim.ready()
    result = run_experiment(
        sim,
        experiment(scale("one", 2), {**scale("one", 6), "name": "back"}),
        aftershock={"blast_radius": {"max_pods": 4}},
    )
    assert result.outcome == "passed", result.journal["aftershock"]
    assert replicas(sim, "one", "shop") == 6


def test_a_scale_up_does_not_wait_for_a_kill_hanging_in_its_request(make_sim) -> None:
    """A kill holds the budget lock (shared by every run of the daemon) across its request;
    a scale-up spends no budget and must not wait for it: a rollback that restores replicas
    cannot be held back by a DELETE an overloaded API server sits on. Ground truth: web4's
    replicas, read back while the greeter DELETE is still held at the server."""
    sim = started(make_sim)
    kill_greeter = {
        "type": "action",
        "name": "kill-greeter",
        "background": True,
        "provider": {
            "type": "python",
            "module": "aftershock.pods",
            "func": "kill",
            "arguments": {"ns": "shop", "label_selector": "app=greeter", "mode": "one"},
        },
    }
    up = {**scale("web4", 6), "pauses": {"before": 1}}  # the DELETE is in flight by then
    restored: list[int] = []  # pods deleted (ground truth) when web4 was seen scaled up
    done = threading.Event()

    def watch() -> None:
        while not done.is_set() and not restored:
            if replicas(sim, "web4", "shop") == 6:
                restored.append(len(sim.timeline()))
            time.sleep(0.05)

    sim.control(
        "PUT",
        "/sim/v1/faults",
        {"rules": [{"verb": "delete", "resource": "pods", "latency": "8s"}]},
    )
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        result = run_experiment(sim, experiment(kill_greeter, up), kube_timeout=20)
    finally:
        done.set()
        sim.control("PUT", "/sim/v1/faults", {"rules": []})
        watcher.join(5)
    assert replicas(sim, "web4", "shop") == 6
    # scaled up before the server applied the held DELETE (applied later: the kill succeeded)
    assert restored == [0], (restored, result.journal["aftershock"].get("errors"))
    assert len(sim.timeline()) == 1
    assert result.outcome == "passed", result.journal["aftershock"]
