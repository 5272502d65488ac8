"""A minimal Chrome DevTools Protocol client (wsproto over a socket) for keyboard tests.

Headless Chromium's `--dump-dom` cannot press keys; this drives a real Tab sequence.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Ping,
    Request,
    TextMessage,
)


class Browser:
    def __init__(self, profile: Path, *, timeout: float = 60):
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        assert chromium, "chromium is not installed"
        self.process = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.timeout = timeout
        deadline = time.monotonic() + timeout
        port = None
        assert self.process.stderr is not None
        while port is None and time.monotonic() < deadline:
            line = self.process.stderr.readline()
            found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
            if found:
                port = int(found.group(1))
            elif not line and self.process.poll() is not None:
                break
        assert port, "chromium did not open its DevTools port"
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(t for t in targets if t.get("type") == "page")
        self._connect(page["webSocketDebuggerUrl"])
        self._id = 0

    def _connect(self, url: str) -> None:
        parts = urlparse(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=self.timeout)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.sock.sendall(
            self.ws.send(Request(host=f"{parts.hostname}:{parts.port}", target=parts.path))
        )
        self._buffer: list[str] = []
        while not any(isinstance(e, AcceptConnection) for e in self._events()):
            pass

    def _events(self) -> list[Any]:
        data = self.sock.recv(1 << 20)
        assert data, "DevTools connection closed"
        self.ws.receive_data(data)
        out = []
        for event in self.ws.events():
            if isinstance(event, Ping):
                self.sock.sendall(self.ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                raise ConnectionError("DevTools connection closed")
            out.append(event)
        return out

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        wanted = self._id
        self.sock.sendall(
            self.ws.send(
                Message(data=json.dumps({"id": wanted, "method": method, "params": params}))
            )
        )
        deadline = time.monotonic() + self.timeout
        text = ""
        while time.monotonic() < deadline:
            for event in self._events():
                if isinstance(event, TextMessage):
                    text += event.data
                    if not event.message_finished:
                        continue
                    answer = json.loads(text)
                    text = ""
                    if answer.get("id") == wanted:
                        assert "error" not in answer, answer
                        return answer.get("result", {})
        raise AssertionError(f"no answer to {method}")

    def open(self, url: str) -> None:
        self.call("Page.enable")
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.evaluate("document.readyState") == "complete":
                return
            time.sleep(0.1)
        raise AssertionError(f"{url} did not load")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def tab(self) -> None:
        for kind in ("rawKeyDown", "keyUp"):
            self.call(
                "Input.dispatchKeyEvent",
                type=kind,
                key="Tab",
                code="Tab",
                windowsVirtualKeyCode=9,
                nativeVirtualKeyCode=9,
            )

    def focused(self) -> str:
        """The focused element as `tag href` (or `tag name`)."""
        return str(
            self.evaluate(
                "(e => e ? e.tagName.toLowerCase() + ' ' + (e.getAttribute('href') || "
                "e.getAttribute('name') || e.textContent.trim().slice(0, 40)) : '')"
                "(document.activeElement)"
            )
        )

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            self.process.kill()
            self.process.wait(timeout=10)
