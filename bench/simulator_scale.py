"""Simulator at scale: 10,000 pods in 100 namespaces.

Goals (issue: simulated cluster): a label-selected list answers in <= 20 ms median server
side; 10 concurrent watchers receive 500 events/s without lag growing; simulator RSS
< 500 MB. The simulator runs as its own process (`aftershock simulate`) so its memory is
measured alone; load and watchers run here.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml
from simproc import start_simulator  # bench/ is on sys.path when a script runs

ROOT = Path(__file__).resolve().parent.parent


def cluster_file(namespaces: int, deployments: int, replicas: int) -> dict:
    return {
        "nodes": 20,
        "seed": 1,
        "timing": {
            "schedule_delay": "1ms",
            "start_delay": "1ms",
            "ready_delay": "1ms",
            "shutdown_delay": "10ms",
        },
        "watch": {"history": 20000},
        "namespaces": [
            {
                "name": f"ns-{n:03d}",
                "workloads": [
                    {
                        "name": f"app-{d}",
                        "replicas": replicas,
                        "labels": {"app": f"app-{d}", "tier": "web"},
                        "logs": [],
                    }
                    for d in range(deployments)
                ],
            }
            for n in range(namespaces)
        ],
    }


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(
        line.split(":", 1)
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def ready_pods(base: str) -> int:
    deployments = get(f"{base}/apis/apps/v1/deployments")["items"]
    return sum(d.get("status", {}).get("readyReplicas", 0) for d in deployments)


def watcher(
    host: str, port: int, rv: str, lags: list[tuple[float, float]], stop: threading.Event
) -> None:
    connection = http.client.HTTPConnection(host, port, timeout=60)
    connection.request("GET", f"/api/v1/pods?watch=1&resourceVersion={rv}&timeoutSeconds=120")
    response = connection.getresponse()
    while not stop.is_set():
        line = response.readline()
        if not line:
            break
        event = json.loads(line)
        stamp = (event["object"]["metadata"].get("annotations") or {}).get(
            "sim.aftershock.io/churn"
        )
        if stamp:
            now = time.time()
            lags.append((now, now - float(stamp)))
    connection.close()


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--deployments", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=10)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--watchers", type=int, default=10)
    args = parser.parse_args()
    total = args.namespaces * args.deployments * args.replicas
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "cluster.yaml"
        spec.write_text(
            yaml.safe_dump(cluster_file(args.namespaces, args.deployments, args.replicas))
        )
        process, base = start_simulator(spec, Path(tmp) / "kc")
        try:
            host, port = base.removeprefix("http://").split(":")
            started = time.monotonic()
            deadline = started + 900
            while ready_pods(base) < total:
                if time.monotonic() > deadline:
                    raise SystemExit(f"cluster not ready after 900 s ({ready_pods(base)}/{total})")
                time.sleep(1)
            boot = time.monotonic() - started
            rss_ready, _ = rss_mb(process.pid)

            get(f"{base}/sim/v1/stats")
            urllib.request.urlopen(
                urllib.request.Request(f"{base}/sim/v1/stats", method="DELETE")
            ).read()
            client_ms = []
            for i in range(300):
                t0 = time.perf_counter()
                result = get(
                    f"{base}/api/v1/namespaces/ns-{i % args.namespaces:03d}/pods?labelSelector=app%3Dapp-3"
                )
                client_ms.append((time.perf_counter() - t0) * 1000)
                assert len(result["items"]) == args.replicas
            wide_ms = []
            for _ in range(20):
                t0 = time.perf_counter()
                result = get(f"{base}/api/v1/pods?labelSelector=app%3Dapp-3")
                wide_ms.append((time.perf_counter() - t0) * 1000)
            assert len(result["items"]) == args.namespaces * args.replicas
            server = get(f"{base}/sim/v1/stats")["server_seconds"]["list pods"]

            rv = get(f"{base}/api/v1/namespaces/ns-000/pods?limit=1")["metadata"]["resourceVersion"]
            stop = threading.Event()
            lags: list[list[tuple[float, float]]] = [[] for _ in range(args.watchers)]
            threads = [
                threading.Thread(
                    target=watcher, args=(host, int(port), rv, lags[i], stop), daemon=True
                )
                for i in range(args.watchers)
            ]
            for thread in threads:
                thread.start()
            time.sleep(0.5)
            churn_start = time.time()
            post(f"{base}/sim/v1/churn", {"rate": args.rate, "seconds": args.seconds})
            time.sleep(args.seconds + 3)
            stop.set()
            _, rss_peak = rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=30)

    expected = int(args.rate * args.seconds)
    received = [len(x) for x in lags]
    all_lags = [lag for x in lags for _, lag in x]
    first = [lag for x in lags for t, lag in x if t - churn_start < 2]
    last = [lag for x in lags for t, lag in x if t - churn_start > args.seconds - 2]

    def pct(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return (
            ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000
            if ordered
            else float("nan")
        )

    print(f"cluster: {total} pods, {args.namespaces} namespaces; ready after {boot:.1f} s")
    print(
        f"namespaced label-selected list ({args.replicas} of {args.deployments * args.replicas} pods): "
        f"server median {server['median'] * 1000:.2f} ms (n={server['count']}), "
        f"client median {statistics.median(client_ms):.2f} ms, p99 {pct([m / 1000 for m in client_ms], 0.99):.2f} ms"
    )
    print(
        f"cluster-wide label-selected list ({args.namespaces * args.replicas} of {total} pods): "
        f"client median {statistics.median(wide_ms):.1f} ms"
    )
    print(
        f"watch: {args.watchers} watchers x {expected} events at {args.rate:.0f}/s; received per watcher: "
        f"min {min(received)} max {max(received)}"
    )
    print(
        f"watch lag: p50 {pct(all_lags, 0.5):.1f} ms, p99 {pct(all_lags, 0.99):.1f} ms, max {pct(all_lags, 1.0):.1f} ms;"
        f" first 2 s p99 {pct(first, 0.99):.1f} ms, last 2 s p99 {pct(last, 0.99):.1f} ms"
    )
    print(f"simulator RSS: {rss_ready:.0f} MB when ready, peak {rss_peak:.0f} MB")


if __name__ == "__main__":
    main()
