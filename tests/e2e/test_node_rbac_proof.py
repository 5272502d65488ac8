"""Node drills' RBAC, proven on the simulator's enforced RBAC: with the chart's
`nodeDrills.enabled` a drain runs with zero 403s; with the chart's defaults the ServiceAccount
cannot patch a node, so a drill (even with nodes.enabled forced in the settings) fails with
"forbidden" and cordons nothing."""

from __future__ import annotations

import httpx
import pytest
import yaml

from tests.e2e.test_helm_chart import by_kind, render
from tests.e2e.test_rbac_proof import (
    RBAC_KINDS,
    apply,
    forbidden_count,
    run,
    service_account_kubeconfig,
)
from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import DaemonThread, daemon_settings, write_catalog
from tests.integration.test_node_drills import (
    cordoned,
    drain_action,
    drill_cluster,
    experiment,
    ready,
)


@pytest.mark.parametrize("enabled", [True, False], ids=["nodeDrills-enabled", "chart-defaults"])
def test_node_drill_rbac(make_sim, tmp_path, enabled: bool) -> None:
    spec = drill_cluster(namespaces=[{"name": "aftershock", "workloads": []}])
    spec["rbac"] = {"enforce": True}
    sim = make_sim(spec)
    ready(sim)
    objects = render({"dryRun": False, "nodeDrills": {"enabled": enabled}})
    apply(sim, [o for o in objects if o["kind"] in RBAC_KINDS])
    rendered = next(
        o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"].endswith("-settings")
    )
    chart_settings = yaml.safe_load(rendered["data"]["settings.yaml"])
    assert chart_settings["nodes"]["enabled"] is enabled
    kubeconfig = service_account_kubeconfig(sim, tmp_path, "aftershock", "aftershock")
    settings = daemon_settings(
        tmp_path,
        write_catalog(tmp_path / "catalog", {"drill": experiment([drain_action(count=1)])}),
        kube={"mode": "kubeconfig", "kubeconfig": str(kubeconfig), "cluster_scope": True},
        leader={"lease_name": chart_settings["leader"]["lease_name"]},
        nodes={"enabled": True},
    )
    sim.control("DELETE", "/sim/v1/stats")
    daemon = DaemonThread(sim, settings, kubeconfig=kubeconfig)
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as api:
            wait_for(lambda: api.get("/readyz").json().get("leader"), 15, "the lease")
            result = run(api, "drill")
            if enabled:
                assert result["outcome"] == "passed", result["journal"]["aftershock"]
                assert forbidden_count(sim) == 0
                assert {d["method"] for d in sim.timeline()} == {"evict"}
            else:
                assert result["outcome"] == "failed", result["journal"]["aftershock"]
                assert "forbidden" in str(result["journal"]["run"][0]["exception"])
                assert sim.timeline() == []
            assert cordoned(sim) == []
    finally:
        daemon.stop()
