"""The listener workers: order, isolation, a bounded queue (drop-oldest), bounded drain."""

from __future__ import annotations

import threading
import time

from daemon.listeners import CallbackListener, RunEnded
from daemon.outcomes import Outcome
from daemon.runtime.listener_queue import ListenerBus, ListenerWorker


def ended(n: int) -> RunEnded:
    return RunEnded(
        experiment_id="e",
        run_id=f"r{n}",
        outcome=Outcome.PASSED,
        reason="",
        trigger="schedule",
        dry_run=False,
        started_at=0.0,
        ended_at=1.0,
    )


def soon(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def test_each_run_reaches_the_listeners_in_order_and_runs_in_fifo_order() -> None:
    seen: list[tuple[str, str]] = []
    worker = ListenerWorker(
        [
            CallbackListener("first", lambda run: seen.append(("first", run.run_id))),
            CallbackListener("second", lambda run: seen.append(("second", run.run_id))),
        ],
        name="w",
    )
    worker.start()
    for n in range(3):
        worker.submit(ended(n))
    assert worker.idle(soon())
    assert seen == [(name, f"r{n}") for n in range(3) for name in ("first", "second")]
    worker.close()
    assert worker.join(soon())


def test_a_failing_listener_is_counted_under_its_name_and_the_others_still_run() -> None:
    failed: list[str] = []
    seen: list[str] = []

    def boom(_run: RunEnded) -> None:
        raise RuntimeError("boom")

    worker = ListenerWorker(
        [CallbackListener("raiser", boom), CallbackListener("ok", lambda r: seen.append(r.run_id))],
        name="w",
        failed=failed.append,
    )
    worker.start()
    worker.submit(ended(1))
    worker.submit(ended(2))
    assert worker.idle(soon())
    assert failed == ["raiser", "raiser"]
    assert seen == ["r1", "r2"]
    worker.close()
    assert worker.join(soon())


def test_a_full_queue_drops_the_oldest_run_and_counts_it() -> None:
    release = threading.Event()
    seen: list[str] = []
    dropped: list[str] = []

    def slow(run: RunEnded) -> None:
        seen.append(run.run_id)
        assert release.wait(10)

    worker = ListenerWorker(
        [CallbackListener("slow", slow)], name="w", capacity=2, dropped=dropped.append
    )
    worker.start()
    assert worker.submit(ended(1))
    deadline = soon()
    while seen != ["r1"]:  # the worker holds r1; the queue is empty again
        assert time.monotonic() < deadline
        time.sleep(0.01)
    for n in range(2, 6):  # r2..r5 into a queue of 2: r2 and r3 are dropped
        assert worker.submit(ended(n))
    assert worker.dropped == 2
    assert dropped == ["slow", "slow"]
    release.set()
    assert worker.idle(soon())
    assert seen == ["r1", "r4", "r5"]
    worker.close()
    assert worker.join(soon())


def test_close_delivers_what_is_queued_then_refuses_more() -> None:
    gate = threading.Event()
    seen: list[str] = []
    worker = ListenerWorker(
        [CallbackListener("l", lambda run: (gate.wait(10), seen.append(run.run_id)))], name="w"
    )
    worker.start()
    for n in range(3):
        worker.submit(ended(n))
    worker.close()
    gate.set()
    assert worker.join(soon())
    assert seen == ["r0", "r1", "r2"]
    assert worker.submit(ended(9)) is False
    assert seen == ["r0", "r1", "r2"]


def test_a_hanging_listener_holds_only_its_own_worker_and_shutdown_is_bounded() -> None:
    hang = threading.Event()
    core: list[str] = []
    other: list[str] = []
    bus = ListenerBus(
        [CallbackListener("history", lambda run: core.append(run.run_id))],
        [
            CallbackListener("hangs", lambda _run: hang.wait(30)),
            CallbackListener("other", lambda run: other.append(run.run_id)),
        ],
        failed=lambda _name: None,
        dropped=lambda _name: None,
    )
    bus.start()
    try:
        for n in range(3):
            bus.submit(ended(n))
        assert bus.core.idle(soon())
        assert bus.extra[1].idle(soon())
        assert core == other == ["r0", "r1", "r2"]
        assert bus.idle(0.2) is False  # the hanging one has not caught up
        bus.close()
        assert bus.join_core(soon())
        started = time.monotonic()
        assert bus.join_extra(time.monotonic() + 0.3) == ["aftershock-listener-hangs"]
        assert time.monotonic() - started < 2  # bounded by the deadline, not by the listener
    finally:
        hang.set()
    assert bus.join_extra(soon()) == []
