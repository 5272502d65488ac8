"""The replay of an interrupted run plays in a thread of its own (docs/daemon.md, "Run
history and restarts"): the lease is renewed while a slow rollback waits, no run of the
replica starts before the replay is over, and the run's end is recorded once it is."""

from __future__ import annotations

import signal
import time

import httpx

from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import TOKEN
from tests.integration.test_daemon_restart import start_serve
from tests.integration.test_hostile_gate import (
    Hold,
    _serve_config,
    crash_mid_run,
    held_rollback,
    serve_story,
    trigger,
)


def lease(sim):
    return sim.coordination.read_namespaced_lease("aftershock-leader", "aftershock").spec


def test_a_slow_replay_keeps_the_lease_and_holds_runs_back(make_sim, tmp_path) -> None:
    sim = serve_story(make_sim)
    hold = Hold()
    # The lease is lost 2 s after the last renewal: a replay in the elector's thread,
    # held 5 s, would lose it.
    config = _serve_config(
        sim,
        tmp_path,
        held_rollback(hold),
        leader={"lease_duration": "3s", "renew_deadline": "2s", "retry_period": "500ms"},
    )
    run_id = crash_mid_run(sim, config, tmp_path / "first.log")

    second, url = start_serve(sim, config, tmp_path / "second.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            assert hold.arrived.wait(40), "the interrupted run's replay did not start"
            before = lease(sim)
            held_until = time.monotonic() + 5
            leading, answers = [], []
            while time.monotonic() < held_until:
                leading.append(client.get("/readyz").json().get("leader"))
                answers.append(
                    client.post(
                        "/api/v1/experiments/gate/runs",
                        headers={"Authorization": f"Bearer {TOKEN}"},
                    )
                )
                time.sleep(0.5)
            # ground truth: the Lease, read with the kubernetes client, was renewed meanwhile
            after = lease(sim)
            assert after.holder_identity == before.holder_identity, (before, after)
            assert after.renew_time > before.renew_time, (before, after)
            assert all(leading), leading
            assert {a.status_code for a in answers} == {503}, [a.text for a in answers]
            assert all(a.json()["title"] == "Recovering" for a in answers)
            assert len(sim.timeline()) == 1  # nothing ran meanwhile
            hold.release.set()
            wait_for(
                lambda: client.get(f"/api/v1/runs/{run_id}").json()["state"] == "done",
                15,
                "the replay's end",
            )
            replayed = client.get(f"/api/v1/runs/{run_id}").json()
            assert (replayed["outcome"], replayed["reason"]) == ("aborted", "interrupted")
            trigger(client)  # runs start again once the replay is over
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    finally:
        second.kill()
        hold.close()
