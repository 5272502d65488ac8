"""The real `kubernetes` client against the simulated cluster, over HTTP."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.integration.conftest import shop, wait_for


def names(items) -> list[str]:
    return sorted(i.metadata.name for i in items)


def test_discovery_and_version(sim) -> None:
    version = client.VersionApi(sim.api_client).get_code()
    assert version.git_version.startswith("v1.31")
    groups = {g.name for g in client.ApisApi(sim.api_client).get_api_versions().groups}
    assert {"apps", "policy", "coordination.k8s.io", "events.k8s.io"} <= groups
    resources = {r.name: r for r in sim.core.get_api_resources().resources}
    assert resources["pods"].short_names == ["po"]
    assert "pods/eviction" in resources
    assert resources["pods"].namespaced


def test_workloads_come_up_with_consistent_status(sim) -> None:
    deployment = sim.apps.read_namespaced_deployment("webapp", "shop")
    assert (
        deployment.status.replicas,
        deployment.status.ready_replicas,
        deployment.status.available_replicas,
    ) == (3, 3, 3)
    assert deployment.status.observed_generation == deployment.metadata.generation
    pods = sim.core.list_namespaced_pod("shop", label_selector="app=webapp").items
    assert len(pods) == 3
    for pod in pods:
        owner = pod.metadata.owner_references[0]
        assert owner.kind == "ReplicaSet"
        assert owner.controller
        assert pod.status.phase == "Running"
        assert pod.spec.node_name.startswith("sim-node-")
        assert pod.status.container_statuses[0].ready
        assert {c.type: c.status for c in pod.status.conditions}["Ready"] == "True"
    assert names(sim.core.list_namespaced_pod("shop", label_selector="app=db").items) == [
        "db-0",
        "db-1",
    ]
    agents = sim.core.list_namespaced_pod("shop", label_selector="app=agent").items
    assert sorted(p.spec.node_name for p in agents) == ["sim-node-1", "sim-node-2", "sim-node-3"]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=greeter", {"greeter"}),
        ("app==greeter", {"greeter"}),
        ("app!=webapp,app!=agent,app!=db", {"greeter", "debug"}),
        ("tier in (backend, data)", {"greeter", "db"}),
        ("tier notin (web,backend,data)", {"agent", "debug"}),
        ("tier", {"webapp", "greeter", "db"}),
        ("!tier", {"agent", "debug"}),
    ],
)
def test_label_selector_grammar(sim, selector: str, expected: set[str]) -> None:
    pods = sim.core.list_namespaced_pod("shop", label_selector=selector).items
    assert {p.metadata.labels["app"] for p in pods} == expected


def test_field_selectors_and_cluster_wide_lists(sim) -> None:
    running = sim.core.list_pod_for_all_namespaces(
        field_selector="status.phase=Running,metadata.namespace=shop"
    )
    assert len(running.items) == 3 + 1 + 2 + 3 + 1
    on_node = sim.core.list_namespaced_pod("shop", field_selector="spec.nodeName=sim-node-1").items
    assert all(p.spec.node_name == "sim-node-1" for p in on_node)
    assert names(
        sim.core.list_namespaced_pod("shop", field_selector="metadata.name=db-1").items
    ) == ["db-1"]
    with pytest.raises(ApiException) as caught:
        sim.core.list_namespaced_pod("shop", field_selector="spec.bogus=x")
    assert caught.value.status == 400
    assert "field label not supported: spec.bogus" in caught.value.body
    with pytest.raises(ApiException) as caught:
        sim.core.list_namespaced_pod("shop", label_selector="app in (a")
    assert caught.value.status == 400


def test_pagination_with_continue_tokens(sim) -> None:
    seen, token = [], None
    pages = 0
    while True:
        page = sim.core.list_pod_for_all_namespaces(limit=3, _continue=token)
        seen += [f"{p.metadata.namespace}/{p.metadata.name}" for p in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count > 0
    everything = sim.core.list_pod_for_all_namespaces().items
    assert seen == [f"{p.metadata.namespace}/{p.metadata.name}" for p in everything]
    assert pages == -(-len(everything) // 3)


def test_expired_continue_token_is_410(make_sim) -> None:
    sim = make_sim(shop(watch={"history": 10}))
    sim.ready()
    first = sim.core.list_namespaced_pod("shop", limit=2)
    for i in range(15):
        sim.core.create_namespaced_config_map("shop", {"metadata": {"name": f"c{i}"}})
        sim.core.delete_namespaced_pod  # noqa: B018 - keep the client warm
        for pod in sim.core.list_namespaced_pod("shop", label_selector="app=debug").items:
            sim.core.patch_namespaced_pod(
                pod.metadata.name, "shop", {"metadata": {"labels": {"n": str(i)}}}
            )
    with pytest.raises(ApiException) as caught:
        sim.core.list_namespaced_pod("shop", limit=2, _continue=first.metadata._continue)
    assert caught.value.status == 410
    assert "continue parameter is too old" in caught.value.body


def test_watch_sees_selector_transitions(sim) -> None:
    start = sim.core.list_namespaced_pod(
        "shop", label_selector="color=blue"
    ).metadata.resource_version
    sim.core.patch_namespaced_pod("debug", "shop", {"metadata": {"labels": {"color": "blue"}}})
    sim.core.patch_namespaced_pod("debug", "shop", {"metadata": {"annotations": {"x": "1"}}})
    sim.core.patch_namespaced_pod("debug", "shop", {"metadata": {"labels": {"color": "red"}}})
    events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            sim.core.list_namespaced_pod,
            "shop",
            label_selector="color=blue",
            resource_version=start,
            timeout_seconds=1,
        )
    ]
    assert events == [("ADDED", "debug"), ("MODIFIED", "debug"), ("DELETED", "debug")]


def test_watch_from_empty_version_lists_first(sim) -> None:
    events = list(
        watch.Watch().stream(
            sim.core.list_namespaced_pod, "shop", label_selector="app=webapp", timeout_seconds=1
        )
    )
    assert [e["type"] for e in events] == ["ADDED"] * 3


def test_watch_bookmarks(sim) -> None:
    rv = sim.core.list_namespaced_pod("shop").metadata.resource_version
    stream = watch.Watch().stream(
        sim.core.list_namespaced_pod,
        "shop",
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=1,
    )
    kinds = [e["type"] for e in stream]
    assert "BOOKMARK" in kinds


def test_watch_resume_after_410(make_sim) -> None:
    sim = make_sim(shop(watch={"history": 20, "bookmark_interval": "1s"}))
    sim.ready()
    old = sim.core.list_namespaced_config_map("shop").metadata.resource_version
    for i in range(40):
        sim.core.create_namespaced_config_map("shop", {"metadata": {"name": f"cm-{i}"}})
    with pytest.raises(ApiException) as caught:
        list(
            watch.Watch().stream(sim.core.list_namespaced_config_map, "shop", resource_version=old)
        )
    assert caught.value.status == 410
    assert "too old resource version" in caught.value.reason
    # The documented recovery: re-list, then watch from the list's version.
    fresh = sim.core.list_namespaced_config_map("shop")
    assert len(fresh.items) == 40
    sim.core.create_namespaced_config_map("shop", {"metadata": {"name": "after"}})
    events = list(
        watch.Watch().stream(
            sim.core.list_namespaced_config_map,
            "shop",
            resource_version=fresh.metadata.resource_version,
            timeout_seconds=1,
        )
    )
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "after")]


def test_delete_with_grace_period_terminates_then_replaces(make_sim) -> None:
    spec = shop()
    greeter = next(w for w in spec["namespaces"][0]["workloads"] if w["name"] == "greeter")
    greeter["timing"] = {"shutdown_delay": "5s"}  # it takes its whole 1 s grace to stop
    sim = make_sim(spec)
    sim.ready()
    before = sim.core.list_namespaced_pod("shop", label_selector="app=greeter").items[0]
    sim.core.delete_namespaced_pod(before.metadata.name, "shop", grace_period_seconds=1)
    terminating = sim.core.read_namespaced_pod(before.metadata.name, "shop")
    assert terminating.metadata.deletion_timestamp is not None
    assert terminating.metadata.deletion_grace_period_seconds == 1
    # The ReplicaSet replaces a terminating pod at once, as the real controller does.
    pods = wait_for(
        lambda: [
            p
            for p in sim.core.list_namespaced_pod("shop", label_selector="app=greeter").items
            if p.metadata.name != before.metadata.name
        ],
        5,
        "replacement",
    )
    assert pods[0].metadata.deletion_timestamp is None

    def gone() -> bool:
        try:
            sim.core.read_namespaced_pod(before.metadata.name, "shop")
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, 5, "terminating pod removed")
    sim.ready()
    (item,) = sim.timeline()
    assert item["pod"] == before.metadata.name
    assert (item["method"], item["workload_kind"], item["workload_name"]) == (
        "delete",
        "Deployment",
        "greeter",
    )
    assert item["requested_at"] <= item["replacement_created_at"] <= item["replacement_ready_at"]
    assert item["requested_at"] < item["pod_removed_at"]
    assert (
        item["replacement_ready_at"]
        <= item["workload_ready_at"]
        <= item["workload_status_ready_at"]
    )


def test_statefulset_pod_comes_back_with_the_same_name(sim) -> None:
    old = sim.core.read_namespaced_pod("db-0", "shop")
    sim.core.delete_namespaced_pod("db-0", "shop")
    wait_for(
        lambda: sim.core.read_namespaced_pod("db-0", "shop").metadata.uid != old.metadata.uid,
        5,
        "db-0 recreated",
    )
    sim.ready()
    assert sim.timeline()[0]["replacement"] == "db-0"


def test_bare_pods_are_not_recreated(sim) -> None:
    sim.core.delete_namespaced_pod("debug", "shop", grace_period_seconds=0)
    time.sleep(0.3)  # give any (wrong) controller time to act; the assertion is about absence
    assert sim.core.list_namespaced_pod("shop", label_selector="app=debug").items == []


def test_eviction_respects_the_pdb(sim) -> None:
    pdb = sim.policy.read_namespaced_pod_disruption_budget("webapp", "shop")
    assert (
        pdb.status.current_healthy,
        pdb.status.desired_healthy,
        pdb.status.disruptions_allowed,
    ) == (3, 2, 1)
    pods = sim.core.list_namespaced_pod("shop", label_selector="app=webapp").items
    body = client.V1Eviction(
        metadata=client.V1ObjectMeta(name=pods[0].metadata.name, namespace="shop")
    )
    sim.core.create_namespaced_pod_eviction(pods[0].metadata.name, "shop", body)
    body = client.V1Eviction(
        metadata=client.V1ObjectMeta(name=pods[1].metadata.name, namespace="shop")
    )
    with pytest.raises(ApiException) as caught:
        sim.core.create_namespaced_pod_eviction(pods[1].metadata.name, "shop", body)
    assert caught.value.status == 429
    assert "Cannot evict pod as it would violate the pod's disruption budget." in caught.value.body
    assert (
        "The disruption budget webapp needs 2 healthy pods and has 2 currently" in caught.value.body
    )
    sim.ready()
    wait_for(
        lambda: (
            sim.policy.read_namespaced_pod_disruption_budget(
                "webapp", "shop"
            ).status.disruptions_allowed
            == 1
        ),
        5,
        "budget restored",
    )
    sim.core.create_namespaced_pod_eviction(pods[1].metadata.name, "shop", body)
    assert [d["method"] for d in sim.timeline()] == ["evict", "evict"]


def test_dry_run_eviction_changes_nothing(sim) -> None:
    pod = sim.core.list_namespaced_pod("shop", label_selector="app=webapp").items[0]
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=pod.metadata.name, namespace="shop"))
    sim.core.create_namespaced_pod_eviction(pod.metadata.name, "shop", body, dry_run="All")
    assert (
        sim.core.read_namespaced_pod(pod.metadata.name, "shop").metadata.deletion_timestamp is None
    )
    assert sim.timeline() == []


def test_patch_and_scale(sim) -> None:
    sim.apps.patch_namespaced_deployment("webapp", "shop", {"spec": {"replicas": 5}})
    wait_for(
        lambda: len(sim.core.list_namespaced_pod("shop", label_selector="app=webapp").items) == 5,
        5,
        "scale up",
    )
    scale = sim.apps.read_namespaced_deployment_scale("webapp", "shop")
    assert scale.spec.replicas == 5
    assert "app=webapp" in scale.status.selector
    sim.apps.patch_namespaced_deployment_scale("webapp", "shop", {"spec": {"replicas": 2}})
    wait_for(
        lambda: (
            len(
                [
                    p
                    for p in sim.core.list_namespaced_pod("shop", label_selector="app=webapp").items
                    if p.metadata.deletion_timestamp is None
                ]
            )
            == 2
        ),
        5,
        "scale down",
    )
    deployment = sim.apps.read_namespaced_deployment("webapp", "shop")
    assert deployment.metadata.generation == 3
    wait_for(
        lambda: (
            sim.apps.read_namespaced_deployment("webapp", "shop").status.observed_generation == 3
        ),
        5,
        "observed",
    )


def test_update_conflicts_and_lease_race(sim) -> None:
    lease = client.V1Lease(
        metadata=client.V1ObjectMeta(name="aftershock", namespace="shop"),
        spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15),
    )
    created = sim.coordination.create_namespaced_lease("shop", lease)
    with pytest.raises(ApiException) as exists:
        sim.coordination.create_namespaced_lease("shop", lease)
    assert exists.value.status == 409
    assert '"reason":"AlreadyExists"' in exists.value.body
    mine = sim.coordination.read_namespaced_lease("aftershock", "shop")
    theirs = sim.coordination.read_namespaced_lease("aftershock", "shop")
    mine.spec.holder_identity = "b"
    sim.coordination.replace_namespaced_lease("aftershock", "shop", mine)
    theirs.spec.holder_identity = "c"
    with pytest.raises(ApiException) as conflict:
        sim.coordination.replace_namespaced_lease("aftershock", "shop", theirs)
    assert conflict.value.status == 409
    assert json.loads(conflict.value.body)["message"] == (
        'Operation cannot be fulfilled on leases.coordination.k8s.io "aftershock": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert sim.coordination.read_namespaced_lease("aftershock", "shop").spec.holder_identity == "b"
    assert created.metadata.uid == mine.metadata.uid


def test_delete_preconditions(sim) -> None:
    pod = sim.core.read_namespaced_pod("debug", "shop")
    body = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="not-the-uid"))
    with pytest.raises(ApiException) as caught:
        sim.core.delete_namespaced_pod("debug", "shop", body=body)
    assert caught.value.status == 409
    assert "Precondition failed: UID in precondition: not-the-uid" in caught.value.body
    body = client.V1DeleteOptions(
        preconditions=client.V1Preconditions(uid=pod.metadata.uid), grace_period_seconds=0
    )
    sim.core.delete_namespaced_pod("debug", "shop", body=body)


def test_not_found_status(sim) -> None:
    with pytest.raises(ApiException) as caught:
        sim.core.read_namespaced_pod("nope", "shop")
    assert caught.value.status == 404
    status = json.loads(caught.value.body)
    assert (status["message"], status["reason"], status["details"]) == (
        'pods "nope" not found',
        "NotFound",
        {"name": "nope", "kind": "pods"},
    )


def test_events_recorded_and_both_event_apis(sim) -> None:
    pod = sim.core.list_namespaced_pod("shop", label_selector="app=greeter").items[0]
    sim.core.delete_namespaced_pod(pod.metadata.name, "shop")
    reasons = wait_for(
        lambda: (
            {
                e.reason
                for e in sim.core.list_namespaced_event(
                    "shop", field_selector=f"involvedObject.name={pod.metadata.name}"
                ).items
            }
            >= {"Scheduled", "Started", "Killing"}
            and {
                e.reason
                for e in sim.core.list_namespaced_event(
                    "shop", field_selector=f"involvedObject.name={pod.metadata.name}"
                ).items
            }
        ),
        5,
        "events",
    )
    assert {"Scheduled", "Pulled", "Created", "Started", "Killing"} <= reasons
    events_v1 = client.EventsV1Api(sim.api_client)
    created = events_v1.create_namespaced_event(
        "shop",
        client.EventsV1Event(
            metadata=client.V1ObjectMeta(name="aftershock.1"),
            event_time=datetime.now(UTC),
            reason="PodKilled",
            note="aftershock deleted pod x",
            type="Normal",
            action="Delete",
            reporting_controller="aftershock",
            reporting_instance="aftershock-0",
            regarding=client.V1ObjectReference(kind="Pod", name="x", namespace="shop"),
        ),
    )
    assert created.note == "aftershock deleted pod x"
    core_view = sim.core.read_namespaced_event("aftershock.1", "shop")
    assert core_view.message == "aftershock deleted pod x"
    assert core_view.involved_object.name == "x"
    assert core_view.reporting_component == "aftershock"


def test_pod_logs(sim) -> None:
    pod = sim.core.list_namespaced_pod("shop", label_selector="app=greeter").items[0]
    text = sim.core.read_namespaced_pod_log(pod.metadata.name, "shop")
    assert f"starting {pod.metadata.name}" in text
    assert (
        sim.core.read_namespaced_pod_log(pod.metadata.name, "shop", tail_lines=1).count("\n") == 1
    )
    stamped = sim.core.read_namespaced_pod_log(pod.metadata.name, "shop", timestamps=True)
    assert stamped.split(" ", 1)[0].endswith("Z")
    with pytest.raises(ApiException) as caught:
        sim.core.read_namespaced_pod_log(pod.metadata.name, "shop", previous=True)
    assert caught.value.status == 400
    assert "previous terminated container" in caught.value.body


def test_crash_loop_back_off(make_sim) -> None:
    spec = shop()
    spec["namespaces"][0]["workloads"] = [
        {
            "name": "crashy",
            "replicas": 1,
            "labels": {"app": "crashy"},
            "timing": {"crash_probability": 1.0, "backoff_base": "50ms", "backoff_cap": "200ms"},
        }
    ]
    spec["namespaces"][0]["pdbs"] = []
    sim = make_sim(spec)

    def restarted() -> int:
        pods = sim.core.list_namespaced_pod("shop", label_selector="app=crashy").items
        statuses = pods[0].status.container_statuses if pods else None
        return statuses[0].restart_count >= 3 and statuses[0] if statuses else 0

    status = wait_for(restarted, 10, "three restarts")
    assert status.state.waiting.reason == "CrashLoopBackOff"
    assert status.last_state.terminated.exit_code == 1
    assert not status.ready
    events = {e.reason for e in sim.core.list_namespaced_event("shop").items}
    assert "BackOff" in events


def test_service_listener_follows_readiness_and_dependencies(sim) -> None:
    import urllib.error
    import urllib.request

    url = sim.sim.service_url("shop", "webapp")
    assert urllib.request.urlopen(url, timeout=5).read().startswith(b"webapp answered by webapp-")
    greeter = sim.core.list_namespaced_pod("shop", label_selector="app=greeter").items[0]
    sim.core.delete_namespaced_pod(greeter.metadata.name, "shop")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url, timeout=5)
    assert caught.value.code == 503
    assert b"webapp -> no ready endpoints for service greeter" in caught.value.read()

    def answers() -> bool:
        # Not sim.ready(): right after the delete the Deployment's status may still be the
        # one from before it (the controller has not run yet), which says ready too early.
        try:
            return bool(urllib.request.urlopen(url, timeout=5).status == 200)
        except urllib.error.HTTPError:
            return False

    wait_for(answers, 10, "webapp answering again once a new greeter is ready")


def test_cascading_delete_and_orphans(sim) -> None:
    sim.apps.delete_namespaced_deployment("webapp", "shop")
    wait_for(
        lambda: not sim.apps.list_namespaced_replica_set("shop", label_selector="app=webapp").items,
        5,
        "rs gone",
    )
    wait_for(
        lambda: all(
            p.metadata.deletion_timestamp
            for p in sim.core.list_namespaced_pod("shop", label_selector="app=webapp").items
        ),
        5,
        "pods terminating",
    )
    sim.apps.delete_namespaced_deployment("greeter", "shop", propagation_policy="Orphan")
    time.sleep(0.2)  # let the garbage collector run; orphans must survive it
    (rs,) = sim.apps.list_namespaced_replica_set("shop", label_selector="app=greeter").items
    assert not rs.metadata.owner_references


def test_injected_faults(sim) -> None:
    sim.control(
        "PUT",
        "/sim/v1/faults",
        {
            "rules": [
                {
                    "verb": "list",
                    "resource": "pods",
                    "error_rate": 1.0,
                    "code": 429,
                    "retry_after": 2,
                }
            ]
        },
    )
    with pytest.raises(ApiException) as caught:
        sim.core.list_namespaced_pod("shop")
    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "2"
    sim.core.read_namespaced_pod("debug", "shop")  # other verbs are untouched
    sim.control(
        "PUT",
        "/sim/v1/faults",
        {"rules": [{"verb": "get", "resource": "pods", "latency": "300ms"}]},
    )
    started = time.monotonic()
    sim.core.read_namespaced_pod("debug", "shop")
    assert time.monotonic() - started >= 0.3
    sim.control("DELETE", "/sim/v1/faults")
    sim.control("POST", "/sim/v1/faults/outage", {"seconds": 0.5})
    from urllib3.exceptions import HTTPError as Urllib3Error

    with pytest.raises((Urllib3Error, ConnectionError, ApiException)):
        sim.core.list_namespaced_pod("shop", _request_timeout=2)
    wait_for(
        lambda: not sim.control("GET", "/sim/v1/faults")["outage_remaining_seconds"],
        2,
        "outage over",
    )
    assert sim.core.list_namespaced_pod("shop").items


def test_dropped_watch_breaks_the_connection(sim) -> None:
    """A dropped stream is a broken connection, as on a real network: the client sees an error."""
    from urllib3.exceptions import ProtocolError

    rv = sim.core.list_namespaced_pod("shop").metadata.resource_version
    got: list[str] = []
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            for event in watch.Watch().stream(
                sim.core.list_namespaced_pod,
                "shop",
                resource_version=rv,
                allow_watch_bookmarks=True,
                _request_timeout=10,
            ):
                got.append(event["type"])  # noqa: PERF401 - the main thread watches it grow
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            errors.append(exc)

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    wait_for(lambda: "BOOKMARK" in got, 5, "stream open")
    sim.control("POST", "/sim/v1/faults/drop-watches")
    reader.join(timeout=5)
    assert not reader.is_alive()
    assert len(errors) == 1
    assert isinstance(errors[0], ProtocolError)


def test_request_stats(sim) -> None:
    sim.control("DELETE", "/sim/v1/stats")
    sim.core.list_namespaced_pod("shop")
    sim.core.read_namespaced_pod("debug", "shop")
    stats = sim.control("GET", "/sim/v1/stats")
    counts = {(r["verb"], r["resource"], r["code"]): r["count"] for r in stats["requests"]}
    assert counts[("list", "pods", 200)] == 1
    assert counts[("get", "pods", 200)] == 1
    assert stats["bytes_out"] > 0


def test_slow_readiness_records_unhealthy_events(make_sim) -> None:
    spec = shop()
    spec["namespaces"][0]["workloads"] = [
        {
            "name": "slow",
            "replicas": 1,
            "labels": {"app": "slow"},
            "timing": {"ready_delay": "1200ms"},
        }
    ]
    spec["namespaces"][0]["pdbs"] = []
    sim = make_sim(spec)
    event = wait_for(
        lambda: list(
            sim.core.list_namespaced_event("shop", field_selector="reason=Unhealthy").items
        ),
        5,
        "Unhealthy event",
    )[0]
    assert event.type == "Warning"
    assert event.message.startswith("Readiness probe failed")
    assert event.involved_object.kind == "Pod"
    pod = sim.core.read_namespaced_pod(event.involved_object.name, "shop")
    assert pod.status.phase == "Running"
