#!/usr/bin/env python3
"""Run the real-cluster suite (tests/cluster) against a cluster.

    python scripts/cluster_suite.py [--kubeconfig PATH] [PYTEST ARGS...]

With --kubeconfig (or AFTERSHOCK_TEST_KUBECONFIG already set) the suite runs against that
cluster: kind, minikube, a cloud cluster. Without, it first starts a simulated cluster in a
separate process (`aftershock simulate --cluster tests/cluster/cluster.yaml`) and points the
suite at it through AFTERSHOCK_TEST_KUBECONFIG, exactly as it would a real one; the
simulator is stopped afterwards. The exit status is pytest's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENV = "AFTERSHOCK_TEST_KUBECONFIG"
CLUSTER_FILE = REPO / "tests" / "cluster" / "cluster.yaml"
START_DEADLINE = 60.0
STOP_DEADLINE = 15.0


def say(text: str) -> None:
    sys.stderr.write(f"cluster-suite: {text}\n")
    sys.stderr.flush()


def aftershock() -> list[str]:
    found = shutil.which("aftershock")
    return [found] if found else [sys.executable, "-m", "daemon"]


def start_simulator(directory: Path) -> tuple[subprocess.Popen[str], Path]:
    kubeconfig = directory / "kubeconfig"
    log = (directory / "simulator.log").open("w")
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [
            *aftershock(),
            "simulate",
            "--cluster",
            str(CLUSTER_FILE),
            "--kubeconfig",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=REPO,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + START_DEADLINE
    line = process.stdout.readline()  # "simulated cluster listening on http://..."
    if "listening on" not in line or time.monotonic() > deadline:
        process.kill()
        process.wait(timeout=STOP_DEADLINE)
        raise SystemExit(
            f"the simulator did not start: {line!r}; see {directory / 'simulator.log'}"
        )
    while not kubeconfig.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the simulator wrote no kubeconfig in time")
        time.sleep(0.05)
    say(line.strip())
    return process, kubeconfig


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_DEADLINE)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", type=Path, help="the cluster (default: a new simulator)")
    args, pytest_args = parser.parse_known_args(argv)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "tests/cluster",
        *pytest_args,
    ]
    kubeconfig = args.kubeconfig or (Path(os.environ[ENV]) if os.environ.get(ENV) else None)
    if kubeconfig is not None:
        say(f"running the suite against {kubeconfig}")
        return subprocess.call(command, cwd=REPO, env={**os.environ, ENV: str(kubeconfig)})  # noqa: S603 - pytest, fixed arguments
    with tempfile.TemporaryDirectory(prefix="aftershock-cluster-suite-") as tmp:
        process, kubeconfig = start_simulator(Path(tmp))
        try:
            say(f"running the suite against the separately started simulator ({kubeconfig})")
            return subprocess.call(command, cwd=REPO, env={**os.environ, ENV: str(kubeconfig)})  # noqa: S603 - pytest, fixed arguments
        finally:
            stop(process)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
