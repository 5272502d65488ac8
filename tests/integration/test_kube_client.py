"""daemon/kube against the simulated cluster: plain dicts out, our exceptions for every failure."""

from __future__ import annotations

import threading

import pytest

from daemon.kube.client import Connection, Kube
from daemon.kube.errors import Forbidden, Gone, NotFound, TooManyRequests, Unavailable
from tests.integration.conftest import exhaust_webapp_budget, shop, wait_for


@pytest.fixture
def kube(sim):
    calls: list[tuple[str, str, int]] = []
    client = Kube.connect(
        Connection(kubeconfig=sim.sim.kubeconfig, timeout=5), on_request=lambda *c: calls.append(c)
    )
    client.calls = calls  # type: ignore[attr-defined]
    yield client
    client.close()


def test_list_pages_and_returns_dicts(kube, sim) -> None:
    pods, rv = kube.list("pods", None, limit=2)
    assert len(pods) == len(sim.core.list_pod_for_all_namespaces().items)
    assert isinstance(pods[0], dict)
    assert pods[0]["metadata"]["name"]
    assert int(rv) > 0
    pages = [c for c in kube.calls if c[:2] == ("list", "pods")]
    assert len(pages) == -(-len(pods) // 2)
    webapp, _ = kube.list(
        "pods", "shop", label_selector="app=webapp", field_selector="status.phase=Running"
    )
    assert len(webapp) == 3


def test_errors_are_translated(kube, sim) -> None:
    with pytest.raises(NotFound) as caught:
        kube.get("pods", "shop", "nope")
    assert caught.value.status == 404
    assert 'pods "nope" not found' in caught.value.message
    pod = kube.list("pods", "shop", label_selector="app=webapp")[0][0]["metadata"]["name"]
    exhaust_webapp_budget(sim)
    with pytest.raises(TooManyRequests) as budget:
        kube.evict_pod("shop", pod)
    assert budget.value.disruption_budget
    sim.control(
        "PUT", "/sim/v1/faults", {"rules": [{"verb": "list", "error_rate": 1, "code": 503}]}
    )
    with pytest.raises(Unavailable) as unavailable:
        kube.list("pods", "shop")
    assert unavailable.value.status == 503
    sim.control(
        "PUT",
        "/sim/v1/faults",
        {"rules": [{"verb": "get", "error_rate": 1, "code": 429, "retry_after": 3}]},
    )
    with pytest.raises(TooManyRequests) as throttled:
        kube.get("pods", "shop", pod)
    assert throttled.value.retry_after == 3
    assert not throttled.value.disruption_budget
    sim.control("DELETE", "/sim/v1/faults")
    assert ("create", "pods/eviction", 429) in kube.calls


def test_delete_with_uid_precondition(kube) -> None:
    pod = kube.get("pods", "shop", "debug")
    with pytest.raises(Exception) as caught:  # noqa: PT011 - asserting the class below
        kube.delete_pod("shop", "debug", uid="wrong")
    assert caught.value.status == 409
    result = kube.delete_pod("shop", "debug", uid=pod["metadata"]["uid"], grace_period=0)
    assert result["metadata"]["name"] == "debug"


def test_watch_events_gone_and_broken_streams(kube, sim, make_sim) -> None:
    _, rv = kube.list("pods", "shop")
    sim.core.patch_namespaced_pod("debug", "shop", {"metadata": {"labels": {"x": "1"}}})
    events = []
    for kind, obj in kube.watch("pods", "shop", resource_version=rv, timeout_seconds=1):
        if kind != "BOOKMARK":
            events.append((kind, obj["metadata"]["name"]))
    assert ("MODIFIED", "debug") in events

    small = make_sim(shop(watch={"history": 10, "bookmark_interval": "200ms"}))
    small.ready()
    client = Kube.connect(Connection(kubeconfig=small.sim.kubeconfig, timeout=5))
    old = client.list("pods", "shop")[1]
    for i in range(20):
        small.core.create_namespaced_config_map("shop", {"metadata": {"name": f"c{i}"}})
        small.core.patch_namespaced_pod("debug", "shop", {"metadata": {"labels": {"n": str(i)}}})
    with pytest.raises(Gone):
        list(client.watch("pods", "shop", resource_version=old, timeout_seconds=1))

    errors: list[BaseException] = []
    seen: list[str] = []

    def consume() -> None:
        try:
            for kind, _ in client.watch(
                "pods", "shop", resource_version=client.list("pods", "shop")[1], timeout_seconds=30
            ):
                seen.append(kind)
        except Exception as exc:  # noqa: BLE001 - inspected below
            errors.append(exc)

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    wait_for(lambda: "BOOKMARK" in seen, 10, "bookmark")
    small.control("POST", "/sim/v1/faults/drop-watches")
    reader.join(timeout=10)
    assert len(errors) == 1
    assert isinstance(errors[0], Unavailable)
    client.close()


def test_forbidden_is_translated(make_sim) -> None:
    spec = shop(rbac={"enforce": True, "users": [{"name": "nobody", "token": "nobody-token"}]})
    sim = make_sim(spec)
    client = Kube.connect(Connection(api_url=sim.url, token="nobody-token", timeout=5))
    with pytest.raises(Forbidden) as caught:
        client.list("pods", "shop")
    assert 'User "nobody" cannot list resource "pods"' in caught.value.message
    client.close()


def test_events_and_logs(kube, sim) -> None:
    kube.create_event(
        "shop",
        {
            "metadata": {"generateName": "aftershock-"},
            "reason": "AftershockPodKilled",
            "message": "m",
            "type": "Normal",
            "involvedObject": {"kind": "Pod", "name": "debug", "namespace": "shop"},
            "source": {"component": "aftershock"},
        },
    )
    assert [
        e.reason
        for e in sim.core.list_namespaced_event(
            "shop", field_selector="reason=AftershockPodKilled"
        ).items
    ] == ["AftershockPodKilled"]
    log = kube.pod_log("shop", "db-0")
    assert "starting db-0" in log
