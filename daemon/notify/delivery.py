"""One worker thread per sink: a bounded queue, tries with back-off, counted results.

`offer` never blocks and never raises, so the run listener that calls it costs the run
nothing; a slow or hanging sink only delays its own queue. A full queue drops the oldest
message; on shutdown the worker drains what it can before its deadline and counts the rest.
Results (the `result` label of aftershock_notifications_total): sent, retried, failed
(gave up), dropped (queue full), abandoned (shutdown deadline).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from daemon.logging import get_logger
from daemon.notify.config import SinkSettings
from daemon.notify.secrets import SecretUnavailableError, signing_key, sink_url
from daemon.notify.sinks import SENDERS, Sender
from daemon.notify.transport import Reply

log = get_logger("aftershock.notify")
Count = Callable[[str, str], None]  # (sink, result)
RESULTS = ("sent", "retried", "failed", "dropped", "abandoned")


def backoff_delay(sink: SinkSettings, attempt: int, reply: Reply) -> float:
    """Retry-After when the sink gave one, else exponential; both capped by max_backoff."""
    cap = sink.max_backoff.total_seconds()
    if reply.retry_after is not None:
        return min(cap, float(reply.retry_after))
    return float(min(cap, sink.backoff.total_seconds() * 2.0 ** (attempt - 1)))


def send_once(
    sink: SinkSettings, payload: dict[str, Any], environ: Mapping[str, str], timeout: float
) -> Reply:
    """Read the URL and key now (rotation), send one try; never raises, never shows the URL."""
    try:
        url = sink_url(sink, environ)
        key = signing_key(sink, environ)
    except SecretUnavailableError as exc:
        return Reply(0, error=str(exc))
    sender: Sender = SENDERS[sink.type]
    try:
        return sender(payload, url, key, timeout)
    except Exception as exc:  # noqa: BLE001 - a bug in a sender must not kill the worker
        return Reply(0, error=f"sender error: {type(exc).__name__}")


@dataclass
class SinkStatus:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESULTS, 0))
    last_error: str | None = None
    last_error_at: float | None = None
    last_sent_at: float | None = None


class SinkWorker:
    def __init__(self, sink: SinkSettings, *, environ: Mapping[str, str], count: Count):
        self.sink = sink
        self.environ = environ
        self._count = count
        self._queue: deque[dict[str, Any]] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._deadline: float | None = None  # monotonic, set by close()
        self._wake = threading.Event()  # cuts back-off sleeps short on close
        self._inflight = False
        self._gone = False  # finish() gave up on the message in flight: count nothing more
        self.status = SinkStatus()
        self._thread = threading.Thread(
            target=self._loop, name=f"aftershock-notify-{sink.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def counted(self, result: str) -> None:
        with self._cond:  # an RLock: finish() decides `_gone` and counts atomically
            if self._gone:
                return
            self.status.counts[result] += 1
            self._count(self.sink.name, result)

    def offer(self, payload: dict[str, Any]) -> None:
        """Never blocks beyond this short lock, never raises."""
        dropped = False
        with self._cond:
            if self._closing:
                self.counted("dropped")
                return
            if len(self._queue) >= self.sink.queue_size:
                self._queue.popleft()
                self.counted("dropped")
                dropped = self.status.counts["dropped"] in (1, 10, 100) or (
                    self.status.counts["dropped"] % 1000 == 0
                )
            self._queue.append(payload)
            self._cond.notify()
        if dropped:  # logged sparsely: a sink down for a day must not flood the log
            log.warning(
                "notification queue full; oldest dropped",
                sink=self.sink.name,
                dropped=self.status.counts["dropped"],
            )

    @property
    def queued(self) -> int:
        return len(self._queue)

    def close(self, deadline: float) -> None:
        """Stop accepting; drain until `deadline` (monotonic), then abandon what is left."""
        with self._cond:
            self._closing = True
            self._deadline = deadline
            self._cond.notify()
        self._wake.set()

    def finish(self, deadline: float) -> None:
        """After close(): wait for the drain until `deadline`; a request still in flight then
        (a sink that never answers) is counted abandoned and its thread left to die with us."""
        self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
        with self._cond:
            for _ in self._queue:
                self.counted("abandoned")
            self._queue.clear()
            if self._inflight:
                self.counted("abandoned")
                self._gone = True

    def _remaining(self) -> float | None:
        return None if self._deadline is None else self._deadline - time.monotonic()

    def _take(self) -> dict[str, Any] | None:
        with self._cond:
            while not self._queue:
                if self._closing:
                    return None
                self._cond.wait()
            remaining = self._remaining()
            if remaining is not None and remaining <= 0:
                for _ in self._queue:
                    self.counted("abandoned")
                self._queue.clear()
                return None
            self._inflight = True
            return self._queue.popleft()

    def _loop(self) -> None:
        while (payload := self._take()) is not None:
            try:
                self._deliver(payload)
            finally:
                with self._cond:
                    self._inflight = False

    def _deliver(self, payload: dict[str, Any]) -> None:
        sink = self.sink
        for attempt in range(1, sink.max_tries + 1):
            timeout = sink.timeout.total_seconds()
            remaining = self._remaining()
            if remaining is not None:
                if remaining <= 0:
                    self.counted("abandoned")
                    return
                timeout = min(timeout, remaining)
            reply = send_once(sink, payload, self.environ, timeout)
            if reply.ok:
                self.counted("sent")
                self.status.last_sent_at = time.time()
                return
            self.status.last_error, self.status.last_error_at = reply.describe(), time.time()
            final = not reply.retryable or attempt == sink.max_tries
            log.warning(
                "notification not delivered",
                sink=sink.name,
                attempt=attempt,
                of=sink.max_tries,
                error=reply.describe(),
                giving_up=final,
            )
            if final:
                self.counted("failed")
                return
            self.counted("retried")
            delay = backoff_delay(sink, attempt, reply)
            remaining = self._remaining()
            if remaining is not None and delay >= remaining:
                self.counted("abandoned")
                return
            if not self._sleep(delay):
                self.counted("abandoned")
                return

    def _sleep(self, seconds: float) -> bool:
        """Back off; False when shutdown came and the rest of the wait passes the deadline."""
        end = time.monotonic() + seconds
        if self._wake.wait(seconds):
            left, remaining = end - time.monotonic(), self._remaining()
            if remaining is None or left >= remaining:
                return False
            time.sleep(max(0.0, left))
        return True
