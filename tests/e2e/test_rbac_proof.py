"""Least privilege, proven: the simulated cluster enforces RBAC, the chart's rendered
ServiceAccount, roles and bindings are applied to it, and `aftershock serve` runs with that
ServiceAccount's token. A full cycle (lease, list, watch, kill, evict, events, logs) must
see zero 403s; a verb removed from the role must fail the affected experiment with a clear
"forbidden" reason while the daemon carries on."""

from __future__ import annotations

import copy

import httpx
import pytest
import yaml
from kubernetes import client, utils

from tests.e2e.test_helm_chart import by_kind, render
from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import (
    TOKEN,
    DaemonThread,
    cluster,
    daemon_settings,
    write_catalog,
)
from tests.integration.engine_helpers import greeter_experiment
from tests.integration.test_engine import evict_method

AUTH = {"Authorization": f"Bearer {TOKEN}"}
RBAC_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


def logs_probe() -> dict:
    return {
        "type": "probe",
        "name": "webapp-logs",
        "provider": {
            "type": "python",
            "module": "chaosk8s.pod.probes",
            "func": "read_pod_logs",
            "arguments": {"label_selector": "app=webapp", "last": "20s", "ns": "shop"},
        },
    }


def catalog() -> dict[str, dict]:
    kill = greeter_experiment()  # pods_in_phase + http probe, chaosk8s terminate_pods (delete)
    kill["method"].append(logs_probe())
    evict = greeter_experiment(method=evict_method("app=webapp"))
    evict["method"][0]["pauses"] = {"after": 1}  # the replacement is Running before "after"
    return {"kill-greeter": kill, "evict-webapp": evict}


def apply(sim, objects: list[dict]) -> None:
    for obj in objects:
        utils.create_from_dict(sim.api_client, copy.deepcopy(obj))


def service_account_kubeconfig(sim, tmp_path, namespace: str, name: str):
    request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=["api"]))
    token = sim.core.create_namespaced_service_account_token(name, namespace, request).status.token
    path = tmp_path / "sa-kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "sim", "cluster": {"server": sim.url}}],
                "users": [{"name": "sa", "user": {"token": token}}],
                "contexts": [{"name": "sa", "context": {"cluster": "sim", "user": "sa"}}],
                "current-context": "sa",
            }
        )
    )
    return path


def forbidden_count(sim) -> int:
    stats = sim.control("GET", "/sim/v1/stats")
    return sum(r["count"] for r in stats["requests"] if r["code"] == 403)


def run(client_: httpx.Client, experiment: str) -> dict:
    answer = client_.post(f"/api/v1/experiments/{experiment}/runs", headers=AUTH)
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["run_id"]
    return wait_for(
        lambda: (r := client_.get(f"/api/v1/runs/{run_id}").json())["state"] == "done" and r,
        40,
        f"run {run_id}",
    )


@pytest.mark.parametrize(
    "values",
    [
        {"rbac": {"scope": "cluster"}},
        {"rbac": {"scope": "namespace", "targetNamespaces": ["shop"]}},
    ],
    ids=["cluster-scope", "namespace-scope"],
)
def test_the_charts_rbac_is_enough_and_no_more(make_sim, tmp_path, values) -> None:
    spec = cluster(rbac={"enforce": True})
    for workload in spec["namespaces"][0]["workloads"]:  # namespace scope: workloads opt in
        workload["labels"]["aftershock/enabled"] = "true"
    spec["namespaces"][0]["workloads"][1]["replicas"] = 2  # greeter: room for one kill
    sim = make_sim(spec)
    sim.ready()
    objects = render({"dryRun": False, **values})
    apply(sim, [o for o in objects if o["kind"] in RBAC_KINDS])
    rendered = next(
        o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"].endswith("-settings")
    )
    chart_settings = yaml.safe_load(rendered["data"]["settings.yaml"])
    kubeconfig = service_account_kubeconfig(sim, tmp_path, "aftershock", "aftershock")
    settings = daemon_settings(
        tmp_path,
        write_catalog(tmp_path / "catalog", catalog()),
        kube={
            "mode": "kubeconfig",
            "kubeconfig": str(kubeconfig),
            "cluster_scope": chart_settings["kube"]["cluster_scope"],
        },
        leader={"lease_name": chart_settings["leader"]["lease_name"]},
        safety={"respect_pdb": True},
    )
    sim.control("DELETE", "/sim/v1/stats")
    daemon = DaemonThread(sim, settings, kubeconfig=kubeconfig)
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as api:
            wait_for(lambda: api.get("/readyz").json().get("leader"), 15, "the lease")
            killed = run(api, "kill-greeter")
            assert killed["outcome"] == "passed", killed["journal"]["aftershock"]
            evicted = run(api, "evict-webapp")
            assert evicted["outcome"] == "passed", evicted["journal"]["aftershock"]
            assert forbidden_count(sim) == 0
            events = sim.core.list_namespaced_event(
                "shop", field_selector="reason=AftershockPodKilled"
            ).items
            assert len(events) == 4  # pod + workload, for each of the two kills
            assert killed["journal"]["run"][1]["output"]  # the logs probe read pod logs

            # Take one verb away: the experiment that needs it fails with a clear reason.
            role_kind = "ClusterRole" if values["rbac"]["scope"] == "cluster" else "Role"
            (role,) = [
                o
                for o in objects
                if o["kind"] == role_kind and not o["metadata"]["name"].endswith("-self")
            ]
            rules = [r for r in role["rules"] if r["resources"] != ["pods/eviction"]]
            rbac = client.RbacAuthorizationV1Api(sim.api_client)
            if role_kind == "ClusterRole":
                rbac.patch_cluster_role(role["metadata"]["name"], {"rules": rules})
            else:
                rbac.patch_namespaced_role(
                    role["metadata"]["name"], role["metadata"]["namespace"], {"rules": rules}
                )
            sim.ready()
            denied = run(api, "evict-webapp")
            assert denied["outcome"] == "failed"
            assert "forbidden" in denied["journal"]["run"][0]["exception"][-1]
            assert api.get("/healthz").status_code == 200  # the daemon carries on
            assert run(api, "kill-greeter")["outcome"] == "passed"
    finally:
        daemon.stop()
