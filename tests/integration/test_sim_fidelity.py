"""Simulator fidelity (issue 14), through the official `kubernetes` client and kubectl.

Each test pins one behaviour a real API server has and the simulator once lacked; the
expected texts are the real server's.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from tests.integration.conftest import shop, wait_for
from tests.integration.test_sim_tools import kubectl


def _rv(obj: Any) -> str:
    return str(obj.metadata.resource_version)


def _pods(sim, selector: str) -> list[Any]:
    return [
        p
        for p in sim.core.list_namespaced_pod("shop", label_selector=selector).items
        if p.metadata.deletion_timestamp is None
    ]


# ------------------------------------------------------------------ 1. dryRun


def test_dry_run_patch_put_and_deletecollection_change_nothing(sim) -> None:
    sim.ready()
    before = sim.apps.read_namespaced_deployment("webapp", "shop")
    patched = sim.apps.patch_namespaced_deployment(
        "webapp", "shop", {"spec": {"replicas": 7}}, dry_run="All"
    )
    assert patched.spec.replicas == 7  # the answer shows the result...
    after = sim.apps.read_namespaced_deployment("webapp", "shop")
    assert after.spec.replicas == 3  # ...but nothing was stored
    assert _rv(after) == _rv(before)

    cm = sim.core.create_namespaced_config_map(
        "shop", {"metadata": {"name": "settings"}, "data": {"a": "1"}}
    )
    cm.data = {"a": "2"}
    sim.core.replace_namespaced_config_map("settings", "shop", cm, dry_run="All")
    assert sim.core.read_namespaced_config_map("settings", "shop").data == {"a": "1"}

    sim.apps.patch_namespaced_deployment_scale(
        "webapp", "shop", {"spec": {"replicas": 0}}, dry_run="All"
    )
    assert sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas == 3

    names = {p.metadata.name for p in _pods(sim, "app=webapp")}
    sim.core.delete_collection_namespaced_pod("shop", label_selector="app=webapp", dry_run="All")
    current = sim.core.list_namespaced_pod("shop", label_selector="app=webapp").items
    assert {p.metadata.name for p in current} == names
    assert all(p.metadata.deletion_timestamp is None for p in current)
    assert sim.timeline() == []  # no disruption happened


def test_kubectl_server_dry_run_scale_label_diff(sim, tmp_path) -> None:
    sim.ready()
    scaled = kubectl(
        sim, "scale", "-n", "shop", "deploy/webapp", "--replicas=5", "--dry-run=server"
    )
    assert scaled.returncode == 0, scaled.stderr
    assert "(server dry run)" in scaled.stdout
    labelled = kubectl(sim, "label", "-n", "shop", "deploy/webapp", "x=y", "--dry-run=server")
    assert labelled.returncode == 0, labelled.stderr
    deployment = sim.apps.read_namespaced_deployment("webapp", "shop")
    assert deployment.spec.replicas == 3
    assert "x" not in (deployment.metadata.labels or {})

    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags, namespace: shop}\n"
        "data: {mode: blue}\n"
    )
    assert kubectl(sim, "apply", "-f", str(manifest)).returncode == 0
    manifest.write_text(manifest.read_text().replace("blue", "green"))
    diff = kubectl(sim, "diff", "-f", str(manifest))
    assert diff.returncode == 1, diff.stderr  # 1: differences found
    assert "-  mode: blue" in diff.stdout
    assert "+  mode: green" in diff.stdout
    assert sim.core.read_namespaced_config_map("flags", "shop").data == {"mode": "blue"}


# ------------------------------------------------------------------ 2. kubelet's last status


def test_graceful_deletion_reports_not_ready_before_deleted(sim) -> None:
    sim.ready()
    pod = _pods(sim, "app=greeter")[0]
    name = pod.metadata.name
    seen: list[tuple[str, bool, str]] = []
    phases: list[str] = []

    def watch_pod() -> None:
        stream = watch.Watch()
        for event in stream.stream(
            sim.core.list_namespaced_pod,
            "shop",
            field_selector=f"metadata.name={name}",
            resource_version=_rv(pod),
            timeout_seconds=10,
        ):
            obj = event["object"]
            ready = any(c.type == "Ready" and c.status == "True" for c in obj.status.conditions)
            state = obj.status.container_statuses[0].state
            seen.append((event["type"], ready, "terminated" if state.terminated else "other"))
            phases.append(obj.status.phase)
            if event["type"] == "DELETED":
                stream.stop()

    thread = threading.Thread(target=watch_pod)
    thread.start()
    sim.core.delete_namespaced_pod(name, "shop", grace_period_seconds=1)
    thread.join(timeout=15)
    assert not thread.is_alive()
    assert seen[0] == ("MODIFIED", True, "other")  # deletionTimestamp set, still serving
    assert ("MODIFIED", False, "terminated") in seen  # the kubelet's last status
    assert seen[-1][0] == "DELETED"
    assert seen.index(("MODIFIED", False, "terminated")) < len(seen) - 1
    assert phases[0] == "Running"
    assert phases[-1] == "Succeeded"  # terminal before removal, as kubelets since 1.27

    item = wait_for(
        lambda: next((d for d in sim.timeline() if d["pod"] == name and d["pod_removed_at"]), None),
        5,
        "pod removed in the timeline",
    )
    assert item["requested_at"] < item["pod_not_ready_at"] <= item["pod_removed_at"]
    assert "pod_not_ready_time" in item


def test_a_pod_deleted_before_it_started_goes_without_waiting_out_its_grace(make_sim) -> None:
    spec = shop()
    spec["timing"]["start_delay"] = "5s"  # bound at once, Pending for five seconds
    sim = make_sim(spec)
    sim.apps.patch_namespaced_deployment_scale("greeter", "shop", {"spec": {"replicas": 2}})
    pending = wait_for(
        lambda: next(
            (
                p
                for p in _pods(sim, "app=greeter")
                if p.spec.node_name and not p.status.container_statuses
            ),
            None,
        ),
        5,
        "a bound greeter not yet started",
    )
    name = pending.metadata.name
    sim.core.delete_namespaced_pod(name, "shop", grace_period_seconds=30)
    # No container to stop: the kubelet removes it without the 30 s grace, and never kills.
    wait_for(
        lambda: name not in {p.metadata.name for p in sim.core.list_namespaced_pod("shop").items},
        3,
        "the never-started pod removed",
    )
    reasons = {
        e.reason
        for e in sim.core.list_namespaced_event("shop").items
        if e.involved_object.name == name
    }
    assert "Killing" not in reasons


def test_terminating_pod_leaves_endpoints_at_once(make_sim) -> None:
    spec = shop()
    greeter = next(w for w in spec["namespaces"][0]["workloads"] if w["name"] == "greeter")
    greeter["timing"] = {"shutdown_delay": "5s"}  # still terminating when the test reads it
    sim = make_sim(spec)
    sim.ready()
    pod = _pods(sim, "app=greeter")[0]
    sim.core.delete_namespaced_pod(pod.metadata.name, "shop", grace_period_seconds=5)

    def addresses() -> list[str]:
        subsets = sim.core.read_namespaced_endpoints("greeter", "shop").subsets or []
        return [a.target_ref.name for s in subsets for a in (s.addresses or [])]

    wait_for(lambda: pod.metadata.name not in addresses(), 2, "endpoint dropped")
    assert sim.core.read_namespaced_pod(pod.metadata.name, "shop").metadata.deletion_timestamp


# ------------------------------------------------------------------ 3. validation


def _error(call: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)


def _create(sim, tmp_path, manifest: str) -> str:
    """kubectl create, without its client-side checks: the server's answer is the test."""
    path = tmp_path / "object.yaml"
    path.write_text(manifest)
    result = kubectl(sim, "create", "--validate=false", "-f", str(path))
    assert result.returncode == 1, result.stdout
    return result.stderr.strip()


