"""The real daemon (server.start + serve, in a thread) against the suite's cluster."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx

from daemon.server import Running, serve, start
from tests.cluster.backend import wait_for
from tests.integration.daemon_helpers import TOKEN, daemon_settings, write_catalog

AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Daemon:
    """One daemon whose own namespace (its Lease; always protected) is `home`."""

    def __init__(
        self,
        tmp_path: Path,
        kubeconfig: Path,
        home: str,
        experiments: dict[str, dict],
        *,
        identity: str = "a",
        **groups: dict[str, Any],
    ):
        directory = tmp_path / identity
        directory.mkdir(parents=True, exist_ok=True)
        settings = daemon_settings(
            directory,
            write_catalog(directory / "catalog", experiments),
            **{
                **groups,
                "kube": {
                    "mode": "kubeconfig",
                    "kubeconfig": str(kubeconfig),
                    "namespace": home,
                    **groups.get("kube", {}),
                },
                "leader": {
                    "identity": identity,
                    "lease_duration": "3s",
                    "renew_deadline": "2s",
                    "retry_period": "500ms",
                    **groups.get("leader", {}),
                },
            },
        )
        self.identity = identity
        self.running: Running = start(settings, port=0, environ={}, kubeconfig=kubeconfig)
        self.url = self.running.url
        self.thread = threading.Thread(target=serve, args=(self.running,), daemon=True)
        self.thread.start()
        self.api = httpx.Client(base_url=self.url, timeout=10)

    def leading(self) -> bool:
        try:
            return bool(self.api.get("/readyz").json().get("leader"))
        except httpx.HTTPError:
            return False

    def run(self, experiment: str, timeout: float) -> dict[str, Any]:
        answer = self.api.post(f"/api/v1/experiments/{experiment}/runs", headers=AUTH)
        assert answer.status_code == 202, answer.text
        run_id = answer.json()["run_id"]
        return wait_for(
            lambda: (r := self.api.get(f"/api/v1/runs/{run_id}").json())["state"] == "done" and r,
            timeout,
            f"run {run_id}",
        )

    def stop(self) -> None:
        self.api.close()
        self.running.server.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "daemon did not stop in time"
