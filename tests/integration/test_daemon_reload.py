"""Catalog hot reload: edits, additions and removals picked up; a broken edit keeps the
last good version in force and is reported; other experiments are unaffected."""

from __future__ import annotations

import os
import time

import httpx
import yaml

from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import DaemonThread, cluster, daemon_settings, write_catalog
from tests.integration.engine_helpers import greeter_experiment


def scheduled(interval: str) -> dict:
    return greeter_experiment(extension={"schedule": {"interval": interval}})


def write(path, document) -> None:
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    # Make sure the change is visible to a (mtime, size) signature even within one tick.
    stamp = time.time() + 1
    os.utime(path, (stamp, stamp))


def test_hot_reload_with_a_broken_edit(make_sim, tmp_path) -> None:
    sim = make_sim(cluster())
    sim.ready()
    catalog = write_catalog(tmp_path / "catalog", {"a": scheduled("1h"), "other": scheduled("3h")})
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog))
    service = daemon.daemon
    try:
        client = httpx.Client(base_url=daemon.url, timeout=10)
        first_next = wait_for(lambda: service.next_run("a"), 5, "a scheduled")
        other_next = service.next_run("other")

        write(catalog / "a.yaml", "title: [unclosed\n")
        wait_for(lambda: service.entries["a"].stale, 5, "the broken edit noticed")
        entry = client.get("/api/v1/experiments/a").json()
        assert entry["valid"] is True  # the last good version still runs
        assert entry["stale"] is True
        assert entry["problems"]
        assert service.next_run("a") == first_next
        assert service.next_run("other") == other_next  # untouched
        assert 'aftershock_catalog_experiments{state="invalid"} 1.0' in client.get("/metrics").text
        assert "invalid edit on disk" in client.get("/").text

        write(catalog / "a.yaml", scheduled("2h"))
        wait_for(lambda: not service.entries["a"].stale, 5, "the fixed edit")
        assert service.next_run("a") != first_next  # the new schedule took effect
        assert service.entries["a"].loaded.settings.schedule.interval.total_seconds() == 7200

        write(catalog / "b.yaml", scheduled("1h"))
        wait_for(lambda: service.next_run("b"), 5, "the new file scheduled")
        (catalog / "b.yaml").unlink()
        wait_for(lambda: "b" not in service.entries, 5, "the removed file dropped")
        assert service.next_run("b") is None
        assert 'aftershock_catalog_experiments{state="invalid"} 0.0' in client.get("/metrics").text
        client.close()
    finally:
        daemon.stop()
