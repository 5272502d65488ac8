"""Run listeners against the simulated cluster: a raising and a hanging listener never change
a run's outcome nor delay the next run; failures are counted under the listener's name."""

from __future__ import annotations

import itertools
import threading
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from daemon.listeners import CallbackListener, RunEnded
from daemon.outcomes import Outcome
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


def failures(client: httpx.Client, listener: str) -> float:
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        if family.name == "aftershock_listener_failures":
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels == {"listener": listener}:
                    return sample.value
    return 0.0


def test_raising_and_hanging_listeners_never_touch_the_runs(make_sim, tmp_path) -> None:
    sim = make_sim(cluster())
    sim.ready()
    catalog = write_catalog(
        tmp_path / "catalog",
        {"probe": greeter_experiment(method=[], extension={"schedule": {"interval": "1s"}})},
    )
    release = threading.Event()
    hung: list[str] = []
    seen: list[RunEnded] = []

    def raiser(_run: RunEnded) -> None:
        raise RuntimeError("notifier down")

    def hanger(run: RunEnded) -> None:
        hung.append(run.run_id)
        release.wait(60)

    settings = daemon_settings(tmp_path, catalog, scheduling={"shutdown_timeout": "3s"})
    daemon = DaemonThread(
        sim,
        settings,
        listeners=[
            CallbackListener("raiser", raiser),
            CallbackListener("hanger", hanger),
            CallbackListener("recorder", seen.append),
        ],
    )
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as client:
            wait_for(lambda: len(seen) >= 4, 40, "four runs seen by the recorder")
            assert len(hung) == 1  # still stuck in the first run, all along
            for run in seen[:4]:
                assert run.outcome is Outcome.PASSED, run.record
                # The recorder has its own worker: the history listener (on the core worker)
                # may write the run's row a moment after the recorder saw it.
                stored = wait_for(
                    lambda r=run: (
                        (s := client.get(f"/api/v1/runs/{r.run_id}").json())["state"] == "done"
                        and s
                    ),
                    10,
                    f"run {run.run_id} recorded",
                )
                assert (stored["state"], stored["outcome"]) == ("done", "passed")
            # The next run fires on time: one interval (1 s) after the previous one ended,
            # with room for a loaded machine, never blocked behind the hanging listener.
            for before, after in itertools.pairwise(seen[:4]):
                assert after.started_at - before.ended_at < 3.0, (before, after)
            wait_for(lambda: failures(client, "raiser") >= 4, 10, "the raiser's failures")
            assert failures(client, "recorder") == 0
            assert failures(client, "hanger") == 0
        started = time.monotonic()
        daemon.stop()  # bounded although a listener hangs
        assert time.monotonic() - started < 3.0 + 5.0
    finally:
        release.set()
        if daemon.thread.is_alive():
            daemon.stop()


def test_listeners_see_a_run_after_its_slot_and_its_entry_are_released(make_sim, tmp_path) -> None:
    sim = make_sim(cluster())
    sim.ready()
    catalog = write_catalog(tmp_path / "catalog", {"once": greeter_experiment(method=[])})
    settings = daemon_settings(tmp_path, catalog, scheduling={"max_concurrent_runs": 1})
    observed: list[tuple[int, str | None, str]] = []
    holder: list[DaemonThread] = []

    def observe(run: RunEnded) -> None:
        daemon = holder[0].daemon
        observed.append((daemon.slots.running, daemon.entries["once"].running, run.outcome))

    daemon = DaemonThread(sim, settings, listeners=[CallbackListener("observer", observe)])
    holder.append(daemon)
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
            run_id = client.post("/api/v1/experiments/once/runs", headers=AUTH).json()["run_id"]
            run = daemon.wait_run(client, run_id)
            assert run["outcome"] == "passed"
            # Called after the run's slot and its entry were released.
            assert observed == [(0, None, Outcome.PASSED)]
            again = client.post("/api/v1/experiments/once/runs", headers=AUTH)
            assert again.status_code == 202, again.text
            daemon.wait_run(client, again.json()["run_id"])
    finally:
        daemon.stop()
