"""The runs in flight, and the one way to stop them: `stop_runs`.

Halt (API or ConfigMap), leadership loss and shutdown all stop runs the same way: list the
contexts under the lock, then ask each to stop outside it (a run's `request_stop` only sets
flags and cancels its waits, so it never blocks; the lock is never held across it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from daemon.engine.context import RunContext


@dataclass(frozen=True)
class ActiveRun:
    context: RunContext
    thread: threading.Thread


class ActiveRuns:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, ActiveRun] = {}

    def add(self, run_id: str, context: RunContext, thread: threading.Thread) -> None:
        """Visible to `stop_runs` before the run does anything."""
        with self._lock:
            self._runs[run_id] = ActiveRun(context, thread)

    def remove(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def __contains__(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._runs

    def ids(self) -> set[str]:
        with self._lock:
            return set(self._runs)

    def __len__(self) -> int:
        with self._lock:
            return len(self._runs)

    def stop_runs(
        self, reason: str, detail: str, *, deadline: float | None = None
    ) -> dict[str, ActiveRun]:
        """Ask every run in flight to stop (`reason`: halted, leadership_lost, shutdown);
        with `deadline` (monotonic), every wait of the run is also cut to it. Returns the
        runs asked, for a caller that waits for them (shutdown)."""
        with self._lock:
            runs = dict(self._runs)
        for run in runs.values():
            if deadline is not None:
                run.context.deadline = deadline
            run.context.request_stop(reason, detail)
        return runs
