"""aftershock.traffic.attack: constant-rate load with a vegeta-like report (seed 004)."""

from __future__ import annotations

import queue
import statistics
import threading
import time
from collections import Counter
from typing import Any

import requests

from daemon.durations import parse_duration
from daemon.engine.context import RunContext
from daemon.engine.errors import ActivityFailed

MAX_RATE = 1000.0
MAX_WORKERS = 64


def attack(
    ctx: RunContext,
    url: str,
    rate: float,
    duration: Any,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | None = None,
    timeout: Any = "5s",
    verify_tls: bool = True,
) -> dict[str, Any]:
    if not 0 < float(rate) <= MAX_RATE:
        raise ActivityFailed(f"rate must be in (0, {MAX_RATE:g}] requests/s, got {rate}")
    seconds = parse_duration(duration).total_seconds()
    per_request = parse_duration(timeout).total_seconds()
    total = int(float(rate) * seconds)
    codes: Counter[int] = Counter()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    session = requests.Session()

    def one() -> None:
        started = time.perf_counter()
        try:
            response = session.request(
                method, url, headers=headers, data=body, timeout=per_request, verify=verify_tls
            )
            code = response.status_code
        except requests.exceptions.RequestException as exc:
            code = 0
            with lock:
                errors[type(exc).__name__] += 1
        elapsed = time.perf_counter() - started
        with lock:
            codes[code] += 1
            latencies.append(elapsed)

    # Daemon threads, not a ThreadPoolExecutor: Python joins an executor's workers at exit,
    # so requests held by a slow service would keep a stopped `aftershock run` alive.
    work: queue.SimpleQueue[bool] = queue.SimpleQueue()

    def stopped() -> bool:
        return ctx.stop.is_set() or ctx.cancelled() is not None

    def worker() -> None:
        while work.get() and not stopped():
            one()

    workers = [
        threading.Thread(target=worker, name="aftershock-traffic", daemon=True)
        for _ in range(min(MAX_WORKERS, max(1, int(rate * per_request) + 1)))
    ]
    for thread in workers:
        thread.start()
    start = time.monotonic()
    for index in range(total):
        pause = start + index / float(rate) - time.monotonic()
        if stopped() or (pause > 0 and ctx.stop.wait(pause)):
            break
        work.put(True)
    for _ in workers:
        work.put(False)
    # The requests in flight finish within their timeout; a stopped run does not wait.
    end = time.monotonic() + per_request + 1.0
    for thread in workers:
        while thread.is_alive() and not stopped() and time.monotonic() < end:
            thread.join(timeout=0.1)
    wall = time.monotonic() - start
    session.close()
    with lock:  # workers of a stopped run may still be answering: a snapshot
        ordered = sorted(latencies)
        answered = Counter(codes)
        failed = dict(errors)

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 6) if ordered else 0.0

    sent = sum(answered.values())
    success = sum(n for code, n in answered.items() if 200 <= code < 400)
    return {
        "requests": sent,
        "rate": round(sent / wall, 3) if wall else 0.0,
        "duration": round(wall, 3),
        "success": round(success / sent, 6) if sent else 0.0,
        "status_codes": {str(code): n for code, n in sorted(answered.items())},
        "latencies": {
            "mean": round(statistics.fmean(ordered), 6) if ordered else 0.0,
            "50th": pct(0.5),
            "95th": pct(0.95),
            "99th": pct(0.99),
            "max": pct(1.0),
        },
        "errors": failed,
    }