def test_invalid_objects_are_refused_with_field_paths(sim, tmp_path) -> None:
    pod = _create(
        sim,
        tmp_path,
        """
apiVersion: v1
kind: Pod
metadata: {name: nameless, namespace: shop}
spec:
  containers: [{image: busybox}, {name: b}]
""",
    )
    assert pod == (
        'The Pod "nameless" is invalid: \n'
        "* spec.containers[0].name: Required value\n"
        "* spec.containers[1].image: Required value"
    )
    deployment = _create(
        sim,
        tmp_path,
        """
apiVersion: apps/v1
kind: Deployment
metadata: {name: bad, namespace: shop}
spec:
  selector: {matchLabels: {app: bad}}
  template:
    metadata: {labels: {app: bad}}
    spec: {containers: [{name: Bad_Name, image: x}]}
""",
    )
    assert deployment.startswith(
        'The Deployment "bad" is invalid: spec.template.spec.containers[0].name: '
        'Invalid value: "Bad_Name": a lowercase RFC 1123 label'
    )
    configmap = _create(
        sim,
        tmp_path,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: numbers, namespace: shop}\ndata: {k: 123}\n",
    )
    assert configmap.endswith(
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal '
        "number into Go struct field ConfigMap.data of type string"
    )
    wrong_type = _create(
        sim,
        tmp_path,
        "apiVersion: v1\nkind: Pod\nmetadata: {name: typed, namespace: shop}\n"
        "spec: {containers: [{name: 123, image: busybox}]}\n",
    )
    assert wrong_type.endswith(
        'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number into '
        "Go struct field Container.spec.containers.name of type string"
    )
    lease = _create(
        sim,
        tmp_path,
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {name: stale, namespace: shop}\n"
        "spec: {renewTime: yesterday}\n",
    )
    assert 'parsing time "yesterday" as "2006-01-02T15:04:05.000000Z07:00"' in lease
    event = _create(
        sim,
        tmp_path,
        "apiVersion: v1\nkind: Event\nmetadata: {name: e, namespace: shop}\n"
        "involvedObject: {kind: Pod, name: x, namespace: shop}\ntype: Sideways\n",
    )
    assert 'type: Unsupported value: "Sideways": supported values: "Normal", "Warning"' in event
    new_event = _create(
        sim,
        tmp_path,
        "apiVersion: events.k8s.io/v1\nkind: Event\nmetadata: {name: e2, namespace: shop}\n"
        "regarding: {kind: Pod, name: x, namespace: shop}\ntype: Normal\n",
    )
    for field in ("eventTime", "reportingController", "reportingInstance", "action", "reason"):
        assert f"{field}: Required value" in new_event

    with pytest.raises(ApiException) as caught:
        sim.apps.create_namespaced_deployment(
            "shop",
            {
                "metadata": {"name": "mismatch"},
                "spec": {
                    "selector": {"matchLabels": {"app": "a"}},
                    "template": {
                        "metadata": {"labels": {"app": "b"}},
                        "spec": {"containers": [{"name": "app", "image": "x"}]},
                    },
                },
            },
        )
    status = json.loads(caught.value.body)
    assert (caught.value.status, status["details"]["kind"], status["details"]["group"]) == (
        422,
        "Deployment",
        "apps",
    )
    assert status["message"].startswith(
        'Deployment.apps "mismatch" is invalid: spec.template.metadata.labels: Invalid value'
    )
    assert status["details"]["causes"][0]["field"] == "spec.template.metadata.labels"

    # Nothing was stored, so typed lists of the official client still decode.
    sim.core.list_config_map_for_all_namespaces()
    sim.coordination.list_lease_for_all_namespaces()
    assert sim.core.list_namespaced_pod("shop", field_selector="metadata.name=nameless").items == []
    events = sim.core.list_namespaced_event("shop")
    assert all(e.metadata.name not in ("e", "e2") for e in events.items)


