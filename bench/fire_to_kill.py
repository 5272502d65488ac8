"""Fire-to-kill latency: the planned fire time to the delete request reaching the API.

Goal (issue: benchmarks): p99 <= 50 ms. The real daemon (in this process) schedules an
experiment with no steady-state hypothesis every second; APScheduler's submit events give
the planned times, the simulator's timeline (its own process) the moment each delete
arrived. The path measured: scheduler wake-up, run gate, history row, guard reads, plan,
delete.

`--sink hang` adds a notification sink (webhook, every outcome) whose endpoint accepts
connections and never answers: the kill path must not notice it (issue 15).
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import yaml
from apscheduler.events import EVENT_JOB_SUBMITTED
from simproc import start_simulator  # bench/ is on sys.path when a script runs
from versus_chaostoolkit import cluster, control

from daemon.logging import configure_logging
from daemon.notify.notifier import Notifier, notifier_of
from daemon.notify.payload import sample_run
from daemon.server import build
from daemon.service import settle_heap
from daemon.settings import Settings


def experiment() -> dict:
    return {
        "title": "kill one name pod every second",
        "description": "fire-to-kill benchmark",
        "method": [
            {
                "type": "action",
                "name": "kill",
                "provider": {
                    "type": "python",
                    "module": "aftershock.pods",
                    "func": "kill",
                    "arguments": {"ns": "shop", "label_selector": "app=name", "mode": "one"},
                },
            }
        ],
        "extensions": [
            {"name": "aftershock", "schedule": {"interval": "1s"}, "recovery": {"timeout": "5s"}}
        ],
    }


def hanging_endpoint() -> tuple[str, list[socket.socket]]:
    """Accepts connections and never answers (each request waits for its timeout)."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = [server]

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/hook", held


def listener_cost(notifier: Notifier) -> None:
    """What the run thread pays per finished run: the listener's run_ended, queue full."""
    run = sample_run(time.time())
    costs = []
    for _ in range(2000):
        began = time.perf_counter()
        notifier.run_ended(run)
        costs.append((time.perf_counter() - began) * 1e6)
    costs.sort()
    print(
        f"notify listener run_ended over {len(costs)} calls: median {statistics.median(costs):.0f} us, "
        f"p99 {costs[int(0.99 * len(costs))]:.0f} us, max {costs[-1]:.0f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--sink", choices=["none", "hang"], default="none")
    args = parser.parse_args()
    notify: dict = {}
    held: list[socket.socket] = []
    if args.sink == "hang":
        url, held = hanging_endpoint()
        notify = {"sinks": [{"name": "hang", "type": "webhook", "url": url, "outcomes": "all"}]}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        spec = cluster()
        for workload in spec["namespaces"][0]["workloads"]:
            if workload["name"] == "name":
                workload["replicas"] = 4
        (tmp / "cluster.yaml").write_text(yaml.safe_dump(spec))
        (tmp / "catalog").mkdir()
        (tmp / "catalog" / "kill.yaml").write_text(yaml.safe_dump(experiment()))
        process, base = start_simulator(tmp / "cluster.yaml", tmp / "kc")
        try:
            settings = Settings(
                safety={
                    "dry_run": False,
                    "max_percent": 50,
                    "min_ready_replicas": 1,
                    "cooldown": "0s",
                    "require_workload_ready": False,
                    "max_disruptions_per_day": 100000,
                },
                catalog={"path": str(tmp / "catalog")},
                store={"path": str(tmp / "history.db")},
                kube={
                    "mode": "kubeconfig",
                    "kubeconfig": str(tmp / "kc"),
                    "namespace": "aftershock",
                },
                leader={"enabled": False},
                logging={"level": "WARNING"},
                notify=notify,
            )
            configure_logging(settings.logging)
            daemon, _registry = build(settings)
            planned: list[float] = []
            daemon.scheduler.add_listener(
                lambda event: planned.extend(t.timestamp() for t in event.scheduled_run_times),
                EVENT_JOB_SUBMITTED,
            )
            control(base, "GET", "/sim/v1/settle?timeout=30")
            control(base, "DELETE", "/sim/v1/timeline")
            daemon.start()
            settle_heap()  # as `aftershock serve` does after start-up (daemon.server.start)
            deadline = time.monotonic() + args.kills * 3 + 30
            while len(control(base, "GET", "/sim/v1/timeline")["disruptions"]) < args.kills:
                if time.monotonic() > deadline:
                    break
                time.sleep(1)
            daemon.stop()
            notifier = notifier_of(daemon.listeners)
            sinks = notifier.status() if notifier is not None else []
            if notifier is not None and sinks:
                listener_cost(notifier)
            kills = sorted(
                d["requested_at"] for d in control(base, "GET", "/sim/v1/timeline")["disruptions"]
            )
        finally:
            process.terminate()
            process.wait(timeout=60)
    for sock in held:
        sock.close()
    report(args.sink, kills, planned, sinks)


def report(sink_kind: str, kills: list[float], planned: list[float], sinks: list[dict]) -> None:
    latencies = []
    for kill in kills:
        before = [p for p in planned if p <= kill]
        if before:
            latencies.append((kill - max(before)) * 1000)
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(
        f"fire-to-kill (sink: {sink_kind}) over {len(latencies)} scheduled kills: "
        f"median {statistics.median(latencies):.1f} ms, "
        f"p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms (goal p99 <= 50 ms)"
    )
    for sink in sinks:
        counts = ", ".join(f"{k} {v}" for k, v in sink["counts"].items())
        print(f"notifications to {sink['name']}: {counts}; queued {sink['queued']}")


if __name__ == "__main__":
    main()
