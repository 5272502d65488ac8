"""The seed-001 greeter experiment, 20 runs each by `aftershock run` and `chaos run`
(Chaos Toolkit from PyPI) against the same simulated cluster: wall time per run, API
requests per run and peak memory (max RSS of the process), and the ratios.

aftershock does more per run on purpose: the guard reads workloads and PDBs, Events are
written, and the run waits for the workload to recover (measured from watch events).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from simproc import ROOT, control, start_simulator  # bench/ is on sys.path when a script runs

BIN = Path(sys.executable).parent


def experiment() -> dict:
    return {
        "title": "Terminating a greeter should not impact users",
        "description": "seed 001",
        "configuration": {"web_app_url": {"type": "env", "key": "WEBAPP_URL"}},
        "steady-state-hypothesis": {
            "title": "Services are all available and healthy",
            "probes": [
                {
                    "type": "probe",
                    "name": "webapp-pods-running",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "chaosk8s.pod.probes",
                        "func": "pods_in_phase",
                        "arguments": {
                            "label_selector": "app=webapp",
                            "phase": "Running",
                            "ns": "shop",
                        },
                    },
                },
                {
                    "type": "probe",
                    "name": "application-must-respond-normally",
                    "tolerance": 200,
                    "provider": {"type": "http", "url": "${web_app_url}", "timeout": 3},
                },
            ],
        },
        "method": [
            {
                "type": "action",
                "name": "terminate-one-greeter",
                "provider": {
                    "type": "python",
                    "module": "chaosk8s.pod.actions",
                    "func": "terminate_pods",
                    "arguments": {
                        "label_selector": "app=greeter",
                        "ns": "shop",
                        "rand": True,
                        "qty": 1,
                    },
                },
            }
        ],
        "rollbacks": [],
    }


def cluster() -> dict:
    spec = yaml.safe_load((ROOT / "config" / "demo" / "cluster.yaml").read_text())
    spec["timing"].update(start_delay="50ms", ready_delay="150ms", spread=0, shutdown_delay="100ms")
    for workload in spec["namespaces"][0]["workloads"]:
        workload.pop("timing", None)
        if workload["name"] == "greeter":
            workload["replicas"] = 3
    return spec


def measure(argv: list[str], env: dict, cwd: Path) -> tuple[float, int, int]:
    """(wall seconds, exit code, max RSS KiB) of one process."""
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _pid, status, usage = os.wait4(process.pid, 0)
    return time.perf_counter() - started, os.waitstatus_to_exitcode(status), usage.ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "cluster.yaml").write_text(yaml.safe_dump(cluster()))
        (tmp / "experiment.json").write_text(json.dumps(experiment()))
        (tmp / "settings.yaml").write_text(
            yaml.safe_dump(
                {
                    "safety": {"max_percent": 100, "min_ready_replicas": 1, "cooldown": "0s"},
                    "logging": {"format": "json", "level": "WARNING"},
                }
            )
        )
        process, base = start_simulator(tmp / "cluster.yaml", tmp / "kc")
        try:
            services = control(base, "GET", "/sim/v1/services")["services"]
            env = {
                **os.environ,
                "KUBECONFIG": str(tmp / "kc"),
                "WEBAPP_URL": services["shop/webapp"],
                "HOME": str(tmp),
            }
            tools = {
                "chaos run": [
                    str(BIN / "chaos"),
                    "--no-version-check",
                    "--no-log-file",
                    "run",
                    "--journal-path",
                    str(tmp / "c.json"),
                    str(tmp / "experiment.json"),
                ],
                "aftershock run": [
                    str(BIN / "aftershock"),
                    "--config",
                    str(tmp / "settings.yaml"),
                    "run",
                    str(tmp / "experiment.json"),
                    "--no-dry-run",
                    "--journal",
                    str(tmp / "a.json"),
                ],
            }
            results: dict[str, dict[str, list[float]]] = {}
            for name, argv in tools.items():
                figures = results.setdefault(name, {"wall": [], "requests": [], "rss": []})
                for _ in range(args.runs):
                    control(base, "GET", "/sim/v1/settle?timeout=30")
                    time.sleep(0.3)  # the replacement from the last run is Ready and counted
                    control(base, "DELETE", "/sim/v1/stats")
                    wall, code, rss = measure(argv, env, tmp)
                    if code != 0:
                        raise SystemExit(f"{name} exited {code}")
                    figures["wall"].append(wall)
                    figures["requests"].append(control(base, "GET", "/sim/v1/stats")["total"])
                    figures["rss"].append(rss / 1024)
        finally:
            process.terminate()
            process.wait(timeout=60)
    med = {n: {k: statistics.median(v) for k, v in f.items()} for n, f in results.items()}
    for name, figures in med.items():
        print(
            f"{name}: wall median {figures['wall']:.2f} s, API requests median {figures['requests']:.0f}, "
            f"peak RSS median {figures['rss']:.0f} MiB (n={args.runs})"
        )
    a, c = med["aftershock run"], med["chaos run"]
    print(
        f"ratio aftershock/chaos: wall {a['wall'] / c['wall']:.2f}, requests {a['requests'] / c['requests']:.2f}, "
        f"RSS {a['rss'] / c['rss']:.2f}"
    )


if __name__ == "__main__":
    main()