# ------------------------------------------------------------------ 4. field selectors


def test_field_selector_with_trailing_comma(sim) -> None:
    pods = sim.core.list_namespaced_pod("shop", field_selector="metadata.name=db-0,")
    assert [p.metadata.name for p in pods.items] == ["db-0"]
    both = sim.core.list_namespaced_pod("shop", field_selector=",status.phase=Running,,")
    assert len(both.items) > 1


# ------------------------------------------------------------------ 6. anonymous requests


def _anonymous(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/api/v1/namespaces/shop/pods", timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_anonymous_requests_refused_when_anonymous_auth_is_off(make_sim) -> None:
    strict = make_sim(shop(rbac={"anonymous": False}))
    assert _anonymous(strict.url) == 401
    assert strict.core.list_namespaced_pod("shop").items  # the token still works
    enforced = make_sim(shop(rbac={"enforce": True}))
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(enforced.url + "/api/v1/namespaces/shop/pods", timeout=5)
    assert caught.value.code == 403
    assert json.loads(caught.value.read())["message"] == (
        'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" '
        'in the namespace "shop"'
    )


# ------------------------------------------------------------------ 7. no-op writes


def test_noop_patch_and_put_do_not_write(sim) -> None:
    cm = sim.core.create_namespaced_config_map(
        "shop", {"metadata": {"name": "still", "labels": {"a": "b"}}, "data": {"k": "v"}}
    )
    events: list[str] = []

    def watch_cm() -> None:
        stream = watch.Watch()
        for event in stream.stream(
            sim.core.list_namespaced_config_map,
            "shop",
            field_selector="metadata.name=still",
            resource_version=_rv(cm),
            timeout_seconds=2,
        ):
            events.append(event["type"])  # noqa: PERF401 - a watch stream, not a list

    thread = threading.Thread(target=watch_cm)
    thread.start()
    patched = sim.core.patch_namespaced_config_map(
        "still", "shop", {"metadata": {"labels": {"a": "b"}}}
    )
    replaced = sim.core.replace_namespaced_config_map("still", "shop", patched)
    thread.join(timeout=5)
    assert _rv(patched) == _rv(cm)
    assert _rv(replaced) == _rv(cm)
    assert events == []


# ------------------------------------------------------------------ 8. delete a Service


def test_delete_service_returns_the_service(sim) -> None:
    deleted = sim.core.delete_namespaced_service("greeter", "shop")
    assert isinstance(deleted, client.V1Service)
    assert deleted.metadata.name == "greeter"
    assert deleted.spec.cluster_ip


# ------------------------------------------------------------------ 9. strategic merge


def test_strategic_merge_of_service_ports_keys_on_port(sim) -> None:
    sim.core.patch_namespaced_service(
        "greeter", "shop", {"spec": {"ports": [{"name": "metrics", "port": 9090}]}}
    )
    ports = sim.core.read_namespaced_service("greeter", "shop").spec.ports
    assert sorted(p.port for p in ports) == [80, 9090]
    with pytest.raises(ApiException) as caught:
        sim.core.patch_namespaced_service(
            "greeter", "shop", {"spec": {"ports": [{"name": "no-port", "protocol": "TCP"}]}}
        )
    assert caught.value.status == 500
    assert json.loads(caught.value.body)["message"] == (
        "map: map[name:no-port protocol:TCP] does not contain declared merge key: port"
    )
    assert len(sim.core.read_namespaced_service("greeter", "shop").spec.ports) == 2


# ------------------------------------------------------------------ 10. ReplicaSet scale-down


def test_replicaset_scale_down_removes_the_most_recently_ready(make_sim) -> None:
    sim = make_sim(shop(nodes=1))  # one node: no pod is more co-located than another
    sim.ready()
    first = {p.metadata.name for p in _pods(sim, "app=greeter")}
    time.sleep(1.1)  # condition timestamps have one-second resolution
    sim.apps.patch_namespaced_deployment_scale("greeter", "shop", {"spec": {"replicas": 3}})
    wait_for(
        lambda: (
            sum(
                1
                for p in _pods(sim, "app=greeter")
                if any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])
            )
            == 3
        ),
        10,
        "three ready greeters",
    )
    sim.apps.patch_namespaced_deployment_scale("greeter", "shop", {"spec": {"replicas": 1}})
    wait_for(lambda: len(_pods(sim, "app=greeter")) == 1, 5, "scaled down")
    assert {p.metadata.name for p in _pods(sim, "app=greeter")} == first


