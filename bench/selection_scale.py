"""Target selection + blast-radius guard at 1,000 / 10,000 / 50,000 pods.

Goals (issue: benchmarks): report median and p99 time; API requests and bytes per run
must not grow with cluster size when the selector is namespaced.

Part 1 times the pure planner (eligibility, choice, guard) with every pod a candidate (a
cluster-wide selector, the worst case). Part 2 runs the real provider path in dry-run
(list pods by selector, read workloads/PDBs/namespace, plan) against the simulator in its
own process, and counts the requests and bytes the simulator served per run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml
from simproc import start_simulator, wait_ready  # bench/ is on sys.path when a script runs
from simulator_scale import cluster_file, get

from daemon.catalog.extension import AftershockSettings, BlastRadius
from daemon.engine.context import RunContext
from daemon.engine.providers.k8s import guarded_kill
from daemon.kube.client import Connection, Kube
from daemon.safety.guard import History, Request, Workload, plan
from daemon.safety.limits import effective_limits
from daemon.settings import Settings


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def synthetic(total: int) -> tuple[list[dict], dict, dict, dict]:
    pods, workload_of, workloads, labels = [], {}, {}, {}
    per_workload = 10
    for index in range(total):
        namespace = f"ns-{(index // 1000):03d}"
        workload = f"app-{(index // per_workload) % 100}"
        key = (namespace, "Deployment", workload)
        name = f"{workload}-{index}"
        pods.append(
            {
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "uid": f"uid-{index}",
                    "labels": {"app": workload},
                    "ownerReferences": [
                        {"kind": "ReplicaSet", "name": f"{workload}-rs", "controller": True}
                    ],
                    "creationTimestamp": "2026-01-01T00:00:00Z",
                },
                "spec": {"nodeName": "node-1"},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
            }
        )
        workload_of[f"{namespace}/{name}"] = key
        workloads.setdefault(key, Workload(key, per_workload, per_workload))
        labels[namespace] = {"aftershock/enabled": "true"}
    return pods, workload_of, workloads, labels


def pure(sizes: list[int], runs: int) -> list[str]:
    settings = Settings(safety={"max_percent": 50, "cooldown": "0s"})
    limits = effective_limits(settings.safety, BlastRadius(), "aftershock")
    lines = []
    for size in sizes:
        pods, workload_of, workloads, labels = synthetic(size)
        times = []
        for seed in range(runs):
            started = time.perf_counter()
            result = plan(
                pods,
                Request("fixed", 3),
                workload_of=workload_of,
                workloads=workloads,
                namespace_labels=labels,
                budgets=[],
                limits=limits,
                history=History(),
                now=datetime.now(UTC),
                rng=random.Random(seed),
            )
            times.append((time.perf_counter() - started) * 1000)
            assert len(result.targets) == 3
        lines.append(
            f"pure planner, {size:>6} candidate pods: median {statistics.median(times):.1f} ms, "
            f"p99 {pct(times, 0.99):.1f} ms (n={runs})"
        )
    return lines


def through_api(namespaces_list: list[int], runs: int) -> list[str]:
    lines = []
    for namespaces in namespaces_list:
        total = namespaces * 10 * 10
        with tempfile.TemporaryDirectory() as tmp:
            spec = Path(tmp) / "cluster.yaml"
            document = cluster_file(namespaces, 10, 10)
            for namespace in document["namespaces"]:
                namespace["labels"] = {"aftershock/enabled": "true"}
            spec.write_text(yaml.safe_dump(document))
            process, base = start_simulator(spec, Path(tmp) / "kc")
            try:
                wait_ready(base, total)
                kube = Kube.connect(Connection(kubeconfig=Path(tmp) / "kc", timeout=30))
                settings = Settings(
                    safety={"max_percent": 50, "cooldown": "0s", "min_ready_replicas": 1}
                )
                times = []
                import urllib.request

                urllib.request.urlopen(
                    urllib.request.Request(f"{base}/sim/v1/stats", method="DELETE")
                ).read()
                for seed in range(runs):
                    ctx = RunContext(
                        experiment_id="bench",
                        run_id=f"bench-{seed}",
                        settings=settings,
                        aftershock=AftershockSettings(),
                        kube=kube,
                        seed=seed,
                        dry_run=True,
                        environ={},
                    )
                    started = time.perf_counter()
                    result = guarded_kill(
                        ctx,
                        namespaces=["ns-001"],
                        label_selector="app=app-3",
                        request=Request("one"),
                        method="delete",
                        grace_period=None,
                    )
                    times.append((time.perf_counter() - started) * 1000)
                    assert result["would_kill"], result
                stats = get(f"{base}/sim/v1/stats")
                kube.close()
            finally:
                process.terminate()
                process.wait(timeout=60)
        requests = stats["total"] / runs
        kib = stats["bytes_out"] / runs / 1024
        lines.append(
            f"namespaced selector via API, {total:>6}-pod cluster: median {statistics.median(times):.1f} ms, "
            f"p99 {pct(times, 0.99):.1f} ms; {requests:.1f} requests and {kib:.1f} KiB per run (n={runs})"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument(
        "--api-namespaces", default="10,100", help="simulated clusters, x100 pods each"
    )
    args = parser.parse_args()
    for line in pure([1000, 10000, 50000], args.runs):
        print(line, flush=True)
    for line in through_api([int(n) for n in args.api_namespaces.split(",")], args.runs):
        print(line, flush=True)


if __name__ == "__main__":
    main()
