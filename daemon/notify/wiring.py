"""Build the notifier for a daemon: its metric, its per-experiment lookup, its digest source."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from daemon.notify.delivery import RESULTS
from daemon.notify.digest import compute_digest, history_runs
from daemon.notify.notifier import ExperimentNotify, Notifier

if TYPE_CHECKING:
    from daemon.service import Daemon
    from daemon.settings import Settings


def notifier_for(
    settings: Settings, *, environ: Mapping[str, str], daemon: Callable[[], Daemon | None]
) -> Notifier:
    """`daemon` is resolved late: the notifier is a listener the Daemon is built with."""

    def count(sink: str, result: str) -> None:
        found = daemon()
        if found is not None:
            found.metrics.notification(sink, result)

    def lookup(experiment_id: str) -> ExperimentNotify | None:
        found = daemon()
        entry = found.entries.get(experiment_id) if found is not None else None  # no lock: one read
        if entry is None or entry.loaded is None:
            return None
        extension = entry.loaded.settings
        slo = extension.recovery.slo
        return ExperimentNotify(extension.notify, slo.total_seconds() if slo else None)

    def digest(now: float) -> dict[str, Any] | None:
        found = daemon()
        if found is None or not found.is_leader():  # one digest per cluster, from the leader
            return None
        upcoming = {}
        for experiment_id in list(found.entries):
            when = found.next_run(experiment_id)
            upcoming[experiment_id] = when.timestamp() if when is not None else None
        limit = settings.notify.digest.max_experiments if settings.notify.digest else 50
        return compute_digest(
            history_runs(found.store, now), upcoming, now=now, max_experiments=limit
        )

    return Notifier(
        settings.notify, environ=environ, count=count, lookup=lookup, digest_build=digest
    )


def register_metrics(daemon: Daemon, notifier: Notifier) -> None:
    """Every (sink, result) series exists from the start, so rate() and alerts see zeros."""
    for sink in notifier.workers:
        for result in RESULTS:
            daemon.metrics.notifications.labels(sink, result)