# ------------------------------------------------------------------ 11. defaults


def test_defaults_a_real_server_fills_in(sim) -> None:
    kubernetes_svc = sim.core.read_namespaced_service("kubernetes", "default")
    assert kubernetes_svc.spec.cluster_ip == "10.96.0.1"
    greeter = sim.core.read_namespaced_service("greeter", "shop")
    assert greeter.spec.cluster_ip.startswith("10.96.")
    assert greeter.spec.cluster_ips == [greeter.spec.cluster_ip]
    assert greeter.spec.type == "ClusterIP"
    assert greeter.status.load_balancer is not None
    # An update that omits the clusterIP keeps it.
    greeter.spec.cluster_ip = None
    greeter.spec.cluster_ips = None
    kept = sim.core.replace_namespaced_service("greeter", "shop", greeter)
    assert kept.spec.cluster_ip.startswith("10.96.")

    assert sim.apps.read_namespaced_daemon_set("agent", "shop").spec.update_strategy.type == (
        "RollingUpdate"
    )
    sts = sim.apps.read_namespaced_stateful_set("db", "shop")
    assert sts.spec.update_strategy.rolling_update.partition == 0
    assert sts.spec.revision_history_limit == 10
    webapp = sim.apps.read_namespaced_deployment("webapp", "shop")
    assert webapp.spec.strategy.rolling_update.max_surge == "25%"
    wait_for(
        lambda: (
            (sim.apps.read_namespaced_deployment("webapp", "shop").metadata.annotations or {}).get(
                "deployment.kubernetes.io/revision"
            )
            == "1"
        ),
        5,
        "revision annotation",
    )
    sim.apps.patch_namespaced_deployment(
        "webapp",
        "shop",
        {"spec": {"template": {"metadata": {"annotations": {"rev": "2"}}}}},
    )
    wait_for(
        lambda: (
            (sim.apps.read_namespaced_deployment("webapp", "shop").metadata.annotations or {}).get(
                "deployment.kubernetes.io/revision"
            )
            == "2"
        ),
        5,
        "second revision",
    )


