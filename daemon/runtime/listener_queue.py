"""Run listeners off the run's thread: a bounded queue and one worker thread per group.

A run hands its `RunEnded` over (`submit`, never blocks) once its concurrency slot and its
APScheduler job are released; the worker calls the group's listeners in order. A slow or
hanging listener therefore never delays a run, and holds up only its own group: each extra
listener gets its own worker, so one stuck notifier cannot hold the history or the metrics.

Full queue: the oldest run is dropped (logged, counted): a listener that cannot keep up
loses old news rather than memory. The history's record of a run's end never depends on
this queue (see `daemon.runtime.builtin_listeners`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from daemon.listeners import RunEnded, RunListener, dispatch
from daemon.logging import get_logger, run_context

log = get_logger("aftershock.listeners")
CAPACITY = 256  # runs waiting per worker before the oldest is dropped
POLL = 1.0  # the worker's idle wait (every wait has a deadline)


class ListenerWorker:
    """One thread calling `listeners` in order for each run, from a bounded FIFO queue."""

    def __init__(
        self,
        listeners: Sequence[RunListener],
        *,
        name: str,
        failed: Callable[[str], None] = lambda _name: None,
        dropped: Callable[[str], None] = lambda _name: None,
        capacity: int = CAPACITY,
    ):
        self.listeners = list(listeners)
        self.name = name
        self.capacity = capacity
        self.dropped = 0  # runs dropped because the queue was full
        self._failed = failed
        self._on_drop = dropped
        self._queue: deque[RunEnded] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, run: RunEnded) -> bool:
        """Queue `run` without waiting; False when the worker is closed (after shutdown)."""
        with self._cond:
            if self._closed:
                log.warning(
                    "run ended after the listeners stopped; not delivered",
                    worker=self.name,
                    run_id=run.run_id,
                )
                return False
            if len(self._queue) >= self.capacity:
                oldest = self._queue.popleft()
                self.dropped += 1
                log.warning(
                    "listener queue full; the oldest run is dropped",
                    worker=self.name,
                    run_id=oldest.run_id,
                    dropped=self.dropped,
                )
                for listener in self.listeners:
                    self._on_drop(listener.name)
            self._queue.append(run)
            self._cond.notify_all()
            return True

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait(POLL)
                if not self._queue:
                    return  # closed and drained
                run = self._queue.popleft()
                self._busy = True
            try:
                with run_context(run.experiment_id, run.run_id):
                    dispatch(self.listeners, run, failed=self._failed)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def idle(self, deadline: float) -> bool:
        """Wait until every queued run has been delivered, or `deadline` (monotonic)."""
        with self._cond:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self) -> None:
        """No more runs; the worker delivers what is queued, then ends."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def join(self, deadline: float) -> bool:
        """True when the worker has delivered everything and ended by `deadline`."""
        if self._thread.ident is not None:
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + int(self._busy)


class ListenerBus:
    """The daemon's workers: `core` (metrics then history, in that order) and one per extra
    listener. `submit` fans a run out to all of them."""

    def __init__(
        self,
        core: Sequence[RunListener],
        extra: Sequence[RunListener],
        *,
        failed: Callable[[str], None],
        dropped: Callable[[str], None],
        capacity: int = CAPACITY,
    ):
        def worker(group: Sequence[RunListener], name: str) -> ListenerWorker:
            return ListenerWorker(
                group, name=name, failed=failed, dropped=dropped, capacity=capacity
            )

        self.core = worker(core, "aftershock-listeners")
        self.extra = [worker([one], f"aftershock-listener-{one.name}") for one in extra]

    @property
    def workers(self) -> list[ListenerWorker]:
        return [self.core, *self.extra]

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def submit(self, run: RunEnded) -> None:
        for worker in self.workers:
            worker.submit(run)

    def idle(self, timeout: float) -> bool:
        """True when every listener has seen every run submitted so far (within `timeout`)."""
        deadline = time.monotonic() + timeout
        return all(worker.idle(deadline) for worker in self.workers)

    def close(self) -> None:
        for worker in self.workers:
            worker.close()

    def join_core(self, deadline: float) -> bool:
        return self.core.join(deadline)

    def join_extra(self, deadline: float) -> list[str]:
        """The workers still busy at `deadline` (a hanging listener), logged."""
        stuck = [w.name for w in self.extra if not w.join(deadline)]
        for name in stuck:
            log.error("run listener still busy at the shutdown bound; abandoned", worker=name)
        return stuck
