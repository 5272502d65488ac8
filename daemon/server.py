"""Assemble and run the daemon: one registry, one settings object, one Kube client.

Used by `aftershock serve` (in the cluster) and `aftershock demo` (against the simulator).
SIGINT/SIGTERM stop the daemon's runs at once (DaemonServer.handle_exit); uvicorn then drains
its requests and returns, and the daemon stops within the bound counted from the signal.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn
from prometheus_client import CollectorRegistry

from daemon.api.app import create_app
from daemon.kube.client import Connection, Kube
from daemon.kube.errors import KubeError
from daemon.listeners import RunListener
from daemon.logging import get_logger
from daemon.notify.notifier import notifier_of
from daemon.notify.wiring import notifier_for, register_metrics
from daemon.observability.metrics import Metrics
from daemon.service import Daemon, ScheduleOverride, settle_heap
from daemon.settings import Settings
from daemon.store.history import HistoryStore, StoreError

log = get_logger("aftershock.server")


class DaemonServer(uvicorn.Server):
    """uvicorn's server, whose SIGINT/SIGTERM first stops the daemon's runs: uvicorn waits
    for the requests in flight before it returns, and nothing may be disrupted meanwhile
    (the shutdown bound counts from the signal)."""

    def __init__(self, config: uvicorn.Config, daemon: Daemon):
        super().__init__(config)
        self.daemon = daemon

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # In a thread of its own: a signal handler must not wait for a lock the interrupted
        # main thread might hold; the runs are stopped within milliseconds all the same.
        threading.Thread(target=self.daemon.begin_stop, name="aftershock-stop", daemon=True).start()
        super().handle_exit(sig, frame)


@dataclass
class Running:
    daemon: Daemon
    server: uvicorn.Server
    url: str
    sock: socket.socket


def build(
    settings: Settings,
    *,
    listeners: Sequence[RunListener] = (),
    environ: dict[str, str] | None = None,
    kubeconfig: Path | None = None,
    schedule_override: ScheduleOverride | None = None,
) -> tuple[Daemon, CollectorRegistry]:
    registry = CollectorRegistry(auto_describe=True)
    holder: list[Daemon] = []

    def count(verb: str, resource: str, code: int) -> None:
        if holder:
            holder[0].metrics.kube_request(verb, resource, code)

    kube: Kube | None
    try:
        kube = Kube.connect(
            Connection(
                mode=settings.kube.mode,
                kubeconfig=kubeconfig or settings.kube.kubeconfig,
                context=settings.kube.context,
                api_url=settings.kube.api_url,
                timeout=settings.kube.request_timeout.total_seconds(),
            ),
            on_request=count,
        )
    except KubeError as exc:
        log.error("no Kubernetes API connection; nothing will be injected", error=exc.message)
        kube = None
    store = HistoryStore(
        settings.store.path,
        retention=settings.store.retention,
        max_runs_per_experiment=settings.store.max_runs_per_experiment,
    )
    try:
        store.open()
    except StoreError as exc:
        log.error("run history unavailable; runs are refused until it is", error=str(exc))
    # Notifications: its own bounded queues and threads, so the listener never blocks.
    notifier = notifier_for(
        settings,
        environ=os.environ if environ is None else {**os.environ, **environ},
        daemon=lambda: holder[0] if holder else None,
    )
    daemon = Daemon(
        settings,
        kube=kube,
        store=store,
        metrics_factory=lambda snapshot: Metrics(registry, snapshot),
        listeners=[*listeners, notifier],
        environ=environ,
        schedule_override=schedule_override,
    )
    holder.append(daemon)
    register_metrics(daemon, notifier)
    notifier.start()
    return daemon, registry


def stop(daemon: Daemon) -> None:
    """Stop the daemon, then drain notifications (runs it aborted included) within the same
    shutdown bound; what is still queued at the bound is counted abandoned."""
    deadline = time.monotonic() + daemon.settings.scheduling.shutdown_timeout.total_seconds()
    daemon.stop()
    notifier = notifier_of(daemon.listeners)
    if notifier is not None:
        notifier.stop(deadline)


def start(
    settings: Settings,
    *,
    port: int | None = None,
    listeners: Sequence[RunListener] = (),
    environ: dict[str, str] | None = None,
    kubeconfig: Path | None = None,
    schedule_override: ScheduleOverride | None = None,
) -> Running:
    """Start the daemon and bind the HTTP port (0: any free port); `serve()` runs it."""
    daemon, registry = build(
        settings,
        listeners=listeners,
        environ=environ,
        kubeconfig=kubeconfig,
        schedule_override=schedule_override,
    )
    app = create_app(daemon, settings, registry)
    host = settings.api.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, settings.api.port if port is None else port))
    sock.listen(2048)  # connections queue from now on, before uvicorn accepts them
    bound = sock.getsockname()[1]
    # uvicorn drains the requests in flight within the shutdown bound (its runs already stop)
    shutdown_bound = settings.scheduling.shutdown_timeout.total_seconds()
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=max(1, min(3, int(shutdown_bound))),
        lifespan="off",
    )
    server = DaemonServer(config, daemon)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - display only
    running = Running(daemon, server, f"http://{shown}:{bound}", sock)
    daemon.start()
    settle_heap()  # after start-up: the kill path must not pay for collecting it
    return running


def serve(running: Running) -> None:
    """Serve HTTP until SIGINT/SIGTERM (or `running.server.should_exit`), then stop.

    uvicorn re-raises the signal it caught once it has shut down, with the handlers it
    found; ours are installed first so that re-raise lands here instead of killing the
    process before the daemon has aborted its runs and played their rollbacks.
    """
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: None)
    try:
        running.server.run(sockets=[running.sock])
    finally:
        stop(running.daemon)
