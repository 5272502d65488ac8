"""Real HTTP listeners for Services, answering as the app behind them would.

A Service answers 200 ("<service> answered by <pod>") when it has a Ready, non-terminating
pod and every service it depends on does too; otherwise it answers its configured
failure (status, after an optional delay). Killing the only greeter pod therefore makes
the webapp fail, as in seed 001. A dependency is `name` (same namespace) or `namespace/name`
(seed 004: a gateway in `openfaas` calling functions in `openfaas-fn`).

Each listener counts what it answered and serves the counts on GET /metrics in Prometheus
text format (`http_requests_total{namespace,service,method,code}`), so stop conditions can
be judged by a real Prometheus. With `endpoint_lag`, a deleted pod keeps its share of the
traffic for that long and answers 502: killing a pod then raises the 5xx rate.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from daemon.durations import parse_duration
from daemon.simulator.cluster import ANNOTATION, PODS, Cluster, deleting, meta, pod_ready

MAX_FAILURE_DELAY = 60.0


class ServiceListener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, cluster: Cluster, namespace: str, name: str, port: int):
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.counter = itertools.count()
        self.answered: Counter[tuple[str, int]] = Counter()  # (method, code) -> requests
        self.answered_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def count(self, method: str, code: int) -> None:
        with self.answered_lock:
            self.answered[(method, code)] += 1

    def exposition(self) -> str:
        """The counters in Prometheus text format (version 0.0.4)."""
        labels = f'namespace="{self.namespace}",service="{self.name}"'
        with self.answered_lock:
            answered = sorted(self.answered.items())
        lines = [
            "# HELP http_requests_total Requests answered by the service, by method and code.",
            "# TYPE http_requests_total counter",
            *(
                f'http_requests_total{{{labels},method="{method}",code="{code}"}} {n}'
                for (method, code), n in answered
            ),
            "# HELP http_request_errors_total Requests the service answered with a 5xx.",
            "# TYPE http_request_errors_total counter",
            f"http_request_errors_total{{{labels}}} "
            + str(sum(n for (_, code), n in answered if code >= 500)),
        ]
        return "\n".join(lines) + "\n"


def ready_pods(cluster: Cluster, namespace: str, service: str) -> list[dict[str, Any]]:
    svc = cluster.store.get("services", namespace, service)
    if svc is None:
        return []
    selector = (svc.get("spec") or {}).get("selector") or {}
    return [
        p
        for p in cluster.store.items(PODS, namespace)
        if selector
        and all((meta(p).get("labels") or {}).get(k) == v for k, v in selector.items())
        and pod_ready(p)
        and not deleting(p)
    ]


def lagging_pods(
    cluster: Cluster, namespace: str, service: str, lag: float, now: float
) -> list[dict[str, Any]]:
    """Deleted pods still in the endpoints: deleted less than `lag` seconds ago."""
    if lag <= 0:
        return []
    svc = cluster.store.get("services", namespace, service)
    selector = ((svc or {}).get("spec") or {}).get("selector") or {}
    out = []
    for p in cluster.store.items(PODS, namespace):
        if not selector or not deleting(p):
            continue
        if any((meta(p).get("labels") or {}).get(k) != v for k, v in selector.items()):
            continue
        deleted = datetime.fromisoformat(meta(p)["deletionTimestamp"])
        if now - deleted.replace(tzinfo=deleted.tzinfo or UTC).timestamp() < lag:
            out.append(p)
    return out


def _split(dependency: str, namespace: str) -> tuple[str, str]:
    """`name` is in the caller's namespace; `namespace/name` names another one."""
    other, _, name = dependency.rpartition("/")
    return (other or namespace), name


def availability(
    cluster: Cluster, namespace: str, service: str, seen: frozenset[str] = frozenset()
) -> str | None:
    """None when the service and its dependencies can answer, else the reason why not.

    Reasons name a service by `name` in the namespace asked about first, else by
    `namespace/name`.
    """
    return _availability(cluster, namespace, service, namespace, seen)


def _availability(
    cluster: Cluster, namespace: str, service: str, home: str, seen: frozenset[str]
) -> str | None:
    key = f"{namespace}/{service}"
    shown = service if namespace == home else key
    if key in seen:
        return None
    svc = cluster.store.get("services", namespace, service)
    if svc is None:
        return f"service {shown} does not exist"
    if not ready_pods(cluster, namespace, service):
        return f"no ready endpoints for service {shown}"
    depends = (meta(svc).get("annotations") or {}).get(ANNOTATION + "depends-on", "")
    for dependency in filter(None, (d.strip() for d in depends.split(","))):
        other, name = _split(dependency, namespace)
        reason = _availability(cluster, other, name, home, seen | {key})
        if reason is not None:
            return f"{shown} -> {reason}"
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the body waits for the
    # client's delayed ACK (~40 ms). Go's net/http (the real API server) sets TCP_NODELAY.
    disable_nagle_algorithm = True
    server: ServiceListener

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ARG002 - stdlib signature; silence access logs
        return

    def do_GET(self) -> None:
        if self.path == "/metrics":
            self._send(200, self.server.exposition(), "text/plain; version=0.0.4")
            return
        self._answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1024 * 1024))
        self._answer()

    def _answer(self) -> None:
        cluster, namespace, name = self.server.cluster, self.server.namespace, self.server.name
        with cluster.store.lock:
            reason = availability(cluster, namespace, name)
            svc = cluster.store.get("services", namespace, name) or {"metadata": {}}
            annotations = meta(svc).get("annotations") or {}
            lag = parse_duration(annotations.get(ANNOTATION + "endpoint-lag", "0s"))
            pods = ready_pods(cluster, namespace, name)
            stopped = lagging_pods(cluster, namespace, name, lag.total_seconds(), time.time())
            endpoints = pods + stopped
            pod = endpoints[next(self.server.counter) % len(endpoints)] if endpoints else None
            unavailable = int(annotations.get(ANNOTATION + "unavailable-status", 503))
            failing = False
            if pod is not None and deleting(pod):
                code, text = 502, f"{name}: pod {meta(pod)['name']} is shutting down\n"
            elif reason is None and pod is not None:
                code, text = 200, f"{name} answered by {meta(pod)['name']}\n"
            else:
                code, text, failing = unavailable, f"{reason}\n", True
            if pod is not None:
                cluster.log(pod, f'"{self.command} {self.path}" {code}')
        self.server.count(self.command, code)  # when decided, not when the delay has passed
        if failing:
            delay = parse_duration(
                annotations.get(ANNOTATION + "unavailable-delay", "0s")
            ).total_seconds()
            if delay:
                time.sleep(min(delay, MAX_FAILURE_DELAY))
        self._send(code, text)

    def _send(self, code: int, text: str, content_type: str = "text/plain") -> None:
        data = text.encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def start_listeners(cluster: Cluster) -> list[ServiceListener]:
    listeners = []
    for svc in cluster.store.items("services"):
        annotations = meta(svc).get("annotations") or {}
        if ANNOTATION + "listen-port" not in annotations:
            continue
        listener = ServiceListener(
            cluster,
            meta(svc)["namespace"],
            meta(svc)["name"],
            int(annotations[ANNOTATION + "listen-port"]),
        )
        threading.Thread(
            target=listener.serve_forever, name=f"svc-{meta(svc)['name']}", daemon=True
        ).start()
        listeners.append(listener)
    return listeners
