"""The Helm chart's namespace-scoped roles, applied to the suite's cluster as rendered, with
the daemon running as the chart's ServiceAccount: enough for a whole run in the target
namespace, nothing outside it. The API server decides, not aftershock."""

from __future__ import annotations

import copy

import helm_python as helm
import pytest
import yaml
from kubernetes import client, utils

from tests.cluster.backend import OPT_IN, Backend, NamespaceWatch, wait_for
from tests.cluster.daemons import Daemon
from tests.cluster.experiments import evict, experiment, terminate
from tests.conftest import REPO

CHART = REPO / "deploy" / "helm" / "aftershock"
RBAC_KINDS = {"ServiceAccount", "Role", "RoleBinding"}


def render(values: dict, namespace: str) -> list[dict]:
    chart = helm.Chart.load(CHART)
    try:
        rendered = chart.render(
            copy.deepcopy(values), name="aftershock", namespace=namespace, is_install=True
        )
    finally:
        chart.close()
    return [
        doc
        for path, text in rendered.items()
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def allowed(backend: Backend, user: str, verb: str, resource: str, namespace: str, **extra) -> bool:
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=user,
            groups=["system:serviceaccounts", "system:authenticated"],
            resource_attributes=client.V1ResourceAttributes(
                verb=verb, resource=resource, namespace=namespace, **extra
            ),
        )
    )
    return bool(backend.authorization.create_subject_access_review(review).status.allowed)


@pytest.fixture
def chart_daemon(backend: Backend, make_namespace, tmp_path):
    """The shop in an opted-in namespace, the chart's roles for it, and a daemon running
    as the chart's ServiceAccount from its own namespace."""
    home = make_namespace()
    target = make_namespace()
    backend.deploy_shop(target, labels=OPT_IN, replicas={"greeter": 2})
    objects = render(
        {"dryRun": False, "rbac": {"scope": "namespace", "targetNamespaces": [target]}}, home
    )
    assert {o["kind"] for o in objects} >= RBAC_KINDS
    assert not [o for o in objects if o["kind"].startswith("Cluster")]
    for obj in objects:
        if obj["kind"] in RBAC_KINDS:
            utils.create_from_dict(backend.api_client, copy.deepcopy(obj))
    chart_settings = yaml.safe_load(
        next(o for o in objects if o["metadata"]["name"].endswith("-settings"))["data"][
            "settings.yaml"
        ]
    )
    kubeconfig = backend.service_account_kubeconfig(tmp_path / "sa-kubeconfig", home, "aftershock")
    catalog = {
        "kill-greeter": experiment(
            target,
            [terminate(target, "app=greeter")],
            {"recovery": {"timeout": f"{60 * backend.slow:.0f}s"}},
        ),
        "evict-webapp": experiment(target, [evict(target, "app=webapp")]),
    }
    # The hypothesis after wants every webapp pod Running: give the replacement time.
    catalog["evict-webapp"]["method"][0]["pauses"] = {"after": 1 if backend.simulated else 10}
    return backend, home, target, kubeconfig, catalog, chart_settings


def daemon_target(catalog: dict) -> str:
    return catalog["kill-greeter"]["method"][0]["provider"]["arguments"]["ns"]


def start_daemon(tmp_path, kubeconfig, home, catalog, chart_settings) -> Daemon:
    return Daemon(
        tmp_path,
        kubeconfig,
        home,
        catalog,
        kube={"cluster_scope": chart_settings["kube"]["cluster_scope"]},
        leader={"lease_name": chart_settings["leader"]["lease_name"]},
        safety={"respect_pdb": True},
    )


def test_the_charts_roles_are_enough_in_scope_and_nothing_outside(
    chart_daemon, make_namespace, tmp_path
) -> None:
    backend, home, target, kubeconfig, catalog, chart_settings = chart_daemon
    outside = make_namespace(OPT_IN)
    backend.deploy_shop(outside, labels=OPT_IN, replicas={"greeter": 2})
    catalog = {**catalog, "kill-outside": experiment(outside, [terminate(outside, "app=greeter")])}
    account = f"system:serviceaccount:{home}:aftershock"
    assert allowed(backend, account, "delete", "pods", target)
    assert allowed(backend, account, "create", "pods", target, subresource="eviction")
    assert not allowed(backend, account, "delete", "pods", outside)
    assert not allowed(backend, account, "list", "pods", outside)
    assert not allowed(backend, account, "list", "secrets", target)

    daemon = start_daemon(tmp_path, kubeconfig, home, catalog, chart_settings)
    try:
        wait_for(daemon.leading, 15 * backend.slow, "the lease, as the ServiceAccount")
        with NamespaceWatch(backend, target) as seen:
            killed = daemon.run("kill-greeter", 90 * backend.slow)
            assert killed["outcome"] == "passed", killed["journal"]["aftershock"]
            backend.ready(target)
            evicted = daemon.run("evict-webapp", 90 * backend.slow)
            assert evicted["outcome"] == "passed", evicted["journal"]["aftershock"]
        assert sorted(d.app for d in seen.disruptions()) == ["greeter", "webapp"]
        with NamespaceWatch(backend, outside) as seen_outside:
            denied = daemon.run("kill-outside", 60 * backend.slow)
        assert denied["outcome"] in {"failed", "not_steady"}, denied["journal"]["aftershock"]
        assert "forbidden" in str(denied["journal"]).lower()
        assert seen_outside.disruptions() == []
        assert daemon.api.get("/healthz").status_code == 200  # the daemon carries on
    finally:
        daemon.stop()


@pytest.mark.simulator_only(
    reason="counts every request the API server refused (/sim/v1/stats); a real API server"
    " keeps no such count the test can read"
)
def test_a_whole_cycle_with_the_charts_roles_sees_no_forbidden_request(
    chart_daemon, tmp_path
) -> None:
    backend, home, _target, kubeconfig, catalog, chart_settings = chart_daemon

    def forbidden() -> int:
        stats = backend.sim_control("GET", "/sim/v1/stats")
        return sum(r["count"] for r in stats["requests"] if r["code"] == 403)

    before = forbidden()
    daemon = start_daemon(tmp_path, kubeconfig, home, catalog, chart_settings)
    try:
        wait_for(daemon.leading, 15, "the lease, as the ServiceAccount")
        assert daemon.run("kill-greeter", 90)["outcome"] == "passed"
        backend.ready(daemon_target(catalog))
        assert daemon.run("evict-webapp", 90)["outcome"] == "passed"
    finally:
        daemon.stop()
    assert forbidden() == before
