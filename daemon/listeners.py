"""Run listeners: what happens after a run ends, each isolated from the run and from the others.

The daemon calls every listener after the run's slot is released, so a slow or failing listener
never delays the next run of the experiment nor changes this run's outcome. A listener's
exception is logged under its own name and counted in `aftershock_listener_failures_total`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from daemon.outcomes import Outcome

log = structlog.get_logger("aftershock.listeners")


@dataclass(frozen=True)
class RunEnded:
    """One finished run, as listeners see it. `journal` is the Chaos Toolkit journal with the
    `aftershock` record (disruptions, recovery, guard decisions) under its own key."""

    experiment_id: str
    run_id: str
    outcome: Outcome
    reason: str
    trigger: str
    dry_run: bool
    started_at: float  # unix seconds
    ended_at: float
    journal: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    tags: tuple[str, ...] = ()

    @property
    def record(self) -> dict[str, Any]:
        value = self.journal.get("aftershock")
        return value if isinstance(value, dict) else {}


class RunListener(Protocol):
    """An extension point: register an instance with the daemon (`Daemon(listeners=[...])`)."""

    name: str

    def run_ended(self, run: RunEnded) -> None: ...


@dataclass
class CallbackListener:
    """A listener from a plain function (the demo's printer, tests)."""

    name: str
    callback: Callable[[RunEnded], None]

    def run_ended(self, run: RunEnded) -> None:
        self.callback(run)


def dispatch(
    listeners: Sequence[RunListener],
    run: RunEnded,
    *,
    failed: Callable[[str], None] = lambda _name: None,
) -> None:
    """Call each listener in order; a failure is logged, counted through `failed` and skipped."""
    for listener in listeners:
        try:
            listener.run_ended(run)
        except Exception as exc:
            log.exception(
                "run listener failed",
                listener=listener.name,
                experiment=run.experiment_id,
                run_id=run.run_id,
                error=f"{type(exc).__name__}: {exc}",
            )
            failed(listener.name)
