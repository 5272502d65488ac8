"""Start `aftershock simulate` in its own process, so its CPU and memory are its own."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_simulator(spec: Path, kubeconfig: Path) -> tuple[subprocess.Popen, str]:
    """(process, base URL); the URL is the first line the simulator prints."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daemon",
            "simulate",
            "--cluster",
            str(spec),
            "--kubeconfig",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    line = process.stdout.readline() if process.stdout else ""
    if not line:
        process.kill()
        raise SystemExit("the simulator did not start")
    return process, line.strip().rsplit(" ", 1)[-1]


def wait_ready(base: str, total: int, timeout: float = 900) -> float:
    """Seconds until every Deployment's replicas are Ready; a slow answer while the
    simulator bootstraps thousands of pods is retried, not fatal."""
    import json
    import time
    import urllib.error
    import urllib.request

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(f"{base}/apis/apps/v1/deployments", timeout=60) as answer:
                items = json.loads(answer.read())["items"]
            if sum(d.get("status", {}).get("readyReplicas", 0) for d in items) >= total:
                return time.monotonic() - started
        except (TimeoutError, urllib.error.URLError):
            pass
        time.sleep(1)
    raise SystemExit(f"cluster not ready after {timeout:.0f} s")


def control(base: str, method: str, path: str) -> dict:
    """One call to the simulator's control API (/sim/v1/...), its JSON answer."""
    request = urllib.request.Request(base + path, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
