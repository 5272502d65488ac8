"""Drive aftershock only through its public faces: `aftershock run` and `aftershock serve`.

`run_cli` invokes the real CLI in-process (validation, settings file, engine, exactly what a
user's `aftershock run` does) so a generated example costs a second, not a process start.
`ServeProcess` is the daemon as a process, so it can be killed with SIGKILL and restarted
on the same history file.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from click.testing import CliRunner

from daemon.cli import cli
from tests.integration.conftest import Sim, wait_for

AFTERSHOCK = Path(sys.executable).parent / "aftershock"
TOKEN = "property-token-0123456789abcdef"
REPOSITORY = Path(__file__).resolve().parents[2]


def run_cli(sim: Sim, experiment: dict[str, Any], safety: dict[str, Any], seed: int) -> str:
    """`aftershock run --no-dry-run` of one experiment; returns the CLI's output."""
    with tempfile.TemporaryDirectory(prefix="aftershock-prop-run-") as scratch:
        return _run_cli(sim, Path(scratch), experiment, safety, seed)


def _run_cli(
    sim: Sim, directory: Path, experiment: dict[str, Any], safety: dict[str, Any], seed: int
) -> str:
    source = directory / "experiment.yaml"
    source.write_text(yaml.safe_dump(experiment, sort_keys=False))
    config = directory / "settings.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "safety": safety,
                "kube": {"mode": "kubeconfig", "request_timeout": "2s"},
                "engine": {"activity_timeout": "5s"},
                "logging": {"level": "ERROR", "format": "json"},
            }
        )
    )
    result = CliRunner().invoke(
        cli,
        [
            "--config",
            str(config),
            "run",
            str(source),
            "--kubeconfig",
            str(sim.sim.kubeconfig),
            "--no-dry-run",
            "--journal",
            str(directory / "journal.json"),
            "--seed",
            str(seed),
        ],
        catch_exceptions=True,
    )
    text = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text += f"\n(exception: {result.exception!r})"
    return text


class ServeProcess:
    """`aftershock serve` on a settings file; SIGKILL-able, restartable on the same history."""

    def __init__(
        self,
        sim: Sim,
        directory: Path,
        safety: dict[str, Any],
        catalog: Path,
        scheduling: dict[str, Any] | None = None,
    ):
        self.sim = sim
        self.directory = directory
        (directory / "token").write_text(TOKEN)
        self.config = directory / "settings.yaml"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "safety": safety,
                    "catalog": {"path": str(catalog), "reload_interval": "200ms"},
                    "store": {"path": str(directory / "history.db")},
                    "api": {"host": "127.0.0.1", "token_file": str(directory / "token")},
                    "kube": {
                        "mode": "kubeconfig",
                        "kubeconfig": str(sim.sim.kubeconfig),
                        "namespace": "aftershock",
                        "request_timeout": "2s",
                    },
                    "engine": {"activity_timeout": "5s"},
                    "leader": {
                        "lease_duration": "2s",
                        "renew_deadline": "1500ms",
                        "retry_period": "200ms",
                    },
                    "logging": {"format": "json", "level": "WARNING"},
                    "scheduling": scheduling or {},
                }
            )
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = self.directory / f"serve-{self.starts}.log"
        handle = log.open("ab")
        self.process = subprocess.Popen(
            [str(AFTERSHOCK), "--config", str(self.config), "serve", "--port", "0"],
            env={**os.environ, "WEBAPP_URL": "http://127.0.0.1:9"},
            cwd=REPOSITORY,  # `python -m daemon` imports the daemon of this tree
            stdout=handle,
            stderr=handle,
        )

        def url() -> str | None:
            found = re.search(r"aftershock serving on (http://\S+)", log.read_text())
            return found.group(1) if found else None

        self.url = wait_for(url, 30, "the daemon's URL")
        with httpx.Client(base_url=self.url, timeout=5) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 20, "leadership")
            # runs start once the replay of runs a crash interrupted is over
            wait_for(lambda: not client.get("/readyz").json()["recovering"], 30, "the replay")

    def trigger(self, experiment_id: str) -> str | None:
        """Start a run; None when the daemon declines (cooldown, budget, ...) before a run."""
        with httpx.Client(base_url=self.url, timeout=10) as client:
            answer = client.post(
                f"/api/v1/experiments/{experiment_id}/runs",
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
        if answer.status_code != 202:
            return None
        run_id: str = answer.json()["run_id"]
        return run_id

    def wait_done(self, run_id: str, timeout: float = 40) -> dict[str, Any]:
        with httpx.Client(base_url=self.url, timeout=10) as client:

            def done() -> dict[str, Any] | None:
                run = client.get(f"/api/v1/runs/{run_id}").json()
                return run if run.get("state") == "done" else None

            found: dict[str, Any] = wait_for(done, timeout, f"run {run_id} done")
            return found

    def sigkill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=25)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def now() -> float:
    return time.time()
