"""Start `aftershock simulate` in its own process, so its CPU and memory are its own."""

from __future__ import annotations

import subprocess
import sys
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
