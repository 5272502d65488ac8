"""`wait_cut`: every wait of a run is cut by the shutdown bound, and a wait given a `share`
leaves the rest of the time before the bound to what must still happen (the rollbacks)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from types import SimpleNamespace
from typing import Any

from daemon.engine.threads import wait_cut


def context(deadline: float | None = None) -> Any:
    return SimpleNamespace(stop=threading.Event(), stop_reason="", deadline=deadline)


def test_a_share_leaves_the_rest_of_the_bound() -> None:
    ctx = context(time.monotonic() + 4)
    began = time.monotonic()
    assert wait_cut(Future(), ctx, began + 60, on_stop=False, share=0.5) == "deadline"
    took = time.monotonic() - began
    assert 1.9 <= took < 3.5, took  # half of the 4 s left, not all of it


def test_a_bound_set_during_the_wait_is_shared_from_when_it_is_seen() -> None:
    ctx = context()
    began = time.monotonic()
    threading.Timer(1.0, lambda: setattr(ctx, "deadline", time.monotonic() + 4)).start()
    assert wait_cut(Future(), ctx, began + 60, on_stop=False, share=0.5) == "deadline"
    took = time.monotonic() - began
    assert 2.9 <= took < 4.5, took  # 1 s, then half of the 4 s left then


def test_the_limit_and_the_answer_still_come_first() -> None:
    ctx = context(time.monotonic() + 30)
    began = time.monotonic()
    assert wait_cut(Future(), ctx, began + 0.3, on_stop=False, share=0.5) == "timeout"
    done: Future[int] = Future()
    threading.Timer(0.2, lambda: done.set_result(1)).start()
    assert wait_cut(done, ctx, time.monotonic() + 30, share=0.5) is None
    ctx.stop.set()
    ctx.stop_reason = "halted"
    assert wait_cut(Future(), ctx, time.monotonic() + 30) == "halted"
