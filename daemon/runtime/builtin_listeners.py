"""The daemon's own listeners: metrics and the history's record of a run's end.

Both run on the core listener worker, metrics first: once the history shows a run `done`,
its metrics are already counted (tests and dashboards read them in that order).

The history write is safe without depending on the listener queue: the run executor
registers the same write in `PendingWrites` synchronously when the run ends
(`RunExecutor.finish`); this listener only attempts it at once. If the listener is late,
dropped or fails, housekeeping retries it and `Daemon.stop` flushes it, exactly as a write
the disk refused. Only the first write records the end (an UPDATE of a `running` row), so
writing twice is safe.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from daemon.listeners import RunEnded
from daemon.logging import get_logger
from daemon.observability.metrics import Metrics
from daemon.store.history import HistoryStore
from daemon.store.pending import PendingWrites

log = get_logger("aftershock.daemon")


def finish_key(run_id: str) -> str:
    return f"finish:{run_id}"


def rollbacks_cut(journal: dict[str, Any]) -> bool:
    """Were some of the run's rollbacks cut short (the shutdown bound), or did one fail while
    the daemon shut down (an API server answering 503 during a rolling update)? Then it is
    not recorded ended: it stays `running`, and the next start replays them."""
    record = journal.get("aftershock") or {}
    abandoned = record.get("abandoned") or []
    if any(isinstance(a, dict) and a.get("phase") == "rollback" for a in abandoned):
        return True
    return record.get("reason") == "shutdown" and any(
        isinstance(r, dict) and r.get("status") != "succeeded"
        for r in journal.get("rollbacks") or []
    )


def finish_write(store: HistoryStore, run: RunEnded) -> Callable[[], None]:
    """The history's record of the end of `run` (written once: a second write changes
    nothing), unless its rollbacks were cut short."""

    def write() -> None:
        if rollbacks_cut(run.journal):
            return
        if not store.finish_run(
            run.run_id,
            outcome=str(run.outcome),
            reason=run.reason,
            journal=run.journal,
            ended_at=run.ended_at,
        ):
            log.warning(
                "run already recorded ended, by a replica that took it for interrupted",
                run_id=run.run_id,
            )

    return write


class MetricsListener:
    name = "metrics"

    def __init__(self, metrics: Callable[[], Metrics]):
        self._metrics = metrics  # late-bound: the metrics are built last

    def run_ended(self, run: RunEnded) -> None:
        self._metrics().run_finished(run.experiment_id, run.journal)


class HistoryListener:
    name = "history"

    def __init__(self, store: HistoryStore, pending: PendingWrites):
        self.store = store
        self.pending = pending

    def run_ended(self, run: RunEnded) -> None:
        if not self.pending.attempt(finish_key(run.run_id), finish_write(self.store, run)):
            log.error("run finished but could not be recorded yet", error=self.store.error)
