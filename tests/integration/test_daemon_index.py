"""Issue 12, finding 5 (I7) and finding 11's looser-value warnings, in the running daemon.

A corrupted catalog.yaml once made its experiments run with the looser global limits,
`stale: false`, no problem shown. Now they keep the last good index settings (stale, with
a problem) or, with no good version yet, are not scheduled at all. Kills are counted from
the simulator's ground truth.
"""

from __future__ import annotations

import json
import os
import time

import httpx

from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import TOKEN, DaemonThread, cluster, daemon_settings
from tests.integration.engine_helpers import greeter_experiment
from tests.integration.test_engine import evict_method

AUTH = {"Authorization": f"Bearer {TOKEN}"}
GOOD_INDEX = (
    "experiments:\n"
    "  - file: kill-two.json\n"
    "    schedule: {interval: 1h}\n"
    "    blast_radius: {max_pods: 1}\n"
)
BROKEN_INDEX = "experiments:\n  - file: kill-two.json\n    blast_radius: {max_pods: 1\n"


def touch(path, text: str) -> None:
    path.write_text(text)
    stamp = time.time() + 1
    os.utime(path, (stamp, stamp))  # visible to the (mtime, size) signature at once


def trigger_and_wait(client: httpx.Client, experiment_id: str) -> dict:
    answer = client.post(f"/api/v1/experiments/{experiment_id}/runs", headers=AUTH)
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["run_id"]
    return wait_for(
        lambda: (r := client.get(f"/api/v1/runs/{run_id}").json())["state"] == "done" and r,
        30,
        "the run",
    )


def catalog_with(tmp_path, index: str):
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    # db: 2 replicas and no PDB, so only the limits decide how many pods go.
    experiment = greeter_experiment(method=evict_method("app=db", "fixed", 2))
    (catalog / "kill-two.json").write_text(json.dumps(experiment))
    touch(catalog / "catalog.yaml", index)
    return catalog


def test_a_broken_index_keeps_the_last_good_limits(make_sim, tmp_path) -> None:
    sim = make_sim(cluster())
    sim.ready()
    catalog = catalog_with(tmp_path, GOOD_INDEX)
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog))
    service = daemon.daemon
    client = httpx.Client(base_url=daemon.url, timeout=10)
    try:
        wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
        planned = wait_for(lambda: service.next_run("kill-two"), 5, "scheduled")
        touch(catalog / "catalog.yaml", BROKEN_INDEX)
        wait_for(lambda: service.entries["kill-two"].stale, 5, "the broken index noticed")
        view = client.get("/api/v1/experiments/kill-two").json()
        assert view["valid"] is True
        assert view["stale"] is True
        assert any("catalog.yaml" in problem for problem in view["problems"])
        assert service.entries["kill-two"].loaded.settings.blast_radius.max_pods == 1
        assert service.next_run("kill-two") == planned

        run = trigger_and_wait(client, "kill-two")
        # The index's max_pods 1 still holds (the global 10 would have let both pods go).
        assert (run["outcome"], run["reason"]) == ("refused", "max_pods")
        assert sim.timeline() == []
    finally:
        client.close()
        daemon.stop()


def test_a_broken_index_at_start_schedules_nothing(make_sim, tmp_path) -> None:
    sim = make_sim(cluster())
    sim.ready()
    catalog = catalog_with(tmp_path, BROKEN_INDEX)
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog))
    service = daemon.daemon
    client = httpx.Client(base_url=daemon.url, timeout=10)
    try:
        wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
        view = client.get("/api/v1/experiments/kill-two").json()
        assert view["valid"] is False
        assert any("catalog.yaml" in problem for problem in view["problems"])
        assert service.next_run("kill-two") is None
        refused = client.post("/api/v1/experiments/kill-two/runs", headers=AUTH)
        assert refused.status_code == 404
        assert sim.timeline() == []
    finally:
        client.close()
        daemon.stop()


def test_looser_values_are_listed_among_catalog_problems(make_sim, tmp_path) -> None:
    sim = make_sim(cluster())
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    experiment = greeter_experiment(extension={"blast_radius": {"max_pods": 50}})
    (catalog / "loose.json").write_text(json.dumps(experiment))
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog))
    client = httpx.Client(base_url=daemon.url, timeout=10)
    try:
        problems = client.get("/api/v1/experiments").json()["catalog_problems"]
        assert any(
            "loose.json" in p and "max_pods 50 is above the global limit 10" in p for p in problems
        ), problems
    finally:
        client.close()
        daemon.stop()


def test_a_dangling_entry_keeps_the_last_good_limits(make_sim, tmp_path) -> None:
    """Hostile review F7: a typo'd `file:` once let the file run with the global limits."""
    sim = make_sim(cluster())
    catalog = catalog_with(tmp_path, GOOD_INDEX)
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog))
    service = daemon.daemon
    client = httpx.Client(base_url=daemon.url, timeout=10)
    try:
        wait_for(lambda: service.next_run("kill-two"), 10, "scheduled")
        touch(catalog / "catalog.yaml", GOOD_INDEX.replace("kill-two.json", "kill-tow.json"))
        wait_for(lambda: service.entries["kill-two"].stale, 5, "the dangling entry noticed")
        view = client.get("/api/v1/experiments/kill-two").json()
        assert (view["valid"], view["stale"]) == (True, True)
        assert any("catalog.yaml" in problem for problem in view["problems"])
        assert service.entries["kill-two"].loaded.settings.blast_radius.max_pods == 1
        assert sim.timeline() == []
    finally:
        client.close()
        daemon.stop()


def test_a_deleted_index_keeps_the_last_good_limits(make_sim, tmp_path) -> None:
    """catalog.yaml deleted while in force: its limits stay (stale) until it is restored,
    the limits move into the file, or the daemon restarts; never the looser globals."""
    sim = make_sim(cluster())
    sim.ready()
    catalog = catalog_with(tmp_path, GOOD_INDEX)
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog))
    service = daemon.daemon
    client = httpx.Client(base_url=daemon.url, timeout=10)
    try:
        wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
        wait_for(lambda: service.next_run("kill-two"), 5, "scheduled")
        (catalog / "catalog.yaml").unlink()
        wait_for(lambda: service.entries["kill-two"].stale, 5, "the deleted index noticed")
        view = client.get("/api/v1/experiments/kill-two").json()
        assert view["stale"] is True
        assert any("catalog.yaml, which is gone" in problem for problem in view["problems"])
        assert service.entries["kill-two"].loaded.settings.blast_radius.max_pods == 1
        run = trigger_and_wait(client, "kill-two")
        assert (run["outcome"], run["reason"]) == ("refused", "max_pods")
        assert sim.timeline() == []
        touch(catalog / "catalog.yaml", GOOD_INDEX)  # restored: in force again, not stale
        wait_for(lambda: not service.entries["kill-two"].stale, 5, "the index restored")
    finally:
        client.close()
        daemon.stop()
