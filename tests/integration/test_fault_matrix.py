"""The fault matrix: faults injected while the real daemon runs scheduled experiments.

For every case: never more pods disrupted than planned, never a kill without a history row,
no run left unfinished (an escaped exception would leave one), and the daemon carries on
(passing runs) once the fault clears."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import DaemonThread, cluster, daemon_settings, write_catalog
from tests.integration.engine_helpers import greeter_experiment, scale_webapp
from tests.integration.test_engine import FakePrometheus, story


def scheduled_kill(**extension) -> dict:
    experiment = greeter_experiment(
        extension={"schedule": {"interval": "1s"}, "recovery": {"timeout": "10s"}, **extension}
    )
    experiment["rollbacks"] = [scale_webapp(3)]
    return experiment


def shop_with_daemon_namespace() -> dict:
    spec = story(3, ready_delay="200ms")
    spec["namespaces"] += cluster()["namespaces"][1:]  # the Lease lives in "aftershock"
    return spec


def rows(db: Path) -> list[dict]:
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(r) for r in connection.execute("SELECT * FROM runs ORDER BY started_at")]


def check_invariants(sim, db: Path) -> list[dict]:
    runs = rows(db)
    assert all(r["state"] == "done" for r in runs), [r for r in runs if r["state"] != "done"]
    ids = {r["id"] for r in runs}
    disrupted = 0
    for run in runs:
        record = (json.loads(run["journal"]) or {}).get("aftershock") or {}
        planned = sum(len(p["targets"]) for p in record.get("plans", []))
        done = len(record.get("disrupted", []))
        assert done <= planned, (run["id"], done, planned)
        disrupted += done
    assert len(sim.timeline()) == disrupted  # every kill recorded, none behind our back
    events = sim.core.list_namespaced_event(
        "shop", field_selector="reason=AftershockPodKilled"
    ).items
    for event in events:
        assert event.reporting_instance in ids, event.message  # no kill without a history row
    return runs


def passed_after(db: Path, moment: float) -> int:
    return sum(1 for r in rows(db) if r["outcome"] == "passed" and r["started_at"] > moment)


def scenario(
    make_sim, tmp_path, inject, *, clear=None, extension=None, settings=None
) -> list[dict]:
    sim = make_sim(shop_with_daemon_namespace())
    sim.ready()
    catalog = write_catalog(tmp_path / "catalog", {"kill": scheduled_kill(**(extension or {}))})
    groups = {"kube": {"request_timeout": "2s"}, **(settings or {})}
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog, **groups))
    db = tmp_path / "history.db"
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as api:
            wait_for(lambda: api.get("/readyz").json().get("leader"), 15, "leadership")
            wait_for(lambda: passed_after(db, 0), 20, "a first passing run")
            inject(sim, daemon)
            cleared = time.time()
            if clear is not None:
                clear(sim, daemon)
                cleared = time.time()
            wait_for(lambda: passed_after(db, cleared) >= 2, 60, "runs passing again")
            assert api.get("/healthz").status_code == 200
    finally:
        daemon.stop()
    return check_invariants(sim, db)


def faults(sim, rules: list[dict]) -> None:
    sim.control("PUT", "/sim/v1/faults", {"rules": rules})


def hold(seconds: float):
    def wait(_sim, _daemon) -> None:
        time.sleep(seconds)  # the fault stays on while scheduled runs keep firing

    return wait


@pytest.mark.parametrize(
    ("name", "rules"),
    [
        ("5xx burst", [{"error_rate": 0.5, "code": 503}]),
        ("429 burst", [{"error_rate": 0.5, "code": 429, "retry_after": 1}]),
        ("latency beyond timeouts", [{"verb": "list", "resource": "pods", "latency": "3s"}]),
    ],
)
def test_api_error_bursts(make_sim, tmp_path, name, rules) -> None:
    def inject(sim, daemon) -> None:
        faults(sim, rules)
        hold(5)(sim, daemon)
        faults(sim, [])

    runs = scenario(make_sim, tmp_path, inject)
    assert {r["outcome"] for r in runs} - {"passed"}, f"{name}: the fault never bit"


def test_watch_drops_and_gone_during_recovery(make_sim, tmp_path) -> None:
    def inject(sim, _daemon) -> None:
        for _ in range(10):
            sim.control("POST", "/sim/v1/faults/drop-watches")
            sim.control(
                "POST", "/sim/v1/churn", {"rate": 200, "seconds": 0.3, "namespaces": ["shop"]}
            )
            time.sleep(0.5)

    scenario(make_sim, tmp_path, inject)


def test_thirty_second_api_outage(make_sim, tmp_path) -> None:
    def inject(sim, _daemon) -> None:
        sim.control("POST", "/sim/v1/faults/outage", {"seconds": 30})
        time.sleep(30)

    runs = scenario(make_sim, tmp_path, inject)
    assert any(r["outcome"] in ("failed", "aborted", "deviated") for r in runs)


def test_slow_prometheus_fails_safe(make_sim, tmp_path) -> None:
    prometheus = FakePrometheus()
    kills_before: list[int] = []

    def inject(sim, _daemon) -> None:
        prometheus.delay = 3  # beyond prometheus.timeout (1s)
        time.sleep(1.5)
        kills_before.append(len(sim.timeline()))
        time.sleep(4)
        assert len(sim.timeline()) <= kills_before[0] + 1  # at most the run already past its check

    def clear(_sim, _daemon) -> None:
        prometheus.delay = 0

    try:
        runs = scenario(
            make_sim,
            tmp_path,
            inject,
            clear=clear,
            extension={"stop_conditions": ["up == 0"]},
            settings={"prometheus": {"url": prometheus.url, "timeout": "1s"}},
        )
    finally:
        prometheus.shutdown()
        prometheus.server_close()
    reasons = {r["reason"] for r in runs}
    assert reasons & {"stop_conditions_unavailable"}, reasons


def test_history_read_only_then_back(make_sim, tmp_path) -> None:
    def inject(_sim, daemon) -> None:
        store = daemon.daemon.store
        with store._lock:
            store._db.execute("PRAGMA query_only=ON")
        time.sleep(4)
        with store._lock:
            store._db.execute("PRAGMA query_only=OFF")

    scenario(make_sim, tmp_path, inject)


def test_catalog_rewritten_and_deleted_mid_run(make_sim, tmp_path) -> None:
    sim = make_sim(shop_with_daemon_namespace())
    sim.ready()
    experiment = scheduled_kill()
    experiment["method"][0]["pauses"] = {"after": 3}
    catalog = write_catalog(tmp_path / "catalog", {"kill": experiment})
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog))
    db = tmp_path / "history.db"
    try:
        wait_for(lambda: any(r["state"] == "running" for r in rows(db)), 20, "a run in flight")
        (catalog / "kill.yaml").write_text("title: [broken\n")
        time.sleep(1)
        (catalog / "kill.yaml").unlink()
        wait_for(lambda: daemon.daemon.next_run("kill") is None, 10, "the job removed")
        wait_for(lambda: all(r["state"] == "done" for r in rows(db)), 20, "the runs finished")
        finished = len(rows(db))
        time.sleep(3)
        assert len(rows(db)) == finished  # a deleted experiment is not scheduled any more
    finally:
        daemon.stop()
    runs = check_invariants(sim, db)
    assert runs[0]["outcome"] == "passed"  # the run in flight completed with its own copy
