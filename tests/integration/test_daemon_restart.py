"""SIGKILL in the middle of a run, then a restart: the interrupted run is recorded as
aborted/interrupted, its rollbacks are played, and nothing is injected twice."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import yaml

from daemon.store.history import HistoryStore
from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import TOKEN, cluster, write_catalog
from tests.integration.engine_helpers import greeter_experiment, scale_webapp
from tests.integration.test_engine import story

AFTERSHOCK = Path(sys.executable).parent / "aftershock"


def assert_only_interrupted(path: Path, run_id: str) -> None:
    """The history holds exactly one interrupted (still `running`) run: `run_id`."""
    store = HistoryStore(path, retention=timedelta(days=1), max_runs_per_experiment=10).open()
    try:
        ((row, _doc),) = store.interrupted()
        assert row.id == run_id
    finally:
        store.close()


def start_serve(sim, config: Path, log: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "WEBAPP_URL": sim.sim.service_url("shop", "webapp")}
    handle = log.open("a")
    process = subprocess.Popen(
        [str(AFTERSHOCK), "--config", str(config), "serve", "--port", "0"],
        env=env,
        stdout=handle,
        stderr=handle,
    )

    def url() -> str | None:
        found = re.search(r"aftershock serving on (http://\S+)", log.read_text())
        return found.group(1) if found else None

    try:
        return process, wait_for(url, 60, "the daemon's URL")
    except BaseException:  # never leave a daemon behind to load the machine for other tests
        process.kill()
        process.wait(timeout=10)
        raise


def long_run_setup(make_sim, tmp_path: Path):
    """A shop with the daemon's namespace, one experiment that pauses 60 s after its kill
    (rollback: webapp to 5 replicas), and a settings file for `aftershock serve`."""
    spec = story(3, ready_delay="300ms")
    spec["namespaces"] += cluster()["namespaces"][1:]
    sim = make_sim(spec)
    sim.ready()
    experiment = greeter_experiment()
    experiment["method"][0]["pauses"] = {"after": 60}
    experiment["rollbacks"] = [scale_webapp(5)]
    catalog = write_catalog(tmp_path / "catalog", {"long": experiment})
    (tmp_path / "token").write_text(TOKEN)
    config = tmp_path / "settings.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "safety": {"dry_run": False, "max_percent": 100, "min_ready_replicas": 0},
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
    return sim, config


def test_sigkill_mid_run_then_restart(make_sim, tmp_path) -> None:
    sim, config = long_run_setup(make_sim, tmp_path)
    first, url = start_serve(sim, config, tmp_path / "first.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            answer = client.post(
                "/api/v1/experiments/long/runs", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            assert answer.status_code == 202, answer.text
            run_id = answer.json()["run_id"]
            wait_for(sim.timeline, 15, "the kill")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()

    assert_only_interrupted(tmp_path / "history.db", run_id)

    second, url = start_serve(sim, config, tmp_path / "second.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            run = wait_for(
                lambda: (r := client.get(f"/api/v1/runs/{run_id}").json())["state"] == "done" and r,
                30,
                "the interrupted run recorded",
            )
            assert (run["outcome"], run["reason"]) == ("aborted", "interrupted")
            assert [r["status"] for r in run["journal"]["rollbacks"]] == ["succeeded"]
            assert sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas == 5
            assert len(sim.timeline()) == 1  # no duplicate injection
            last = client.get("/api/v1/experiments/long").json()["last_run"]
            assert (last["outcome"], last["reason"]) == ("aborted", "interrupted")
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    finally:
        second.kill()


def test_sigterm_mid_run_aborts_plays_rollbacks_and_releases_the_lease(make_sim, tmp_path) -> None:
    sim, config = long_run_setup(make_sim, tmp_path)
    daemon, url = start_serve(sim, config, tmp_path / "daemon.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            run_id = client.post(
                "/api/v1/experiments/long/runs", headers={"Authorization": f"Bearer {TOKEN}"}
            ).json()["run_id"]
            wait_for(sim.timeline, 15, "the kill")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=25) == 0  # inside the 20 s shutdown bound (+ start-up slack)
    finally:
        daemon.kill()
    store = HistoryStore(
        tmp_path / "history.db", retention=timedelta(days=1), max_runs_per_experiment=10
    ).open()
    found = store.run(run_id)
    assert found is not None
    row, journal = found
    assert (row.outcome, row.reason) == ("aborted", "shutdown")
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]
    assert store.interrupted() == []
    store.close()
    assert sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas == 5
    lease = sim.coordination.read_namespaced_lease("aftershock-leader", "aftershock")
    assert lease.spec.holder_identity is None  # released: a follower takes over at once
    assert len(sim.timeline()) == 1
