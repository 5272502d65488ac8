"""Real HTTP listeners for Services, answering as the app behind them would.

A Service answers 200 ("<service> answered by <pod>") when it has a Ready, non-terminating
pod and every service it depends on does too; otherwise it answers its configured
failure (status, after an optional delay). Killing the only greeter pod therefore makes
the webapp fail, as in seed 001.
"""

from __future__ import annotations

import itertools
import threading
import time
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
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


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


def availability(
    cluster: Cluster, namespace: str, service: str, seen: frozenset[str] = frozenset()
) -> str | None:
    """None when the service and its dependencies can answer, else the reason why not."""
    if service in seen:
        return None
    svc = cluster.store.get("services", namespace, service)
    if svc is None:
        return f"service {service} does not exist"
    if not ready_pods(cluster, namespace, service):
        return f"no ready endpoints for service {service}"
    depends = (meta(svc).get("annotations") or {}).get(ANNOTATION + "depends-on", "")
    for dependency in filter(None, (d.strip() for d in depends.split(","))):
        reason = availability(cluster, namespace, dependency, seen | {service})
        if reason is not None:
            return f"{service} -> {reason}"
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
            pods = ready_pods(cluster, namespace, name)
            pod = pods[next(self.server.counter) % len(pods)] if pods else None
            if pod is not None:
                cluster.log(
                    pod,
                    f'"{self.command} {self.path}" {200 if reason is None else int(annotations.get(ANNOTATION + "unavailable-status", 503))}',
                )
        if reason is None and pod is not None:
            self._send(200, f"{name} answered by {meta(pod)['name']}\n")
            return
        delay = parse_duration(
            annotations.get(ANNOTATION + "unavailable-delay", "0s")
        ).total_seconds()
        if delay:
            time.sleep(min(delay, MAX_FAILURE_DELAY))
        self._send(int(annotations.get(ANNOTATION + "unavailable-status", 503)), f"{reason}\n")

    def _send(self, code: int, text: str) -> None:
        data = text.encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
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
