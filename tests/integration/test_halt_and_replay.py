"""Hostile review G: the halt ConfigMap is read live (before a trigger is accepted, before
every kill, at start before an interrupted run is replayed), and a crash does not hand the
interrupted run a fresh budget. Counted from the simulator's ground truth."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from daemon.engine.context import REPLAY_GATE
from daemon.safety.budget import Intent
from daemon.store.history import HistoryStore
from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import (
    TOKEN,
    DaemonThread,
    cluster,
    daemon_settings,
    write_catalog,
)
from tests.integration.engine_helpers import greeter_experiment
from tests.integration.test_daemon_restart import start_serve
from tests.integration.test_engine import story

AUTH = {"Authorization": f"Bearer {TOKEN}"}
HALT = {"metadata": {"name": "aftershock-halt"}, "data": {"halted": "true", "reason": "freeze"}}


def kill(app: str, ns: str = "shop") -> dict:
    return {
        "type": "action",
        "name": f"terminate-one-{app}",
        "provider": {
            "type": "python",
            "module": "chaosk8s.pod.actions",
            "func": "terminate_pods",
            "arguments": {"label_selector": f"app={app}", "ns": ns, "rand": True, "qty": 1},
        },
    }


def get_webapp(pause: float) -> dict:
    return {
        "type": "probe",
        "name": "webapp-answers",
        "provider": {"type": "http", "url": "${web_app_url}", "timeout": 3},
        "pauses": {"after": pause},
    }


def serve_config(
    sim, tmp_path: Path, experiment: dict, experiment_id: str = "x", **groups: dict
) -> Path:
    """`aftershock serve` settings on one experiment; `groups` replace whole settings groups."""
    catalog = write_catalog(tmp_path / "catalog", {experiment_id: experiment})
    (tmp_path / "token").write_text(TOKEN)
    config = tmp_path / "settings.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "safety": {
                    "dry_run": False,
                    "max_percent": 100,
                    "min_ready_replicas": 0,
                    "cooldown": "0s",
                },
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
                **groups,
            }
        )
    )
    return config


@pytest.mark.parametrize("variant", ["max_pods", "halt_configmap"])
def test_a_crash_does_not_reset_the_budget_nor_skip_the_halt(make_sim, tmp_path, variant) -> None:
    """Method: kill one greeter, then a GET that pauses 30 s; rollback: kill one db pod.
    SIGKILL during the pause, restart: the replayed rollback must respect the run's max_pods 1
    (one pod already spent before the crash) and a halt ConfigMap set while it was down. (A
    replay sends no disruption at all now, REPLAY_GATE; the max_pods plan refuses first.)"""
    spec = story(3, ready_delay="300ms")
    spec["namespaces"] += cluster()["namespaces"][1:]
    sim = make_sim(spec)
    sim.ready()
    experiment = greeter_experiment(
        method=[kill("greeter"), get_webapp(30)],
        extension={"blast_radius": {"max_pods": 1 if variant == "max_pods" else 5}},
    )
    experiment["rollbacks"] = [kill("db")]
    config = serve_config(sim, tmp_path, experiment)
    first, url = start_serve(sim, config, tmp_path / "first.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            answer = client.post("/api/v1/experiments/x/runs", headers=AUTH)
            assert answer.status_code == 202, answer.text
            run_id = answer.json()["run_id"]
            wait_for(sim.timeline, 15, "the kill")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    assert len(sim.timeline()) == 1
    if variant == "halt_configmap":
        sim.core.create_namespaced_config_map("aftershock", HALT)

    second, url = start_serve(sim, config, tmp_path / "second.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            run = wait_for(
                lambda: (r := client.get(f"/api/v1/runs/{run_id}").json())["state"] == "done" and r,
                30,
                "the interrupted run recorded",
            )
            assert (run["outcome"], run["reason"]) == ("aborted", "interrupted")
            (rollback,) = run["journal"]["rollbacks"]
            if variant == "max_pods":  # refused by the run's own limit, its pod already spent
                assert rollback["status"] == "failed", rollback
                assert "max_pods" in rollback["exception"][0], rollback
            else:  # not sent, never "succeeded": a replay only restores (and it is halted)
                assert rollback["status"] == "failed", rollback
                assert "not sent" in rollback["exception"][-1], rollback
                assert REPLAY_GATE in rollback["exception"][-1], rollback
            time.sleep(1)
            timeline = sim.timeline()
            assert [d["workload_name"] for d in timeline] == ["greeter"], timeline
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    finally:
        second.kill()
    store = HistoryStore(
        tmp_path / "history.db", retention=timedelta(days=1), max_runs_per_experiment=10
    ).open()
    counted = [r for r in store.disruptions(run_id) if r["state"] != "failed"]
    store.close()
    assert [r["workload"] for r in counted] == ["greeter"]


def halt_daemon(make_sim, tmp_path: Path, experiment: dict) -> tuple:
    sim = make_sim(cluster())
    sim.ready()
    catalog = write_catalog(tmp_path / "catalog", {"x": experiment})
    # Housekeeping (which also polls the switch) every 30 s: only a live read can see it.
    settings = daemon_settings(tmp_path, catalog)
    settings = settings.model_copy(
        update={
            "catalog": settings.catalog.model_copy(
                update={"reload_interval": timedelta(seconds=30)}
            )
        }
    )
    return sim, DaemonThread(sim, settings)


def test_a_trigger_right_after_the_configmap_is_refused(make_sim, tmp_path) -> None:
    sim, daemon = halt_daemon(make_sim, tmp_path, greeter_experiment())
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
            sim.core.create_namespaced_config_map("aftershock", HALT)
            refused = client.post("/api/v1/experiments/x/runs", headers=AUTH)
            assert refused.status_code == 409, refused.text
            assert "freeze" in refused.json()["detail"]
            time.sleep(0.5)
            assert sim.timeline() == []
    finally:
        daemon.stop()


def test_the_configmap_is_read_before_every_kill(make_sim, tmp_path) -> None:
    """Set between two kills of one run: the second is never sent."""
    # a long pause between the kills: the ConfigMap lands in it however slow the machine;
    # the halt cuts it short
    experiment = greeter_experiment(method=[kill("webapp"), get_webapp(10), kill("db")])
    sim, daemon = halt_daemon(make_sim, tmp_path, experiment)
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
            run_id = client.post("/api/v1/experiments/x/runs", headers=AUTH).json()["run_id"]
            wait_for(sim.timeline, 10, "the first kill")
            sim.core.create_namespaced_config_map("aftershock", HALT)
            run = wait_for(
                lambda: (r := client.get(f"/api/v1/runs/{run_id}").json())["state"] == "done" and r,
                20,
                "the run",
            )
            assert (run["outcome"], run["reason"]) == ("aborted", "halted")
            assert [d["workload_name"] for d in sim.timeline()] == ["webapp"]
    finally:
        daemon.stop()


def test_pruning_keeps_disruptions_for_the_longest_cooldown(
    make_sim, tmp_path, monkeypatch
) -> None:
    """store.retention 1 day, the experiment's cooldown 30 days, a kill 5 days ago: the
    daemon's pruning keeps it, so the cooldown still refuses the run."""
    sim = make_sim(cluster())
    sim.ready()
    experiment = greeter_experiment(extension={"blast_radius": {"cooldown": "30d"}})
    catalog = write_catalog(tmp_path / "catalog", {"x": experiment})
    store = HistoryStore(
        tmp_path / "history.db", retention=timedelta(days=1), max_runs_per_experiment=10
    ).open()
    old = (datetime.now(UTC) - timedelta(days=5)).timestamp()
    workload = ("shop", "Deployment", "greeter")
    store.settle_disruption(
        store.record_intent(Intent("old-run", workload, "greeter-x", "u1", "delete", old)), "done"
    )
    store.close()
    pruned: list[float] = []
    original = HistoryStore.prune

    def spy(self, now, **kwargs):  # the real prune, observed
        removed = original(self, now, **kwargs)
        pruned.append(now)
        return removed

    monkeypatch.setattr(HistoryStore, "prune", spy)
    settings = daemon_settings(tmp_path, catalog, store={"retention": "1d"})
    daemon = DaemonThread(sim, settings)
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
            wait_for(lambda: pruned, 10, "housekeeping's pruning")
            assert [r["pod"] for r in daemon.daemon.store.disruptions()] == ["greeter-x"]
            run_id = client.post("/api/v1/experiments/x/runs", headers=AUTH).json()["run_id"]
            run = wait_for(
                lambda: (r := client.get(f"/api/v1/runs/{run_id}").json())["state"] == "done" and r,
                20,
                "the run",
            )
            assert (run["outcome"], run["reason"]) == ("refused", "cooldown")
            assert sim.timeline() == []
    finally:
        daemon.stop()
