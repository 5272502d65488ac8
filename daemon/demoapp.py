"""The seed-001 shop as a real HTTP service, for real clusters (`aftershock demo-app`).

One process serves one service of the shop: greeter and name answer on their own; webapp
asks each of its dependencies first and, when one cannot answer, answers its configured
failure (status after a delay) instead, as the simulator's Service listeners do. So a
kill of the only greeter pod makes the webapp fail on a real cluster too.

`/healthz` (liveness) and `/readyz` (readiness) say only whether this process can serve:
a missing dependency does not make the webapp unready, exactly as in the simulator.
"""

from __future__ import annotations

import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_FAILURE_DELAY = 60.0
HEALTH_PATHS = ("/healthz", "/readyz")


class DemoAppError(ValueError):
    """A bad flag or environment value, named."""


@dataclass(frozen=True)
class Dependency:
    name: str
    url: str


@dataclass(frozen=True)
class DemoApp:
    """What one shop service is and how it fails."""

    service: str
    pod: str
    depends_on: tuple[Dependency, ...] = ()
    unavailable_status: int = 503
    unavailable_delay: float = 0.0
    dependency_timeout: float = 2.0
    ready: bool = True


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    delay: float = 0.0


def parse_dependencies(text: str) -> tuple[Dependency, ...]:
    """`greeter,name` (in-namespace Service DNS names) or `greeter=http://host:port/,...`."""
    out: list[Dependency] = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, url = item.partition("=")
        name = name.strip()
        if not name or not all(c.isalnum() or c in "-." for c in name):
            raise DemoAppError(f"depends-on: {item!r} is not NAME or NAME=URL")
        url = url.strip() or f"http://{name}/"
        if not url.startswith(("http://", "https://")):
            raise DemoAppError(f"depends-on: {name}: {url!r} is not an http(s) URL")
        out.append(Dependency(name, url))
    return tuple(out)


def decide(app: DemoApp, failures: dict[str, str]) -> Answer:
    """The answer, given which dependencies failed and why (pure: the tests pin it)."""
    if not failures:
        return Answer(200, f"{app.service} answered by {app.pod}\n")
    name = next(d.name for d in app.depends_on if d.name in failures)
    return Answer(
        app.unavailable_status,
        f"{app.service} -> {name}: {failures[name]}\n",
        min(app.unavailable_delay, MAX_FAILURE_DELAY),
    )


Fetch = Callable[[str, float], str | None]


def fetch(url: str, timeout: float) -> str | None:
    """None when the URL answers 2xx, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http(s) checked in parse_dependencies
            response.read(64 * 1024)
            return None
    except urllib.error.HTTPError as exc:
        return f"answered {exc.code}"
    except (OSError, ValueError) as exc:
        return f"unreachable ({getattr(exc, 'reason', exc)})"


def check(app: DemoApp, get: Fetch = fetch) -> dict[str, str]:
    """Ask every dependency (in parallel: one slow dependency costs one timeout)."""
    failures: dict[str, str] = {}
    lock = threading.Lock()

    def ask(dependency: Dependency) -> None:
        reason = get(dependency.url, app.dependency_timeout)
        if reason is not None:
            with lock:
                failures[dependency.name] = reason

    threads = {d: threading.Thread(target=ask, args=(d,), daemon=True) for d in app.depends_on}
    for thread in threads.values():
        thread.start()
    deadline = time.monotonic() + app.dependency_timeout + 1
    for dependency, thread in threads.items():
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            with lock:
                failures.setdefault(dependency.name, "no answer in time")
    return dict(failures)


class DemoServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: DemoApp, host: str, port: int, get: Fetch = fetch):
        self.app = app
        self.get = get
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: DemoServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ARG002 - stdlib signature; quiet access log
        return

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(min(length, 1024 * 1024))
        self._answer()

    def _answer(self) -> None:
        app = self.server.app
        path = self.path.split("?", 1)[0]
        if path in HEALTH_PATHS:
            ok = path == "/healthz" or app.ready
            self._send(200 if ok else 503, "ok\n" if ok else "not ready\n")
            return
        answer = decide(app, check(app, self.server.get))
        if answer.delay:
            time.sleep(answer.delay)
        self._send(answer.status, answer.text)

    def _send(self, code: int, text: str) -> None:
        data = text.encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def serve(app: DemoApp, host: str, port: int, announce: Callable[[str], None]) -> None:
    """Serve until SIGTERM or SIGINT (the kubelet's stop), then close cleanly."""
    server = DemoServer(app, host, port)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2})
    thread.start()
    announce(f"demo-app {app.service} serving on {server.url}")
    stop.wait()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
