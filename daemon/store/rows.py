"""The run history's row types and error, shared by its writes (history.py) and reads
(history_reads.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_COLUMNS = "id, experiment, trigger, state, outcome, reason, dry_run, started_at, ended_at"


class StoreError(Exception):
    """The history cannot be read or written (disk full, read-only, corrupt)."""


@dataclass(frozen=True)
class RunRow:
    id: str
    experiment: str
    trigger: str
    state: str
    outcome: str | None
    reason: str | None
    dry_run: bool
    started_at: float
    ended_at: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "experiment": self.experiment,
            "trigger": self.trigger,
            "state": self.state,
            "outcome": self.outcome,
            "reason": self.reason,
            "dry_run": self.dry_run,
            "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at) if self.ended_at else None,
            "duration_seconds": (
                round(self.ended_at - self.started_at, 3) if self.ended_at else None
            ),
        }


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def _row(values: tuple[Any, ...]) -> RunRow:
    run_id, experiment, trigger, state, outcome, reason, dry_run, started, ended = values[:9]
    return RunRow(
        run_id, experiment, trigger, state, outcome, reason, bool(dry_run), started, ended
    )


def _records(text: str | None) -> list[dict[str, Any]]:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return []
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []
