"""The one place the API and pages read the daemon's state: named accessors over the daemon's
read-only `catalog_view` (copies taken under the catalog's lock). Nothing here mutates it."""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from daemon.api.pages import iso
from daemon.api.pages.experiment import History, Limit
from daemon.api.pages.layout import Banners
from daemon.api.pages.model import Card, PassRate, RunSummary
from daemon.catalog.extension import Schedule
from daemon.durations import format_duration, parse_duration
from daemon.engine.redact import redact, sensitive_values
from daemon.safety.limits import effective_limits
from daemon.store.history import StoreError

if TYPE_CHECKING:
    from daemon.runtime.catalog import Entry
    from daemon.service import Daemon

STRIP_RUNS = 30
RATE_DAYS = 7
FILE_LIMIT = 256 * 1024
# Growing windows for "the next N fires": a cron in working hours may wait a weekend.
PREVIEW_WINDOWS = (timedelta(hours=1), timedelta(days=1), timedelta(days=8), timedelta(days=40))


# ------------------------------------------------------------------ raw reads of the daemon


def snapshot(daemon: Daemon) -> list[tuple[str, Entry]]:
    """Every catalog entry, sorted by id: copies taken under one lock (a consistent view)."""
    return daemon.catalog_view.experiments()


def entry(daemon: Daemon, experiment_id: str) -> Entry | None:
    return daemon.catalog_view.get(experiment_id)


def banners(daemon: Daemon) -> Banners:
    return Banners(
        halted=daemon.halt.reason(),
        dry_run=daemon.settings.safety.dry_run,
        leader=daemon.is_leader(),
        stale=[i for i, e in snapshot(daemon) if e.stale],
        catalog_problems=daemon.catalog_view.problems,
    )


@dataclass(frozen=True)
class Schedules:
    effective: Schedule | None
    catalog: Schedule | None

    @property
    def overridden(self) -> bool:
        return self.effective != self.catalog


def schedules(daemon: Daemon, experiment_id: str, item: Entry) -> Schedules:
    """The catalog's schedule and the one in force (the demo replaces schedules)."""
    loaded = item.loaded
    written = loaded.settings.schedule if loaded else None
    effective = written
    if written is not None and daemon.schedule_override is not None:
        effective = daemon.schedule_override(experiment_id, written)
    return Schedules(effective, written)


def fires(
    daemon: Daemon, experiment_id: str, schedule: Schedule | None, count: int
) -> list[datetime]:
    """The next `count` planned fires of the effective schedule (`daemon.plan`, jitter
    previewed), looking further ahead until found: a working-hours cron may wait a weekend."""
    if schedule is None or not schedule.enabled:
        return []
    found: list[datetime] = []
    for window in PREVIEW_WINDOWS:
        found = daemon.plan(experiment_id, window.total_seconds() / 3600)
        if len(found) >= count:
            break
    return found[:count]


# ------------------------------------------------------------------ the API's view


