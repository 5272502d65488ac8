"""Operations: Kubernetes auth (TokenReview + SubjectAccessReview), the halt ConfigMap, a
run history that cannot be written, and gauges restored from history after a restart."""

from __future__ import annotations

import httpx

from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import (
    TOKEN,
    DaemonThread,
    cluster,
    daemon_settings,
    write_catalog,
)
from tests.integration.engine_helpers import greeter_experiment

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def rbac_cluster() -> dict:
    spec = cluster()
    spec["rbac"] = {
        "enforce": True,
        "users": [
            {"name": "alice", "token": "alice-token-0123456789", "groups": ["sre"]},
            {"name": "bob", "token": "bob-token-0123456789", "groups": ["dev"]},
        ],
        "objects": [
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "aftershock-operator", "namespace": "aftershock"},
                "rules": [
                    {"apiGroups": ["aftershock.io"], "resources": ["control"], "verbs": ["create"]}
                ],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "sre-operates", "namespace": "aftershock"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "aftershock-operator",
                },
                "subjects": [{"kind": "Group", "name": "sre"}],
            },
        ],
    }
    return spec


def test_kubernetes_auth_lets_cluster_rbac_decide(make_sim, tmp_path) -> None:
    sim = make_sim(rbac_cluster())
    sim.ready()
    catalog = write_catalog(tmp_path / "catalog", {"g": greeter_experiment()})
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog, api={"auth": "kubernetes"}))
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as client:
            halt = {"reason": "rbac test"}
            alice = client.post(
                "/api/v1/halt",
                json=halt,
                headers={"Authorization": "Bearer alice-token-0123456789"},
            )
            assert alice.status_code == 200, alice.text
            assert "alice" in alice.json()["halted"]
            bob = client.post(
                "/api/v1/halt", json=halt, headers={"Authorization": "Bearer bob-token-0123456789"}
            )
            assert bob.status_code == 403
            assert bob.json()["detail"].startswith(
                "bob may not create control.aftershock.io in namespace aftershock"
            )
            nobody = client.post("/api/v1/resume", headers={"Authorization": "Bearer nope"})
            assert nobody.status_code == 401
    finally:
        daemon.stop()


def test_halt_configmap(make_sim, tmp_path) -> None:
    sim = make_sim(cluster())
    sim.ready()
    catalog = write_catalog(tmp_path / "catalog", {"g": greeter_experiment()})
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog))
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
            sim.core.create_namespaced_config_map(
                "aftershock",
                {
                    "metadata": {"name": "aftershock-halt"},
                    "data": {"halted": "true", "reason": "freeze week"},
                },
            )
            wait_for(lambda: "aftershock_halted 1.0" in client.get("/metrics").text, 10, "halt")
            refused = client.post("/api/v1/experiments/g/runs", headers=AUTH)
            assert refused.status_code == 409
            assert "freeze week" in refused.json()["detail"]
            sim.core.delete_namespaced_config_map("aftershock-halt", "aftershock")
            wait_for(lambda: "aftershock_halted 0.0" in client.get("/metrics").text, 10, "resume")
            assert client.post("/api/v1/experiments/g/runs", headers=AUTH).status_code == 202
    finally:
        daemon.stop()


def test_unwritable_history_refuses_runs_and_recovers(make_sim, tmp_path) -> None:
    sim = make_sim(cluster())
    sim.ready()
    catalog = write_catalog(tmp_path / "catalog", {"g": greeter_experiment()})
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog))
    store = daemon.daemon.store
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
            store._db.execute("PRAGMA query_only=ON")  # SQLite refuses writes from now on
            answer = client.post("/api/v1/experiments/g/runs", headers=AUTH)
            assert answer.status_code == 503
            assert "recording the start of a run" in answer.json()["detail"]
            assert "readonly" in answer.json()["detail"]
            ready = client.get("/readyz")
            assert ready.status_code == 503
            # the latest failure of the history: this start, or housekeeping's probe since
            assert f"run history {store.path}" in ready.json()["detail"]
            assert "readonly" in ready.json()["detail"]
            assert sim.timeline() == []  # nothing injected while nothing can be recorded
            store._db.execute("PRAGMA query_only=OFF")  # the disk is back
            wait_for(lambda: client.get("/readyz").status_code == 200, 10, "recovery")
            assert client.post("/api/v1/experiments/g/runs", headers=AUTH).status_code == 202
    finally:
        daemon.stop()


def test_last_outcome_gauges_restored_after_restart(make_sim, tmp_path) -> None:
    sim = make_sim(cluster())
    sim.ready()
    catalog = write_catalog(tmp_path / "catalog", {"g": greeter_experiment(method=[])})
    settings = daemon_settings(tmp_path, catalog)
    first = DaemonThread(sim, settings)
    try:
        with httpx.Client(base_url=first.url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
            run_id = client.post("/api/v1/experiments/g/runs", headers=AUTH).json()["run_id"]
            first.wait_run(client, run_id, 20)
    finally:
        first.stop()
    second = DaemonThread(sim, settings)
    try:
        with httpx.Client(base_url=second.url, timeout=10) as client:
            metrics = client.get("/metrics").text
        assert 'aftershock_experiment_last_outcome{experiment="g",outcome="passed"} 1.0' in metrics
        assert 'aftershock_experiment_last_run_timestamp_seconds{experiment="g"}' in metrics
        assert 'aftershock_experiment_last_pass_timestamp_seconds{experiment="g"}' in metrics
    finally:
        second.stop()
