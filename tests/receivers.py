"""Real HTTP receivers on 127.0.0.1 for notification tests: they record what arrives and
answer from a script (a status with headers, hang, or close the connection)."""

from __future__ import annotations

import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def verify(self, key: bytes) -> bool:
        expected = "sha256=" + hmac.new(key, self.body, hashlib.sha256).hexdigest()
        given = self.headers.get("x-aftershock-signature-256", "")
        return hmac.compare_digest(expected, given)


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    hang: float = 0.0  # seconds before answering (or closing)
    close: bool = False  # drop the connection without an answer


HANG = Answer(hang=3600)
CLOSE = Answer(close=True)


class Receiver:
    """Answers follow `script` in order; the last one repeats."""

    def __init__(self, *script: Answer):
        self.script = list(script) or [Answer()]
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.released = threading.Event()  # ends every hang (teardown)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.received.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            time.monotonic(),
                        )
                    )
                    index = min(len(receiver.received), len(receiver.script)) - 1
                    answer = receiver.script[index]
                if answer.hang:
                    receiver.released.wait(answer.hang)
                if answer.close:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} request(s) arrived, {count} expected")


@contextmanager
def receiving(*script: Answer) -> Iterator[Receiver]:
    receiver = Receiver(*script)
    receiver.thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        receiver.server.shutdown()
        receiver.server.server_close()