def test_kubectl_rollout_status_and_wait(sim) -> None:
    sim.ready()
    for target in ("deploy/webapp", "sts/db", "ds/agent"):
        result = kubectl(sim, "rollout", "status", "-n", "shop", target, "--timeout=20s")
        assert result.returncode == 0, result.stderr
        assert "successfully rolled out" in result.stdout or "roll out complete" in result.stdout
    waited = kubectl(
        sim,
        "wait",
        "-n",
        "shop",
        "--for=condition=Ready",
        "pod",
        "-l",
        "app=webapp",
        "--timeout=10s",
    )
    assert waited.returncode == 0, waited.stderr
    greeter = _pods(sim, "app=greeter")[0].metadata.name
    sim.core.delete_namespaced_pod(greeter, "shop", grace_period_seconds=1)
    gone = kubectl(sim, "wait", "-n", "shop", "--for=delete", f"pod/{greeter}", "--timeout=10s")
    assert gone.returncode == 0, gone.stderr


# ------------------------------------------------------------------ 12. resourceVersionMatch


def test_exact_resource_version_list_is_the_past(make_sim) -> None:
    sim = make_sim(shop(watch={"history": 20}))
    sim.core.create_namespaced_config_map("shop", {"metadata": {"name": "a"}, "data": {"v": "1"}})
    rv = sim.core.list_namespaced_config_map("shop").metadata.resource_version
    sim.core.patch_namespaced_config_map("a", "shop", {"data": {"v": "2"}})
    sim.core.create_namespaced_config_map("shop", {"metadata": {"name": "b"}})
    past = sim.core.list_namespaced_config_map(
        "shop", resource_version=rv, resource_version_match="Exact"
    )
    assert past.metadata.resource_version == rv
    assert {c.metadata.name: c.data for c in past.items} == {"a": {"v": "1"}}
    now = sim.core.list_namespaced_config_map(
        "shop", resource_version=rv, resource_version_match="NotOlderThan"
    )
    assert {c.metadata.name for c in now.items} == {"a", "b"}
    for index in range(25):  # push the version out of the kept history
        sim.core.create_namespaced_config_map("shop", {"metadata": {"name": f"c{index}"}})
    code, status = _error(
        lambda: sim.core.list_namespaced_config_map(
            "shop", resource_version=rv, resource_version_match="Exact"
        )
    )
    assert code == 410
    assert status["reason"] == "Expired"


