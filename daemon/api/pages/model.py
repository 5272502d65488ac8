"""What the pages are drawn from: plain data, filled by daemon/api/catalog_view.py."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from daemon.outcomes import Outcome


@dataclass(frozen=True)
class RunSummary:
    id: str
    outcome: str | None
    reason: str | None
    trigger: str
    dry_run: bool
    started_at: float
    ended_at: float | None
    recovery: float | None = None  # the slowest measured workload, seconds
    timed_out: bool = False  # a workload did not recover within its timeout

    @property
    def running(self) -> bool:
        return self.ended_at is None

    @property
    def duration(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at

    @classmethod
    def of(cls, row: Any, records: list[dict[str, Any]]) -> RunSummary:
        """From a history RunRow and its journal's recovery records."""
        took = [
            float(r["recovery_seconds"])
            for r in records
            if isinstance(r.get("recovery_seconds"), int | float)
        ]
        return cls(
            row.id,
            row.outcome,
            row.reason,
            row.trigger,
            row.dry_run,
            row.started_at,
            row.ended_at,
            max(took) if took else None,
            any(r.get("timed_out") for r in records),
        )


@dataclass(frozen=True)
class PassRate:
    counts: dict[str, int] = field(default_factory=dict)  # outcome -> runs in the window
    days: int = 7

    @property
    def passed(self) -> int:
        return self.counts.get(Outcome.PASSED, 0)

    @property
    def refused(self) -> int:
        return self.counts.get(Outcome.REFUSED, 0)

    @property
    def verdicts(self) -> int:
        """Runs that tried (everything but refusals: nothing was disrupted there)."""
        return sum(self.counts.values()) - self.refused


@dataclass(frozen=True)
class Card:
    """One experiment as the status and experiment pages show it."""

    id: str
    title: str | None
    file: str
    enabled: bool
    valid: bool
    stale: bool
    problems: list[str]
    schedule: str | None  # effective
    catalog_schedule: str | None  # as written in the catalog
    overridden: bool
    next_run: datetime | None
    fires: list[datetime]
    running: str | None
    tags: list[str]
    namespaces: list[str]
    slo: float | None
    runs: list[RunSummary]  # newest first
    rate: PassRate
    history_error: str = ""  # the run history could not be read: runs and rate are empty

    @property
    def recoveries(self) -> list[float | None]:
        """Oldest first, for the sparkline."""
        return [r.recovery for r in reversed(self.runs)]

    @property
    def p50(self) -> float | None:
        took = [r.recovery for r in self.runs if r.recovery is not None]
        return statistics.median(took) if took else None