def namespaces(raw: Any) -> list[str]:
    """Namespaces named by the experiment's activities (`ns`/`namespace` arguments)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            arguments = node.get("arguments")
            if isinstance(arguments, dict):
                for key in ("ns", "namespace"):
                    if isinstance(arguments.get(key), str) and arguments[key]:
                        found.add(arguments[key])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(raw)
    return sorted(found)


def experiment_view(daemon: Daemon, experiment_id: str, item: Entry) -> dict[str, Any]:
    loaded = item.loaded
    plan = schedules(daemon, experiment_id, item)
    next_run = daemon.next_run(experiment_id)
    recoveries = item.recoveries
    return {
        "id": experiment_id,
        "title": loaded.title if loaded else None,
        "file": str(item.path),
        "valid": loaded is not None,
        "stale": item.stale,
        "problems": item.problems,
        "enabled": bool(loaded and loaded.settings.enabled),
        # The schedule in force; `catalog_schedule` is the file's when an override replaced it.
        "schedule": plan.effective.describe() if plan.effective else None,
        "schedule_overridden": plan.overridden,
        "catalog_schedule": plan.catalog.describe() if plan.catalog else None,
        "next_run": next_run.isoformat() if next_run else None,
        "running": item.running,
        "tags": list(loaded.experiment.tags) if loaded else [],
        "namespaces": namespaces(loaded.raw) if loaded else [],
        "last_run": {
            "id": item.last_run_id,
            "outcome": item.last_outcome,
            "reason": item.last_reason,
            "ended_at": iso(item.last_run),
        },
        "last_pass": iso(item.last_pass),
        "recovery": {
            "last": item.last_recovery,
            "p50": round(statistics.median(recoveries), 3) if recoveries else None,
        },
    }


def upcoming_view(daemon: Daemon, experiment_id: str, hours: float) -> list[str]:
    """Planned fires within `hours` of the effective schedule."""
    return [t.isoformat() for t in daemon.plan(experiment_id, hours)]


# ------------------------------------------------------------------ the pages' data


def slo_seconds(settings: Any) -> float | None:
    """`recovery.slo` from aftershock settings (a model or their JSON), in seconds."""
    if settings is None:
        return None
    recovery = getattr(settings, "recovery", None)
    if recovery is not None:
        slo = recovery.slo
        return slo.total_seconds() if slo is not None else None
    value = (
        ((settings or {}).get("recovery") or {}).get("slo") if isinstance(settings, dict) else None
    )
    try:
        return parse_duration(value).total_seconds() if value is not None else None
    except ValueError:
        return None


def card(daemon: Daemon, experiment_id: str, item: Entry, *, fire_count: int = 3) -> Card:
    """One experiment with its last runs, from the catalog and the history."""
    loaded = item.loaded
    plan = schedules(daemon, experiment_id, item)
    since = time.time() - RATE_DAYS * 86400
    try:  # the catalog, banners and schedules still show while the history cannot be read
        rows = daemon.store.run_page(experiment_id, STRIP_RUNS)
        counts = daemon.store.outcome_counts(experiment_id, since)
        history_error = ""
    except StoreError as exc:
        rows, counts, history_error = [], {}, str(exc)
    return Card(
        id=experiment_id,
        title=loaded.title if loaded else None,
        file=str(item.path),
        enabled=bool(loaded and loaded.settings.enabled),
        valid=loaded is not None,
        stale=item.stale,
        problems=list(item.problems),
        schedule=plan.effective.describe() if plan.effective else None,
        catalog_schedule=plan.catalog.describe() if plan.catalog else None,
        overridden=plan.overridden,
        next_run=daemon.next_run(experiment_id),
        fires=fires(daemon, experiment_id, plan.effective, fire_count)
        if loaded and loaded.settings.enabled
        else [],
        running=item.running,
        tags=list(loaded.experiment.tags) if loaded else [],
        namespaces=namespaces(loaded.raw) if loaded else [],
        slo=slo_seconds(loaded.settings) if loaded else None,
        runs=[RunSummary.of(r, rec) for r, rec in rows],
        rate=PassRate(counts, RATE_DAYS),
        history_error=history_error,
    )


def history(daemon: Daemon, experiment_id: str, page: int, size: int) -> History:
    total = daemon.store.count_runs(experiment_id)
    pages = max(1, -(-total // size))
    page = min(max(page, 1), pages)
    rows = daemon.store.run_page(experiment_id, size, (page - 1) * size)
    return History([RunSummary.of(r, rec) for r, rec in rows], page, size, total)


def trend(daemon: Daemon, experiment_id: str, count: int) -> list[RunSummary]:
    return [RunSummary.of(r, rec) for r, rec in daemon.store.run_page(experiment_id, count)]


def file_text(daemon: Daemon, item: Entry) -> str | None:
    """The experiment in force (as loaded, not the disk file, which may hold an invalid
    edit), with every secret value masked as in journals: a file may declare secrets inline."""
    if item.loaded is None:
        return None
    raw = item.loaded.raw
    needles = sensitive_values(
        {},
        None,
        raw.get("configuration"),
        raw_secrets=raw.get("secrets"),
        environ=daemon.environ,
    )
    text = json.dumps(redact(raw, needles), indent=2, ensure_ascii=False, default=str)
    return text if len(text) <= FILE_LIMIT else text[:FILE_LIMIT] + "\n… (truncated)"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, tuple):  # ready floors: every one must hold
        return " and ".join(dict.fromkeys(str(v) for v in value)) or "none"
    if isinstance(value, list | frozenset | set):
        return ", ".join(str(v) for v in sorted(value, key=str)) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


LIMIT_NAMES = (  # (label, settings.safety field, blast_radius field, Limits field)
    ("max pods per run", "max_pods", "max_pods", "max_pods"),
    ("max percent of a workload", "max_percent", "max_percent", "max_percent"),
    ("min ready replicas", "min_ready_replicas", "min_ready_replicas", "min_ready"),
    (
        "require workload ready",
        "require_workload_ready",
        "require_workload_ready",
        "require_workload_ready",
    ),
    ("respect PodDisruptionBudgets", "respect_pdb", "respect_pdb", "respect_pdb"),
    ("cooldown per workload", "cooldown", "cooldown", "cooldown"),
    (
        "max disruptions per day",
        "max_disruptions_per_day",
        "max_disruptions_per_day",
        "max_disruptions_per_day",
    ),
    ("on limit", "on_limit", "on_limit", "on_limit"),
)


def limits(daemon: Daemon, item: Entry) -> list[Limit]:
    """Global settings beside the experiment's own, and the stricter one in force."""
    safety = daemon.settings.safety
    if item.loaded is None:
        return [
            Limit(label, _show(getattr(safety, g)), None, _show(getattr(safety, g)))
            for label, g, _, _ in LIMIT_NAMES
        ]
    radius = item.loaded.settings.blast_radius
    force = effective_limits(safety, radius, daemon.settings.kube.namespace)
    out = []
    for label, global_field, own_field, force_field in LIMIT_NAMES:
        own = getattr(radius, own_field)
        out.append(
            Limit(
                label,
                _show(getattr(safety, global_field)),
                None if own is None else _show(own),
                _show(getattr(force, force_field)),
            )
        )
    out.append(
        Limit(
            "dry-run",
            _show(safety.dry_run),
            None if item.loaded.settings.dry_run is None else _show(item.loaded.settings.dry_run),
            _show(safety.dry_run or bool(item.loaded.settings.dry_run)),
        )
    )
    return out
