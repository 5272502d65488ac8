"""kr8s, a second Kubernetes client nobody here wrote, against the simulated cluster.

kr8s has its own waits (watch-driven), selector encoding (it always sends a trailing comma
in field selectors), object classes and delete handling, so it catches fidelity gaps the
official client's habits hide.
"""

from __future__ import annotations

import datetime
from typing import Any

import kr8s
import pytest
from kr8s.objects import ConfigMap, Deployment, Event, Pod, Service, new_class

from tests.integration.conftest import wait_for

Lease = new_class(kind="Lease", version="coordination.k8s.io/v1", namespaced=True)


@pytest.fixture
def api(sim) -> Any:
    return kr8s.api(kubeconfig=str(sim.sim.kubeconfig))


def _webapp_pods(api: Any) -> list[Any]:
    return [
        p
        for p in api.get("pods", namespace="shop", label_selector={"app": "webapp"})
        if "deletionTimestamp" not in p.metadata
    ]


def test_selectors_and_ready_pods(sim, api) -> None:
    sim.ready()
    pods = _webapp_pods(api)
    assert len(pods) == 3
    assert all(p.ready() for p in pods)
    # kr8s encodes {"metadata.name": x} as "metadata.name=x," (a trailing comma).
    one = list(api.get("pods", namespace="shop", field_selector={"metadata.name": pods[0].name}))
    assert [p.name for p in one] == [pods[0].name]
    running = list(api.get("pods", namespace="shop", field_selector={"status.phase": "Running"}))
    assert len(running) >= 3


def test_wait_for_not_ready_then_delete(sim, api) -> None:
    sim.ready()
    pod = _webapp_pods(api)[0]
    pod.delete(grace_period=1)
    pod.wait("condition=Ready=False", timeout=10)  # the kubelet's last status
    assert pod.status.containerStatuses[0].state.get("terminated")
    pod.wait("delete", timeout=10)
    assert not Pod(pod.name, namespace="shop", api=api).exists()


def test_deployment_scale_and_available(sim, api) -> None:
    sim.ready()
    deployment = Deployment.get("webapp", namespace="shop", api=api)
    deployment.wait("condition=Available", timeout=10)
    deployment.scale(4)
    wait_for(lambda: len(_webapp_pods(api)) == 4, 10, "a fourth webapp pod")
    deployment.refresh()
    assert deployment.annotations["deployment.kubernetes.io/revision"] == "1"
    deployment.scale(3)
    wait_for(lambda: len(_webapp_pods(api)) == 3, 10, "back to three")


def test_service_objects(sim, api) -> None:
    service = Service.get("greeter", namespace="shop", api=api)
    assert service.spec.clusterIP.startswith("10.96.")
    assert service.spec.ports[0].protocol == "TCP"
    assert Service.get("kubernetes", namespace="default", api=api).spec.clusterIP == "10.96.0.1"
    # kr8s sends JSON merge patches, which replace lists (strategic merge would add).
    service.patch({"spec": {"ports": [{"name": "metrics", "port": 9090}]}})
    assert [(p["port"], p["targetPort"]) for p in service.spec.ports] == [(9090, 9090)]
    service.delete()
    assert not service.exists()


def test_configmap_noop_patch_keeps_version(sim, api) -> None:
    cm = ConfigMap(
        {"metadata": {"name": "flags", "namespace": "shop"}, "data": {"mode": "blue"}}, api=api
    )
    cm.create()
    version = cm.metadata.resourceVersion
    cm.patch({"data": {"mode": "blue"}})
    assert cm.metadata.resourceVersion == version
    cm.patch({"data": {"mode": "green"}})
    assert cm.metadata.resourceVersion != version


def test_lease_times_are_checked(sim, api) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    lease = Lease(
        {
            "metadata": {"name": "leader", "namespace": "shop"},
            "spec": {"holderIdentity": "me", "leaseDurationSeconds": 15, "renewTime": now},
        },
        api=api,
    )
    lease.create()
    assert Lease.get("leader", namespace="shop", api=api).spec.holderIdentity == "me"
    bad = Lease(
        {"metadata": {"name": "stale", "namespace": "shop"}, "spec": {"renewTime": "yesterday"}},
        api=api,
    )
    with pytest.raises(kr8s.ServerError) as caught:
        bad.create()
    assert caught.value.response.status_code == 400
    assert 'parsing time "yesterday"' in caught.value.status["message"]
    # The bad lease was not stored, so listing still works.
    assert [x.name for x in api.get(Lease, namespace="shop")] == ["leader"]


def test_events(sim, api) -> None:
    involved = {"kind": "Pod", "name": "db-0", "namespace": "shop"}
    good = Event(
        {
            "metadata": {"name": "db-0.note", "namespace": "shop"},
            "involvedObject": involved,
            "reason": "Checked",
            "message": "all good",
            "type": "Normal",
        },
        api=api,
    )
    good.create()
    found = list(api.get("events", namespace="shop", field_selector={"reason": "Checked"}))
    assert [e.name for e in found] == ["db-0.note"]
    bad = Event(
        {
            "metadata": {"name": "db-0.bad", "namespace": "shop"},
            "involvedObject": involved,
            "reason": "Checked",
            "type": "Sideways",
        },
        api=api,
    )
    with pytest.raises(kr8s.ServerError) as caught:
        bad.create()
    assert caught.value.response.status_code == 422
    assert caught.value.status["details"]["causes"][0]["field"] == "type"
