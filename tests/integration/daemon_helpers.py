"""Run the real daemon (server.start + serve) in-process against a simulated cluster."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import yaml

from daemon.server import Running, serve, start
from daemon.settings import Settings
from tests.integration.conftest import shop, wait_for

TOKEN = "test-token-0123456789abcdef"


def cluster(**overrides: Any) -> dict:
    spec = shop(**overrides)
    spec["namespaces"].append({"name": "aftershock", "workloads": []})  # the Lease lives here
    return spec


def write_catalog(directory: Path, experiments: dict[str, dict]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, experiment in experiments.items():
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(experiment, sort_keys=False))
    return directory


def daemon_settings(tmp_path: Path, catalog: Path, **groups: dict) -> Settings:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    values: dict[str, dict] = {
        "safety": {
            "dry_run": False,
            "max_percent": 100,
            "min_ready_replicas": 0,
            "cooldown": "0s",
            "stop_condition_interval": "200ms",
        },
        "catalog": {"path": str(catalog), "reload_interval": "200ms"},
        "store": {"path": str(tmp_path / "history.db")},
        "api": {"host": "127.0.0.1", "token_file": str(token_file)},
        "kube": {"mode": "kubeconfig", "namespace": "aftershock"},
        "leader": {"lease_duration": "3s", "renew_deadline": "2s", "retry_period": "500ms"},
        "engine": {"activity_timeout": "10s"},
    }
    for group, update in groups.items():
        values[group] = {**values.get(group, {}), **update}
    return Settings(**values)


class DaemonThread:
    def __init__(self, sim, settings: Settings, **kwargs: Any):
        self.running: Running = start(
            settings,
            port=0,
            environ={"WEBAPP_URL": sim.sim.service_url("shop", "webapp")},
            **{"kubeconfig": sim.sim.kubeconfig, **kwargs},
        )
        self.url = self.running.url
        self.daemon = self.running.daemon
        self.thread = threading.Thread(target=serve, args=(self.running,), daemon=True)
        self.thread.start()

    def wait_run(self, client, run_id: str, timeout: float = 30) -> dict:
        """The run, once it is over: its history row `done` and every listener (metrics,
        notifications) has seen it."""
        run = wait_for(
            lambda: (r := client.get(f"/api/v1/runs/{run_id}").json())["state"] == "done" and r,
            timeout,
            f"run {run_id} done",
        )
        assert self.daemon.listeners_idle(timeout), "the run listeners did not catch up"
        return run

    def stop(self) -> None:
        self.running.server.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "daemon did not stop in time"