# ------------------------------------------------------------------ 5. OpenAPI, self reviews


def test_kubectl_apply_create_replace_with_validation_on(sim, tmp_path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flags, namespace: shop}\n"
        "data: {mode: blue}\n"
    )
    for verb, expected in (
        ("apply", "configmap/flags created"),
        ("apply", "configmap/flags unchanged"),
        ("replace", "configmap/flags replaced"),
    ):
        result = kubectl(sim, verb, "-f", str(manifest))
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == expected
    typo = tmp_path / "pod.yaml"
    typo.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: typo, namespace: shop}\n"
        "spec:\n  containers: [{name: app, image: busybox, imagee: x}]\n"
    )
    refused = kubectl(sim, "create", "-f", str(typo))
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f'Error from server (BadRequest): error when creating "{typo}": Pod in version "v1" '
        'cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagee"'
    )
    typo.write_text(typo.read_text().replace("imagee: x", "imagePullPolicy: Always"))
    created = kubectl(sim, "create", "-f", str(typo))
    assert created.returncode == 0, created.stderr
    deployment = tmp_path / "deploy.yaml"
    deployment.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\n"
        "spec:\n  replicas: 1\n  selector: {matchLabels: {app: api}}\n  template:\n"
        "    metadata: {labels: {app: api}}\n"
        "    spec: {containers: [{name: api, image: api:1, ports: [{containerPort: 80}]}]}\n"
    )
    assert kubectl(sim, "apply", "-f", str(deployment)).returncode == 0
    deployment.write_text(
        deployment.read_text().replace("replicas: 1", "replicas: 2").replace("api:1", "api:2")
    )
    configured = kubectl(sim, "apply", "-f", str(deployment))
    assert configured.stdout.strip() == "deployment.apps/api configured", configured.stderr
    live = sim.apps.read_namespaced_deployment("api", "shop")
    assert live.spec.replicas == 2
    assert [c.image for c in live.spec.template.spec.containers] == ["api:2"]
    explained = kubectl(sim, "explain", "deployment.spec.strategy.type")
    assert explained.returncode == 0, explained.stderr
    assert "FIELD: type <string>" in explained.stdout


