"""Waits and threads the run uses: bounded, and never keeping the process alive."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from daemon.engine.context import ACTIVITY_CANCELLED

if TYPE_CHECKING:
    from daemon.engine.context import RunContext


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def failed_record(activity: dict[str, Any], message: str) -> dict[str, Any]:
    """The record of an activity that could not even start (or never reported back)."""
    now = time.time()
    return {
        "activity": activity,
        "output": None,
        "status": "failed",
        "start": iso(now),
        "end": iso(now),
        "duration": 0.0,
        "exception": [f"{message}\n"],
    }


def wait_cut(
    future: Future[Any],
    ctx: RunContext,
    limit: float,
    *,
    on_stop: bool = True,
    share: float = 1.0,
) -> str | None:
    """Wait for `future` (None) or until the wait is cut: "timeout" at `limit` (monotonic),
    "deadline" at the run's shutdown bound (which a signal may set after the wait began), or,
    with `on_stop`, the reason the run was stopped. Never one blocking wait: each is a slice.
    `share`: the part of the time left before the bound, as first seen, this wait may take
    (the rest is kept for what must still happen, such as the rollbacks that restore)."""
    cut: float | None = None
    while True:
        if on_stop and ctx.stop.is_set():
            return ctx.stop_reason or "stopped"
        deadline = ctx.deadline
        if deadline is not None and cut is None:
            now = time.monotonic()
            cut = now + max(0.0, deadline - now) * share
        end = limit if deadline is None or cut is None else min(limit, cut, deadline)
        left = end - time.monotonic()
        if left <= 0:
            return "timeout" if end == limit else "deadline"
        done, _ = wait_futures([future], timeout=min(left, 0.1))
        if done:
            return None


def spawn(fn: Callable[..., Any], *args: Any, token: threading.Event | None = None) -> Future[Any]:
    """Run fn in a *daemon* thread: a provider that hangs must never keep the process alive
    past the shutdown bound (ThreadPoolExecutor workers are joined at interpreter exit).
    `token` is the activity's cancellation, which every disruption in that thread checks."""
    future: Future[Any] = Future()

    def body() -> None:
        if token is not None:
            ACTIVITY_CANCELLED.set(token)
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to whoever waits
            future.set_exception(exc)

    threading.Thread(target=body, name="aftershock-activity", daemon=True).start()
    return future


def wait_seconds(value: Any) -> float:
    """A pause or timeout as a wait the threading module accepts; ValueError (naming the
    value) for what no wait can honour, instead of an OverflowError deep in threading."""
    if value is None or value == 0:
        return 0.0
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{value!r} is not a number of seconds") from None
    if math.isnan(seconds) or seconds < 0 or seconds > threading.TIMEOUT_MAX:
        raise ValueError(f"{value!r} is not a usable number of seconds")
    return seconds
