"""SIGKILL of the daemon in the middle of a node drill, then a restart: the cordon was
recorded before it was made, and the restarted daemon takes it back (ground truth: the Node)."""

from __future__ import annotations

import json
import signal
from datetime import timedelta
from pathlib import Path

import httpx
import yaml

from daemon.engine.cordons import RUN_ANNOTATION
from daemon.store.history import HistoryStore
from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import TOKEN, write_catalog
from tests.integration.test_daemon_restart import start_serve
from tests.integration.test_node_drills import (
    annotated,
    cordoned,
    drain_action,
    drill_cluster,
    experiment,
    ready,
)

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def drill_daemon_config(sim, tmp_path, catalog) -> Path:
    (tmp_path / "token").write_text(TOKEN)
    config = tmp_path / "settings.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "safety": {"dry_run": False, "max_percent": 100, "min_ready_replicas": 0},
                "nodes": {"enabled": True},
                "catalog": {"path": str(catalog)},
                "store": {"path": str(tmp_path / "history.db")},
                "api": {"host": "127.0.0.1", "token_file": str(tmp_path / "token")},
                "kube": {
                    "mode": "kubeconfig",
                    "kubeconfig": str(sim.sim.kubeconfig),
                    "namespace": "aftershock",
                },
                "leader": {"lease_duration": "3s", "renew_deadline": "2s", "retry_period": "500ms"},
                "logging": {"format": "json"},
            }
        )
    )
    return config


def test_sigkill_during_a_drill_then_restart_uncordons_and_records(make_sim, tmp_path) -> None:
    spec = drill_cluster(namespaces=[{"name": "aftershock", "workloads": []}])
    sim = make_sim(spec)
    ready(sim)
    action = drain_action(count=1)
    action["pauses"] = {"after": 60}
    catalog = write_catalog(tmp_path / "catalog", {"drill": experiment([action])})
    config = drill_daemon_config(sim, tmp_path, catalog)
    first, url = start_serve(sim, config, tmp_path / "first.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            answer = client.post("/api/v1/experiments/drill/runs", headers=AUTH)
            assert answer.status_code == 202, answer.text
            run_id = answer.json()["run_id"]
            wait_for(lambda: annotated(sim), 15, "the cordon")
            wait_for(sim.timeline, 15, "the evictions")
        first.send_signal(signal.SIGKILL)  # the run never finishes
        first.wait(timeout=10)
    finally:
        first.kill()
    (held,) = annotated(sim)
    assert cordoned(sim) == [held]  # the crash left it cordoned ...
    store = HistoryStore(
        tmp_path / "history.db", retention=timedelta(days=1), max_runs_per_experiment=10
    ).open()
    rows = [r for r in store.disruptions() if r["method"] == "cordon"]
    store.close()
    assert [(r["kind"], r["workload"], r["run_id"]) for r in rows] == [("Node", held, run_id)]

    second, url = start_serve(sim, config, tmp_path / "second.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            wait_for(lambda: cordoned(sim) == [], 30, "the cordon taken back")  # ... not for long
            assert annotated(sim) == []
            wait_for(
                lambda: (
                    client.get("/api/v1/experiments/drill").json()["last_run"]["reason"]
                    == "interrupted"
                ),
                30,
                "the interrupted run recorded",
            )
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    finally:
        second.kill()
    store = HistoryStore(
        tmp_path / "history.db", retention=timedelta(days=1), max_runs_per_experiment=10
    ).open()
    found = store.run(run_id)
    store.close()
    assert found is not None
    _row, journal = found
    assert journal is not None
    (record,) = [r for r in journal["rollbacks"] if "uncordon" in r["activity"]["name"]]
    assert (record["status"], record["output"]) == ("succeeded", [held])


def test_start_up_check_reports_a_cordon_without_a_live_run(make_sim, tmp_path) -> None:
    """As an `aftershock run` SIGKILLed mid-drill would leave it: annotated and cordoned."""
    sim = make_sim(drill_cluster(namespaces=[{"name": "aftershock", "workloads": []}]))
    ready(sim)
    sim.core.patch_node(
        "node-2",
        {
            "metadata": {"annotations": {RUN_ANNOTATION: "cli-run-1"}},
            "spec": {"unschedulable": True},
        },
    )
    config = drill_daemon_config(sim, tmp_path, write_catalog(tmp_path / "catalog", {}))
    log = tmp_path / "serve.log"
    daemon, url = start_serve(sim, config, log)
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            line = wait_for(
                lambda: next(
                    (
                        json.loads(text)
                        for text in log.read_text().splitlines()
                        if "without a live run" in text
                    ),
                    None,
                ),
                20,
                "the start-up report",
            )
        assert (line["node"], line["run_id"]) == ("node-2", "cli-run-1")
        assert cordoned(sim) == ["node-2"]  # reported, not lifted: the run was not this daemon's
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        daemon.kill()


def test_sigterm_during_a_drill_uncordons_before_the_daemon_exits(make_sim, tmp_path) -> None:
    sim = make_sim(drill_cluster(namespaces=[{"name": "aftershock", "workloads": []}]))
    ready(sim)
    action = drain_action(count=1)
    action["pauses"] = {"after": 60}
    catalog = write_catalog(tmp_path / "catalog", {"drill": experiment([action])})
    config = drill_daemon_config(sim, tmp_path, catalog)
    daemon, url = start_serve(sim, config, tmp_path / "serve.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            answer = client.post("/api/v1/experiments/drill/runs", headers=AUTH)
            assert answer.status_code == 202, answer.text
            run_id = answer.json()["run_id"]
            wait_for(lambda: annotated(sim), 15, "the cordon")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=40) == 0
    finally:
        daemon.kill()
    assert cordoned(sim) == []
    assert annotated(sim) == []
    store = HistoryStore(
        tmp_path / "history.db", retention=timedelta(days=1), max_runs_per_experiment=10
    ).open()
    found = store.run(run_id)
    store.close()
    assert found is not None
    row, journal = found
    assert row.outcome == "aborted"
    assert journal is not None
    assert [u["node"] for u in journal["aftershock"]["uncordoned"]] == annotated_before(journal)


def annotated_before(journal: dict) -> list[str]:
    return [c["node"] for c in journal["aftershock"]["cordoned"]]
