"""A throwaway Prometheus for the demo: a real PromQL engine for its stop conditions.

Started on a free loopback port with its data in a temporary directory, scraping the
daemon's /metrics and the simulated services' request counters every second. Start and
stop are bounded; the process dies with the demo (stopped in `finally`, at interpreter
exit, and by the kernel if the demo itself is killed: `setpriv --pdeathsig`, when
util-linux's setpriv is there; no preexec_fn, which is unsafe in a threaded process).
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0
SCRAPE_INTERVAL = "1s"
HOW_TO_GET = "install it (apt-get install prometheus, or https://prometheus.io/download/)"


class PrometheusError(Exception):
    """Prometheus could not be started; the message says why, for one line of output."""


def find_binary(choice: str | None) -> str | None:
    """`choice` is a path, "none" (skip), or None (whatever `prometheus` is on PATH)."""
    if choice == "none":
        return None
    return shutil.which(choice or "prometheus")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _hostport(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}"


def config_text(jobs: dict[str, list[str]]) -> str:
    """prometheus.yml: one job per name, each target a base URL whose /metrics is scraped."""
    lines = [
        "global:",
        f"  scrape_interval: {SCRAPE_INTERVAL}",
        f"  evaluation_interval: {SCRAPE_INTERVAL}",
        "scrape_configs:",
    ]
    for job, urls in jobs.items():
        targets = ", ".join(f'"{_hostport(u)}"' for u in urls)
        lines += [f"  - job_name: {job}", "    static_configs:", f"      - targets: [{targets}]"]
    return "\n".join(lines) + "\n"


def _with_parent(command: list[str]) -> list[str]:
    """`command`, killed by the kernel (SIGTERM) if the demo dies without stopping it."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *command] if setpriv else command


@dataclass
class Prometheus:
    process: subprocess.Popen[bytes]
    url: str
    directory: Path

    def stop(self) -> None:
        """Bounded: SIGTERM, then SIGKILL after STOP_TIMEOUT. Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        shutil.rmtree(self.directory, ignore_errors=True)


def start(binary: str, port: int, jobs: dict[str, list[str]]) -> Prometheus:
    """Start Prometheus on 127.0.0.1:`port` and wait (bounded) until it is ready."""
    directory = Path(tempfile.mkdtemp(prefix="aftershock-demo-prometheus-"))
    config = directory / "prometheus.yml"
    config.write_text(config_text(jobs))
    log = (directory / "prometheus.log").open("wb")
    try:
        process = subprocess.Popen(  # noqa: S603 - our own arguments, no shell
            _with_parent(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={directory / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--storage.tsdb.retention.time=1h",
                    "--log.level=error",
                ]
            ),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # Ctrl-C reaches the demo, which stops it in order
        )
    except OSError as exc:
        shutil.rmtree(directory, ignore_errors=True)
        raise PrometheusError(f"cannot start {binary}: {exc}") from None
    finally:
        log.close()
    running = Prometheus(process, f"http://127.0.0.1:{port}", directory)
    atexit.register(running.stop)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (directory / "prometheus.log").read_text(errors="replace").strip()[-300:]
            running.stop()
            raise PrometheusError(f"{binary} exited with code {process.returncode}: {tail}")
        try:
            ready = f"{running.url}/-/ready"
            with urllib.request.urlopen(ready, timeout=1) as answer:  # noqa: S310 - http, ours
                if answer.status == 200:
                    return running
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    running.stop()
    raise PrometheusError(f"{binary} was not ready within {START_TIMEOUT:.0f}s")
