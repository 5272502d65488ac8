"""The daemon at rest: 500 experiments in the catalog, a 10,000-pod simulated cluster.

Goals (issue: benchmarks): RSS <= 150 MB; idle API traffic independent of pod count.
`aftershock serve` runs as its own process (so RSS and CPU are its own) with experiments
scheduled far from now; the simulator counts the requests it serves over the window.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from simproc import ROOT, start_simulator, wait_ready  # bench/ is on sys.path when a script runs
from simulator_scale import cluster_file, get

BIN = Path(sys.executable).parent
TICKS = os.sysconf("SC_CLK_TCK")


def catalog(directory: Path, count: int) -> None:
    template = yaml.safe_load((ROOT / "config/experiments/greeter-kill.yaml").read_text())
    directory.mkdir()
    for index in range(count):
        document = dict(template)
        document["title"] = f"experiment {index}"
        document["extensions"] = [
            {"name": "aftershock", "schedule": {"cron": f"{index % 60} 3 * * *", "timezone": "UTC"}}
        ]
        (directory / f"exp-{index:04d}.yaml").write_text(yaml.safe_dump(document))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(namespaces: int, experiments: int, window: float) -> str:
    total = namespaces * 10 * 10
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        spec = cluster_file(namespaces, 10, 10)
        spec["namespaces"].append({"name": "aftershock", "workloads": []})
        (tmp / "cluster.yaml").write_text(yaml.safe_dump(spec))
        catalog(tmp / "catalog", experiments)
        sim, base = start_simulator(tmp / "cluster.yaml", tmp / "kc")
        daemon = None
        try:
            wait_ready(base, total)
            (tmp / "settings.yaml").write_text(
                yaml.safe_dump(
                    {
                        "catalog": {"path": str(tmp / "catalog"), "max_files": 5000},
                        "store": {"path": str(tmp / "history.db")},
                        "kube": {"mode": "kubeconfig", "kubeconfig": str(tmp / "kc")},
                        "api": {"host": "127.0.0.1", "auth": "none"},
                        "logging": {"level": "WARNING", "format": "json"},
                    }
                )
            )
            daemon = subprocess.Popen(
                [
                    str(BIN / "aftershock"),
                    "--config",
                    str(tmp / "settings.yaml"),
                    "serve",
                    "--port",
                    "0",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(15)  # start-up: catalog load, lease, first housekeeping
            get(f"{base}/sim/v1/stats")
            import urllib.request

            urllib.request.urlopen(
                urllib.request.Request(f"{base}/sim/v1/stats", method="DELETE")
            ).read()
            cpu_start, started = cpu_seconds(daemon.pid), time.monotonic()
            time.sleep(window)
            elapsed = time.monotonic() - started
            cpu = cpu_seconds(daemon.pid) - cpu_start
            requests = get(f"{base}/sim/v1/stats")["total"]
            rss = rss_mb(daemon.pid)
        finally:
            if daemon is not None:
                daemon.terminate()
                daemon.wait(timeout=60)
            sim.terminate()
            sim.wait(timeout=60)
    return (
        f"at rest, {experiments} experiments, {total:>6}-pod cluster: RSS {rss:.0f} MB, "
        f"CPU {cpu / elapsed * 60:.2f} s/min, API {requests / elapsed * 60:.0f} requests/min "
        f"(window {elapsed:.0f} s; goals RSS <= 150 MB, API independent of pod count)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--experiments", type=int, default=500)
    parser.add_argument("--namespaces", default="10,100", help="x100 pods each")
    parser.add_argument("--window", type=float, default=60)
    args = parser.parse_args()
    for namespaces in (int(n) for n in args.namespaces.split(",")):
        print(measure(namespaces, args.experiments, args.window), flush=True)


if __name__ == "__main__":
    main()
