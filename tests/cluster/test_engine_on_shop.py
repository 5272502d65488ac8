"""The engine against the example shop, on whichever cluster the suite targets: what was
disrupted and how long recovery took are checked against our own watches, not the journal."""

from __future__ import annotations

import pytest

from tests.cluster.backend import Backend, NamespaceWatch
from tests.cluster.experiments import evict, experiment, run_engine, terminate


def test_one_name_pod_killed_and_recovery_matches_the_watch(backend: Backend, shop_ns) -> None:
    with NamespaceWatch(backend, shop_ns) as seen:
        result = run_engine(
            backend.kubeconfig,
            experiment(shop_ns, [terminate(shop_ns, "app=name")]),
            aftershock={"recovery": {"timeout": f"{60 * backend.slow:.0f}s"}},
        )
        assert result.outcome == "passed", result.journal["aftershock"]
        (recovery,) = result.journal["aftershock"]["recovery"]
        (disruption,) = seen.disruptions()
        recovered_at = backend_wait_recovered(backend, seen, "name", disruption.seen_at)
    assert disruption.app == "name"
    (plan,) = result.journal["aftershock"]["plans"]
    assert plan["targets"] == [f"{shop_ns}/{disruption.pod}"]
    assert (recovery["kind"], recovery["name"], recovery["recovered"]) == (
        "Deployment",
        "name",
        True,
    )
    observed = recovered_at - disruption.seen_at
    tolerance = 0.5 if backend.simulated else 1.5
    assert abs(recovery["recovery_seconds"] - observed) < tolerance, (recovery, observed)
    killed = backend.events(shop_ns, "AftershockPodKilled")
    assert {e.involved_object.name for e in killed} == {disruption.pod, "name"}


def backend_wait_recovered(backend: Backend, seen: NamespaceWatch, name: str, after: float):
    from tests.cluster.backend import wait_for

    return wait_for(
        lambda: seen.recovered_at(name, after - 0.5), 30 * backend.slow, f"{name} recovered"
    )


@pytest.mark.parametrize("respect_pdb", [True, False], ids=["pre-check", "eviction-api"])
def test_exhausted_pdb_refuses_and_nothing_is_disrupted(
    backend: Backend, shop_ns, respect_pdb
) -> None:
    backend.policy.patch_namespaced_pod_disruption_budget(
        "webapp", shop_ns, {"spec": {"minAvailable": 3}}
    )
    backend.pdb_allows(shop_ns, "webapp", 0)
    with NamespaceWatch(backend, shop_ns) as seen:
        result = run_engine(
            backend.kubeconfig,
            experiment(shop_ns, [evict(shop_ns, "app=webapp")]),
            safety={"respect_pdb": respect_pdb},
        )
    assert (result.outcome, result.reason) == ("refused", "pdb")
    assert seen.disruptions() == []


def test_min_ready_floor_refuses_the_only_greeter(backend: Backend, shop_ns) -> None:
    with NamespaceWatch(backend, shop_ns) as seen:
        result = run_engine(
            backend.kubeconfig,
            experiment(shop_ns, [terminate(shop_ns, "app=greeter")]),
            safety={"min_ready_replicas": 1},
        )
    assert (result.outcome, result.reason) == ("refused", "min_ready_replicas")
    assert seen.disruptions() == []


def test_a_namespace_that_did_not_opt_in_is_refused(backend: Backend, make_namespace) -> None:
    namespace = make_namespace()  # no aftershock/enabled label
    backend.deploy_shop(namespace)
    with NamespaceWatch(backend, namespace) as seen:
        result = run_engine(
            backend.kubeconfig, experiment(namespace, [terminate(namespace, "app=name")])
        )
    assert result.outcome == "refused", result.journal["aftershock"]
    assert seen.disruptions() == []


def test_dry_run_disrupts_nothing(backend: Backend, shop_ns) -> None:
    with NamespaceWatch(backend, shop_ns) as seen:
        result = run_engine(
            backend.kubeconfig, experiment(shop_ns, [terminate(shop_ns, "app=name")]), dry_run=True
        )
    assert result.outcome == "passed", result.journal["aftershock"]
    assert seen.disruptions() == []
