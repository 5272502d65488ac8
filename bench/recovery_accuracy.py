"""Recovery-time accuracy: measured recovery vs the simulator's ground truth.

Goal (docs/running.md "Recovery time", issue: benchmarks): error p99 <= 100 ms. Workloads with different
readiness delays are killed one at a time through the engine (the real client over HTTP,
the simulator in its own process); each run's `recovery_seconds` is compared with
`/sim/v1/timeline` (`workload_status_ready_at - requested_at`).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import yaml
from simproc import control, percentile, start_simulator  # bench/ is on sys.path when a script runs

from daemon.catalog.extension import AftershockSettings
from daemon.engine.context import RunContext
from daemon.engine.runner import Runner
from daemon.kube.client import Connection, Kube
from daemon.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DELAYS = ["200ms", "500ms", "900ms", "1500ms", "2500ms"]


def cluster_file() -> dict:
    return {
        "nodes": 3,
        "seed": 3,
        "timing": {"schedule_delay": "20ms", "start_delay": "50ms", "shutdown_delay": "150ms"},
        "namespaces": [
            {
                "name": "bench",
                "labels": {"aftershock/enabled": "true"},
                "workloads": [
                    {
                        "name": f"w{i}",
                        "replicas": 3,
                        "labels": {"app": f"w{i}"},
                        "grace_period": 1,
                        "timing": {"ready_delay": delay},
                        "logs": [],
                    }
                    for i, delay in enumerate(DELAYS)
                ],
            }
        ],
    }


def experiment(workload: str) -> dict:
    return {
        "title": f"kill one {workload}",
        "description": "benchmark",
        "method": [
            {
                "type": "action",
                "name": "kill",
                "provider": {
                    "type": "python",
                    "module": "aftershock.pods",
                    "func": "kill",
                    "arguments": {"ns": "bench", "label_selector": f"app={workload}"},
                },
            }
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=100)
    args = parser.parse_args()
    settings = Settings(
        safety={"dry_run": False, "max_percent": 100, "min_ready_replicas": 0, "cooldown": "0s"}
    )
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "cluster.yaml"
        spec.write_text(yaml.safe_dump(cluster_file()))
        kubeconfig = Path(tmp) / "kc"
        process, base = start_simulator(spec, kubeconfig)
        try:
            kube = Kube.connect(Connection(kubeconfig=kubeconfig, timeout=10))
            control(base, "GET", "/sim/v1/settle?timeout=30")
            errors: list[float] = []
            first_errors: list[float] = []
            not_ready: list[float] = []
            removed: list[float] = []
            early = 0
            for index in range(args.kills):
                workload = f"w{index % len(DELAYS)}"
                control(base, "DELETE", "/sim/v1/timeline")
                ctx = RunContext(
                    experiment_id="bench",
                    run_id=f"bench-{index}",
                    settings=settings,
                    aftershock=AftershockSettings.model_validate({"recovery": {"timeout": "30s"}}),
                    kube=kube,
                    seed=index,
                    dry_run=False,
                    environ={},
                )
                result = Runner(ctx, experiment(workload)).run()
                if result.outcome != "passed":
                    raise SystemExit(f"kill {index}: {result.outcome} {result.reason}")
                (recovery,) = result.journal["aftershock"]["recovery"]
                (truth,) = control(base, "GET", "/sim/v1/timeline")["disruptions"]
                expected = truth["workload_status_ready_at"] - truth["requested_at"]
                errors.append(abs(recovery["recovery_seconds"] - expected))
                first = truth["replacement_ready_at"] - truth["requested_at"]
                first_errors.append(abs(recovery["first_replacement_ready_seconds"] - first))
                # The killed pod is out of service from its NotReady (the kubelet's last status);
                # a recovery must not end before that pod is gone.
                not_ready.append(truth["pod_not_ready_at"] - truth["requested_at"])
                removed.append(truth["pod_removed_at"] - truth["requested_at"])
                if recovery["recovery_seconds"] < removed[-1]:
                    early += 1
                control(base, "GET", "/sim/v1/settle?timeout=30")
            kube.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    ms = [e * 1000 for e in errors]
    first_ms = [e * 1000 for e in first_errors]
    print(f"recovery accuracy over {len(ms)} kills (ready delays {', '.join(DELAYS)})")
    print(
        f"recovery_seconds error: median {statistics.median(ms):.1f} ms, "
        f"p99 {percentile(ms, 0.99):.1f} ms, max {max(ms):.1f} ms (goal p99 <= 100 ms)"
    )
    print(
        f"first_replacement_ready_seconds error: median {statistics.median(first_ms):.1f} ms, "
        f"p99 {percentile(first_ms, 0.99):.1f} ms, max {max(first_ms):.1f} ms"
    )
    print(
        f"killed pod NotReady after the request: median {statistics.median(not_ready) * 1000:.1f} ms, "
        f"removed: median {statistics.median(removed) * 1000:.1f} ms; "
        f"recoveries ending before the killed pod was gone: {early}"
    )


if __name__ == "__main__":
    main()
