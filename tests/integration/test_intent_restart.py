"""Issue 12, finding 4: a disruption is in the history before the request is sent, so a
daemon SIGKILLed right after a kill still knows about it when it comes back."""

from __future__ import annotations

import signal
from datetime import timedelta

import httpx

from daemon.store.history import HistoryStore
from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import TOKEN
from tests.integration.test_daemon_restart import long_run_setup, start_serve

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_sigkill_after_a_kill_then_restart_keeps_the_cooldown(make_sim, tmp_path) -> None:
    sim, config = long_run_setup(make_sim, tmp_path)  # default cooldown: 10 minutes
    first, url = start_serve(sim, config, tmp_path / "first.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            answer = client.post("/api/v1/experiments/long/runs", headers=AUTH)
            assert answer.status_code == 202, answer.text
            wait_for(sim.timeline, 15, "the kill")
        first.send_signal(signal.SIGKILL)  # the run never finishes
        first.wait(timeout=10)
    finally:
        first.kill()

    store = HistoryStore(
        tmp_path / "history.db", retention=timedelta(days=1), max_runs_per_experiment=10
    ).open()
    rows = store.disruptions()
    store.close()
    assert [(r["workload"], r["uid"]) for r in rows] == [
        (d["workload_name"], d["pod_uid"]) for d in sim.timeline()
    ]

    second, url = start_serve(sim, config, tmp_path / "second.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            wait_for(
                lambda: (
                    client.get("/api/v1/experiments/long").json()["last_run"]["reason"]
                    == "interrupted"
                ),
                30,
                "the interrupted run recorded",
            )
            sim.ready()
            run_id = client.post("/api/v1/experiments/long/runs", headers=AUTH).json()["run_id"]
            run = wait_for(
                lambda: (r := client.get(f"/api/v1/runs/{run_id}").json())["state"] == "done" and r,
                30,
                "the second run",
            )
            assert (run["outcome"], run["reason"]) == ("refused", "cooldown")
            # the interrupted run's intent was settled (done before the crash, or uncertain)
            assert len(sim.timeline()) == 1  # ground truth: the workload was not hit twice
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    finally:
        second.kill()
    store = HistoryStore(
        tmp_path / "history.db", retention=timedelta(days=1), max_runs_per_experiment=10
    ).open()
    assert {r["state"] for r in store.disruptions()} <= {"done", "uncertain"}
    store.close()