def test_openapi_documents(sim) -> None:
    def get(path: str, accept: str = "application/json") -> tuple[int, Any]:
        request = urllib.request.Request(
            sim.url + path,
            headers={"Authorization": f"Bearer {sim.sim.token}", "Accept": accept},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    code, swagger = get("/openapi/v2")
    assert code == 200
    assert "io.k8s.api.core.v1.Pod" in swagger["definitions"]
    assert (
        get("/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")[0] == 406
    )
    code, root = get("/openapi/v3")
    assert code == 200
    assert set(root["paths"]) >= {"api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1"}
    code, apps = get(root["paths"]["apis/apps/v1"]["serverRelativeURL"])
    assert code == 200
    schemas = apps["components"]["schemas"]
    assert schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"] == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    assert get("/openapi/v3/apis/batch/v1")[0] == 404


def test_kubectl_auth_can_i_and_whoami(sim, make_sim) -> None:
    can = kubectl(sim, "auth", "can-i", "delete", "pods", "-n", "shop")
    assert (can.returncode, can.stdout.strip()) == (0, "yes")  # the AlwaysAllow authorizer
    who = kubectl(sim, "auth", "whoami", "-o", "json")
    assert who.returncode == 0, who.stderr
    # kubectl sends no token over plain HTTP, so it is anonymous here.
    assert json.loads(who.stdout)["status"]["userInfo"]["username"] == "system:anonymous"

    enforced = make_sim(
        shop(
            rbac={
                "enforce": True,
                "users": [{"name": "alice", "token": "alice-token", "groups": ["dev"]}],
                "objects": [
                    {
                        "apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "Role",
                        "metadata": {"name": "reader", "namespace": "shop"},
                        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}],
                    },
                    {
                        "apiVersion": "rbac.authorization.k8s.io/v1",
                        "kind": "RoleBinding",
                        "metadata": {"name": "dev-reader", "namespace": "shop"},
                        "roleRef": {
                            "apiGroup": "rbac.authorization.k8s.io",
                            "kind": "Role",
                            "name": "reader",
                        },
                        "subjects": [{"kind": "Group", "name": "dev"}],
                    },
                ],
            }
        )
    )
    configuration = client.Configuration()
    configuration.host = enforced.url
    configuration.api_key = {"authorization": "Bearer alice-token"}
    alice = client.ApiClient(configuration)
    authz = client.AuthorizationV1Api(alice)

    def can_i(verb: str) -> bool:
        review = authz.create_self_subject_access_review(
            {
                "spec": {
                    "resourceAttributes": {"verb": verb, "resource": "pods", "namespace": "shop"}
                }
            }
        )
        return bool(review.status.allowed)

    assert can_i("list")
    assert not can_i("delete")
    me = client.AuthenticationV1Api(alice).create_self_subject_review({})
    assert me.status.user_info.username == "alice"
    assert "dev" in me.status.user_info.groups


def test_kubectl_drain_respects_dry_run_and_budgets(sim) -> None:
    sim.ready()
    node = next(p.spec.node_name for p in _pods(sim, "app=webapp") if p.spec.node_name)
    dry = kubectl(sim, "drain", node, "--ignore-daemonsets", "--force", "--dry-run=server")
    assert dry.returncode == 0, dry.stderr
    assert "(server dry run)" in dry.stdout
    assert not sim.core.read_node(node).spec.unschedulable
    assert sim.timeline() == []
    drained = kubectl(sim, "drain", node, "--ignore-daemonsets", "--force", "--timeout=30s")
    assert drained.returncode == 0, drained.stderr
    assert sim.core.read_node(node).spec.unschedulable
    left = sim.core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    assert all((p.metadata.owner_references or [{}])[0].kind == "DaemonSet" for p in left), [
        p.metadata.name for p in left
    ]
    assert {d["method"] for d in sim.timeline()} == {"evict"}


def test_served_schemas_are_the_published_ones() -> None:
    """openapi_schemas.json is what `python -m daemon.simulator.openapi` extracts today."""
    from daemon.simulator import openapi

    assert openapi.SCHEMAS.read_text().strip() == openapi.regenerate()


def test_kubectl_prints_events_k8s_io_events(sim) -> None:
    sim.ready()
    printed = kubectl(sim, "get", "events.v1.events.k8s.io", "-n", "shop")
    assert printed.returncode == 0, printed.stderr
    rows = printed.stdout.strip().splitlines()[1:]
    assert any("pod/db-0" in row and "Started container" in row for row in rows), rows


def test_server_side_apply_is_refused_like_a_server_without_it(sim, tmp_path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ssa, namespace: shop}\n")
    assert kubectl(sim, "create", "-f", str(manifest)).returncode == 0
    applied = kubectl(sim, "apply", "--server-side", "-f", str(manifest))
    assert applied.returncode == 1
    assert (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, "
        "application/strategic-merge-patch+json"
    ) in applied.stderr
