"""The daemon's HTTP API on a live server (httpx), against the simulated cluster."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import (
    TOKEN,
    DaemonThread,
    cluster,
    daemon_settings,
    write_catalog,
)
from tests.integration.engine_helpers import greeter_experiment
from tests.integration.test_engine import story

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def live(make_sim, tmp_path):
    spec = story(3, ready_delay="300ms")
    spec["namespaces"] += cluster()["namespaces"][1:]
    sim = make_sim(spec)
    sim.ready()
    catalog = write_catalog(
        tmp_path / "catalog",
        {
            "greeter-kill": greeter_experiment(extension={"recovery": {"timeout": "20s"}}),
            "broken": {"title": "no method"},
        },
    )
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog))
    client = httpx.Client(base_url=daemon.url, timeout=10)
    wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
    yield sim, daemon, client
    client.close()
    daemon.stop()


def test_mutations_need_the_token_and_errors_are_problem_json(live) -> None:
    _sim, _daemon, client = live
    for headers, detail in (
        ({}, "missing bearer token"),
        ({"Authorization": "Bearer wrong-token-0123456789"}, "invalid token"),
        ({"Authorization": "Basic abc"}, "expected 'Authorization: Bearer <token>'"),
    ):
        answer = client.post("/api/v1/halt", json={"reason": "x"}, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == detail
        assert answer.headers["www-authenticate"].startswith("Bearer")
    invalid = client.post("/api/v1/halt", json={}, headers=AUTH)
    assert invalid.status_code == 422
    assert invalid.json()["title"] == "Invalid Request"
    assert client.get("/api/v1/experiments/nope").json()["status"] == 404


def test_trigger_run_journal_and_metrics(live) -> None:
    sim, daemon, client = live
    answer = client.post("/api/v1/experiments/greeter-kill/runs", headers=AUTH)
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["run_id"]
    busy = client.post("/api/v1/experiments/greeter-kill/runs", headers=AUTH)
    assert busy.status_code in (409, 429)  # never two runs of one experiment
    run = daemon.wait_run(client, run_id, 30)  # history done, metrics counted
    assert run["outcome"] == "passed", run["journal"]["aftershock"]
    assert run["journal"]["aftershock"]["recovery"][0]["recovered"] is True
    assert len(sim.timeline()) == 1
    listed = client.get("/api/v1/runs", params={"experiment": "greeter-kill"}).json()["runs"]
    assert [r["id"] for r in listed] == [run_id]
    experiments = {e["id"]: e for e in client.get("/api/v1/experiments").json()["experiments"]}
    assert experiments["greeter-kill"]["last_run"]["outcome"] == "passed"
    assert experiments["broken"]["valid"] is False
    assert any("method" in p for p in experiments["broken"]["problems"])

    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    runs = families["aftershock_experiment_runs"].samples
    assert any(
        s.labels == {"experiment": "greeter-kill", "outcome": "passed", "dry_run": "false"}
        and s.value == 1
        for s in runs
        if s.name.endswith("_total")
    )
    state = {
        s.labels["outcome"]: s.value
        for s in families["aftershock_experiment_last_outcome"].samples
        if s.labels["experiment"] == "greeter-kill"
    }
    assert state["passed"] == 1
    assert sum(state.values()) == 1
    recovery = families["aftershock_recovery_seconds"].samples
    assert any(s.name.endswith("_count") and s.value == 1 for s in recovery)
    assert families["aftershock_pods_disrupted"].samples[0].labels == {
        "namespace": "shop",
        "workload": "greeter",
        "method": "delete",
    }
    catalog = {
        s.labels["state"]: s.value for s in families["aftershock_catalog_experiments"].samples
    }
    assert catalog == {"loaded": 1, "invalid": 1, "disabled": 0}
    assert families["aftershock_leader"].samples[0].value == 1
    assert any(s.labels.get("code") == "200" for s in families["aftershock_kube_requests"].samples)
    for family in families.values():
        assert "pod" not in {k for s in family.samples for k in s.labels}

    page = client.get("/")
    assert page.status_code == 200
    assert page.text.count('<section class="card experiment"') == 2
    assert "greeter-kill" in page.text
    assert client.get(f"/runs/{run_id}").status_code == 200
    assert "/api/v1/halt" in client.get("/openapi.json").json()["paths"]


def test_halt_blocks_runs_and_survives_in_history(live) -> None:
    sim, daemon, client = live
    halted = client.post("/api/v1/halt", json={"reason": "game day"}, headers=AUTH)
    assert halted.status_code == 200
    assert "game day" in halted.json()["halted"]
    refused = client.post("/api/v1/experiments/greeter-kill/runs", headers=AUTH)
    assert refused.status_code == 409
    assert refused.json()["title"] == "Halted"
    assert daemon.daemon.store.get_state("halt")["reason"] == "game day"
    metrics = client.get("/metrics").text
    assert "aftershock_halted 1.0" in metrics
    assert client.post("/api/v1/resume", headers=AUTH).json() == {"halted": None, "persisted": True}
    assert sim.timeline() == []


def test_reads_can_be_protected(make_sim, tmp_path) -> None:
    sim = make_sim(cluster())
    sim.ready()
    catalog = write_catalog(tmp_path / "catalog", {"g": greeter_experiment()})
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog, api={"protect_reads": True}))
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as client:
            assert client.get("/api/v1/experiments").status_code == 401
            assert client.get("/metrics").status_code == 401
            assert client.get("/api/v1/experiments", headers=AUTH).status_code == 200
            assert client.get("/healthz").status_code == 200  # probes stay open
    finally:
        daemon.stop()
