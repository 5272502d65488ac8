"""max_concurrent_runs: FIFO order among waiters, bounded waits."""

from __future__ import annotations

import threading

from daemon.scheduling.jobs import RunSlots


def test_waiters_are_served_in_arrival_order_and_bounded() -> None:
    gate = RunSlots(1)
    assert gate.acquire(timeout=0)
    order: list[int] = []

    def waiter(n: int, ready: threading.Event) -> None:
        ready.set()
        if gate.acquire(timeout=10):
            order.append(n)
            gate.release()

    threads = []
    for n in range(4):
        ready = threading.Event()
        thread = threading.Thread(target=waiter, args=(n, ready))
        thread.start()
        assert ready.wait(5)
        # Wait until this waiter holds its place in the queue before starting the next.
        for _ in range(500):
            with gate._cond:
                if len(gate._queue) == n + 1:
                    break
            threading.Event().wait(0.01)
        threads.append(thread)
    assert not gate.acquire(timeout=0.05)  # full, and the newcomer gives up in time
    gate.release()
    for thread in threads:
        thread.join(timeout=10)
    assert order == [0, 1, 2, 3]


def test_limit_two_admits_two() -> None:
    gate = RunSlots(2)
    assert gate.acquire(timeout=0)
    assert gate.acquire(timeout=0)
    assert not gate.acquire(timeout=0.01)
    gate.release()
    assert gate.acquire(timeout=0)
