"""Node-drill recovery accuracy: each displaced workload's measured recovery, and the
drill's "all displaced workloads recovered" time, vs the simulator's ground truth.

Nodes are drained one at a time through the engine (`aftershock.nodes.drain`, the real
client over HTTP, the simulator in its own process) with Deployments, a StatefulSet and an
operator-owned workload (StrimziPodSet-like, stable names) of different readiness delays.
Truth per workload: the last `workload_status_ready_at` (or `workload_ready_at` for the
operator kind, which has no status the simulator records) minus that workload's last
`requested_at`; for the drill: the last of them minus the cordon's time.
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

DELAYS = ["200ms", "600ms", "1200ms"]


def cluster_file() -> dict:
    workloads: list[dict] = [
        {
            "name": f"w{i}",
            "replicas": 4,
            "labels": {"app": f"w{i}"},
            "grace_period": 1,
            "timing": {"ready_delay": delay},
            "logs": [],
        }
        for i, delay in enumerate(DELAYS)
    ]
    workloads.append(
        {
            "name": "db",
            "kind": "StatefulSet",
            "replicas": 3,
            "labels": {"app": "db"},
            "grace_period": 1,
            "logs": [],
        }
    )
    workloads.append(
        {
            "name": "kafka",
            "kind": "Operator",
            "replicas": 3,
            "labels": {"app": "kafka"},
            "grace_period": 1,
            "operator": {"naming": "stable", "recreate_delay": "300ms"},
            "logs": [],
        }
    )
    return {
        "nodes": 4,
        "seed": 5,
        "timing": {"schedule_delay": "20ms", "start_delay": "50ms", "shutdown_delay": "150ms"},
        "namespaces": [
            {"name": "bench", "labels": {"aftershock/enabled": "true"}, "workloads": workloads}
        ],
    }


EXPERIMENT = {
    "title": "drain one node",
    "description": "benchmark",
    "method": [
        {
            "type": "action",
            "name": "drain",
            "provider": {
                "type": "python",
                "module": "aftershock.nodes",
                "func": "drain",
                "arguments": {"count": 1, "timeout": "30s"},
            },
        }
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--drills", type=int, default=20)
    args = parser.parse_args()
    settings = Settings(
        safety={"dry_run": False, "max_percent": 100, "min_ready_replicas": 0, "cooldown": "0s"},
        nodes={"enabled": True},
    )
    errors: list[float] = []
    drill_errors: list[float] = []
    cordon_latency: list[float] = []  # claim, listing, cordon: until the server applied it
    empty = 0
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "cluster.yaml"
        spec.write_text(yaml.safe_dump(cluster_file()))
        kubeconfig = Path(tmp) / "kc"
        process, base = start_simulator(spec, kubeconfig)
        try:
            kube = Kube.connect(Connection(kubeconfig=kubeconfig, timeout=10))
            control(base, "GET", "/sim/v1/settle?timeout=30")
            for index in range(args.drills):
                control(base, "DELETE", "/sim/v1/timeline")
                control(base, "DELETE", "/sim/v1/timeline/nodes")
                ctx = RunContext(
                    experiment_id="bench",
                    run_id=f"drill-{index}",
                    settings=settings,
                    aftershock=AftershockSettings.model_validate({"recovery": {"timeout": "30s"}}),
                    kube=kube,
                    seed=index,
                    dry_run=False,
                    environ={},
                )
                result = Runner(ctx, EXPERIMENT).run()
                record = result.journal["aftershock"]
                applied = [
                    c["at"]
                    for c in control(base, "GET", "/sim/v1/timeline/nodes")["changes"]
                    if c["cordoned"] and c["by_run"] == ctx.run_id
                ]
                started = record["node_drills"][0]["started_at"]
                cordon_latency.append(min(applied) - started)  # plan done -> cordon applied
                if result.outcome != "passed":
                    raise SystemExit(f"drill {index}: {result.outcome} {result.reason}")
                truth = control(base, "GET", "/sim/v1/timeline")["disruptions"]
                latest = 0.0
                for recovery in record["recovery"]:
                    mine = [
                        d
                        for d in truth
                        if (d["workload_kind"], d["workload_name"])
                        == (recovery["kind"], recovery["name"])
                    ]
                    ready = max(
                        d["workload_status_ready_at"] or d["workload_ready_at"] for d in mine
                    )
                    latest = max(latest, ready)
                    expected = ready - max(d["requested_at"] for d in mine)
                    errors.append(abs(recovery["recovery_seconds"] - expected))
                (drill,) = record["node_drills"]
                if not drill["evicted"]:  # the drained node had been emptied by earlier drains
                    empty += 1
                    control(base, "GET", "/sim/v1/settle?timeout=30")
                    continue
                cordons = control(base, "GET", "/sim/v1/timeline/nodes")["changes"]
                first = min(c["at"] for c in cordons if c["cordoned"] and c["by_run"] == ctx.run_id)
                expected_all = latest - first  # from the cordon as the API server applied it
                drill_errors.append(abs(drill["all_recovered_seconds"] - expected_all))
                control(base, "GET", "/sim/v1/settle?timeout=30")
            kube.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    report(errors, drill_errors, cordon_latency, args.drills - empty, empty)


def report(
    errors: list[float],
    drill_errors: list[float],
    cordon_latency: list[float],
    drains: int,
    empty: int,
) -> None:
    ms = [e * 1000 for e in errors]
    drill_ms = [e * 1000 for e in drill_errors]
    print(
        f"node drill recovery accuracy over {drains} drains that displaced pods"
        f" ({len(ms)} displaced workloads; {empty} drained an already empty node)"
    )
    print(
        f"per workload: median {statistics.median(ms):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms,"
        f" max {max(ms):.1f} ms"
    )
    print(
        f"all displaced recovered: median {statistics.median(drill_ms):.1f} ms, "
        f"p99 {percentile(drill_ms, 0.99):.1f} ms, max {max(drill_ms):.1f} ms"
    )
    latency_ms = [e * 1000 for e in cordon_latency]
    print(
        f"cordon latency (drill planned -> cordon applied by the API server, claim included): "
        f"median {statistics.median(latency_ms):.1f} ms, p99 {percentile(latency_ms, 0.99):.1f} ms"
    )


if __name__ == "__main__":
    main()
