"""Hostile review, invariant 4 across two replicas: a leader that loses its lease in the
middle of a node drill takes its cordon back (ground truth: the Node objects)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import yaml

from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import TOKEN, write_catalog
from tests.integration.test_daemon_leader import leader_of
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


def replica_config(sim, tmp_path: Path, name: str, catalog: Path) -> Path:
    (tmp_path / "token").write_text(TOKEN)
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "safety": {"dry_run": False, "max_percent": 100, "min_ready_replicas": 0},
                "nodes": {"enabled": True},
                "catalog": {"path": str(catalog)},
                "store": {"path": str(tmp_path / f"{name}.db")},
                "api": {"host": "127.0.0.1", "token_file": str(tmp_path / "token")},
                "kube": {
                    "mode": "kubeconfig",
                    "kubeconfig": str(sim.sim.kubeconfig),
                    "namespace": "aftershock",
                },
                "leader": {
                    "identity": name,
                    "lease_duration": "3s",
                    "renew_deadline": "2s",
                    "retry_period": "500ms",
                },
                "logging": {"format": "json"},
            }
        )
    )
    return config


def test_a_leader_frozen_mid_drill_uncordons_when_it_wakes_up(make_sim, tmp_path) -> None:
    """Invariant 4 (leadership loss): the leader cordons a node for a drill (60 s pause),
    is frozen (SIGSTOP) until the follower leads, then thawed: it must step down and take
    its cordon back."""
    sim = make_sim(drill_cluster(namespaces=[{"name": "aftershock", "workloads": []}]))
    ready(sim)
    action = drain_action(count=1)
    action["pauses"] = {"after": 60}
    catalog = write_catalog(tmp_path / "catalog", {"drill": experiment([action])})
    processes, urls = {}, {}
    try:
        for name in ("alpha", "beta"):
            config = replica_config(sim, tmp_path, name, catalog)
            processes[name], urls[name] = start_serve(sim, config, tmp_path / f"{name}.log")
        (leader,) = wait_for(lambda: leader_of(urls), 15, "a leader")
        follower = "beta" if leader == "alpha" else "alpha"
        with httpx.Client(base_url=urls[leader], timeout=10) as client:
            answer = client.post("/api/v1/experiments/drill/runs", headers=AUTH)
            assert answer.status_code == 202, answer.text
        wait_for(lambda: annotated(sim), 15, "the cordon")
        processes[leader].send_signal(signal.SIGSTOP)
        wait_for(lambda: leader_of({follower: urls[follower]}), 15, "the follower leading")
        time.sleep(2)
        assert len(cordoned(sim)) == 1  # still held while the old leader is frozen
        processes[leader].send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 20
        while cordoned(sim) and time.monotonic() < deadline:
            time.sleep(0.05)
        log = (tmp_path / f"{leader}.log").read_text()[-3000:]
        assert cordoned(sim) == [], (annotated(sim), log)
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except Exception:  # noqa: BLE001
                process.kill()


def test_a_leader_killed_mid_drill_and_restarted_as_follower_uncordons(make_sim, tmp_path) -> None:
    """Invariant 4 (SIGKILL + restart, two replicas): the leader cordons a node for a drill,
    is frozen until the other replica leads, then SIGKILLed and restarted with its own store.
    The restarted replica is now a follower: the interrupted run's cordon must still be taken
    back (by it, or by the leader), within 30 s.
    BREAK: interrupted-run recovery runs only "as soon as this replica leads"
    (daemon/runtime/interrupted.py recover_once); the leader only logs "node cordoned by
    aftershock without a live run" (error) and lifts nothing: the node stays cordoned for
    as long as the other replica leads."""
    sim = make_sim(drill_cluster(namespaces=[{"name": "aftershock", "workloads": []}]))
    ready(sim)
    action = drain_action(count=1)
    action["pauses"] = {"after": 60}
    catalog = write_catalog(tmp_path / "catalog", {"drill": experiment([action])})
    processes, urls, configs = {}, {}, {}
    try:
        for name in ("alpha", "beta"):
            configs[name] = replica_config(sim, tmp_path, name, catalog)
            processes[name], urls[name] = start_serve(sim, configs[name], tmp_path / f"{name}.log")
        (leader,) = wait_for(lambda: leader_of(urls), 15, "a leader")
        follower = "beta" if leader == "alpha" else "alpha"
        with httpx.Client(base_url=urls[leader], timeout=10) as client:
            answer = client.post("/api/v1/experiments/drill/runs", headers=AUTH)
            assert answer.status_code == 202, answer.text
        wait_for(lambda: annotated(sim), 15, "the cordon")
        processes[leader].send_signal(signal.SIGSTOP)
        wait_for(lambda: leader_of({follower: urls[follower]}), 15, "the follower leading")
        processes[leader].send_signal(signal.SIGKILL)
        processes[leader].wait(timeout=10)
        assert cordoned(sim)  # the killed replica's cordon
        processes[leader], urls[leader] = start_serve(
            sim, configs[leader], tmp_path / f"{leader}-restarted.log"
        )
        deadline = time.monotonic() + 30
        while cordoned(sim) and time.monotonic() < deadline:
            time.sleep(0.1)
        log = (tmp_path / f"{leader}-restarted.log").read_text()[-2000:]
        assert cordoned(sim) == [], (annotated(sim), leader_of(urls), log)
    finally:
        for process in processes.values():
            process.send_signal(signal.SIGCONT)
            process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except Exception:  # noqa: BLE001
                process.kill()
