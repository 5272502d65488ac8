"""The demo's users: a steady trickle of requests to the webapp, so its request and error
counters (and the Prometheus rates built on them) move as they would in production."""

from __future__ import annotations

import contextlib
import threading
import urllib.error
import urllib.request

RATE = 10.0  # requests per second, over all users
USERS = 4
TIMEOUT = 1.0  # a user gives up; the service counted the request when it decided the answer


class Users:
    def __init__(self, url: str, rate: float = RATE, users: int = USERS):
        self.url = url
        self.pause = users / rate
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._user, name=f"demo-user-{i}", daemon=True)
            for i in range(users)
        ]

    def start(self) -> Users:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=TIMEOUT + 1)

    def _user(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(urllib.error.URLError, OSError, ValueError):
                urllib.request.urlopen(self.url, timeout=TIMEOUT).close()  # noqa: S310 - our own URL
            self._stop.wait(self.pause)
