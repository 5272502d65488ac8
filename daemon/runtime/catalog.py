"""The catalog as the daemon holds it: one `Entry` per experiment id, hot reload, and the
read-only `CatalogView` the API and pages use (copies, taken under the lock)."""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from daemon.catalog.extension import Schedule
from daemon.catalog.loader import LoadedExperiment, LoadOptions, load_catalog
from daemon.catalog.problems import SAFETY_CODES
from daemon.catalog.problems import error as problem_error
from daemon.logging import get_logger
from daemon.observability.metrics import ExperimentState
from daemon.outcomes import Outcome
from daemon.settings import Settings

log = get_logger("aftershock.daemon")
# The demo runs the real catalog on accelerated schedules: (experiment id, schedule) -> schedule.
ScheduleOverride = Callable[[str, Schedule], Schedule]


def stored_outcome(value: Any) -> Outcome | None:
    """An outcome read back from the history (None: none, or one this version does not know)."""
    try:
        return Outcome(value) if value is not None else None
    except ValueError:
        log.warning("unknown outcome in the run history", outcome=value)
        return None


@dataclass
class Entry:
    """One experiment id in the catalog: the version that runs and what is wrong with edits."""

    loaded: LoadedExperiment | None
    path: Path
    problems: list[str] = field(default_factory=list)  # of the file as it is now on disk
    last_outcome: Outcome | None = None
    last_reason: str | None = None
    last_run: float | None = None
    last_pass: float | None = None
    last_run_id: str | None = None
    last_recovery: dict[str, float] = field(default_factory=dict)  # ns/workload -> seconds
    recoveries: list[float] = field(default_factory=list)
    running: str | None = None  # run id in flight
    removed: bool = False  # the file is gone; kept only until the run in flight ends

    @property
    def stale(self) -> bool:
        """An invalid edit is on disk while the last good version keeps running."""
        return self.loaded is not None and bool(self.problems)

    def copy(self) -> Entry:
        """A snapshot for readers: the mutable parts copied (the loaded experiment is shared,
        it is never changed in place: a reload replaces it)."""
        return replace(
            self,
            problems=list(self.problems),
            last_recovery=dict(self.last_recovery),
            recoveries=list(self.recoveries),
        )


class Catalog:
    """Entries by experiment id, guarded by `lock`; only the daemon's parts change them."""

    def __init__(self, settings: Settings, path: Path):
        self.settings = settings
        self.path = path
        self.lock = threading.RLock()
        self.entries: dict[str, Entry] = {}
        self.problems: list[str] = []
        self.invalid_files = 0
        self.restored: dict[str, dict[str, Any]] = {}  # last runs read from the history
        self._signature: tuple[Any, ...] | None = None

    # ------------------------------------------------------------------ reload

    def _signature_now(self) -> tuple[Any, ...]:
        try:
            items = []
            for path in sorted(self.path.iterdir()):
                with contextlib.suppress(OSError):
                    stat = path.stat()
                    items.append((path.name, stat.st_mtime_ns, stat.st_size))
            return tuple(items)
        except OSError as exc:
            return (("error", str(exc)),)

    def reload(self, *, force: bool = False) -> bool:
        """Load the directory again when it changed (or `force`); True when it was loaded."""
        signature = self._signature_now()
        if not force and signature == self._signature:
            return False
        self._signature = signature
        report = load_catalog([self.path], LoadOptions.from_settings(self.settings))
        with self.lock:
            seen: set[str] = set()
            invalid = 0
            for result in report.files:
                if not result.ok:
                    invalid += 1
                if result.experiment_id is not None:
                    seen.add(result.experiment_id)
                    if report.index is None:
                        self._index_gone(result)
                    self._apply(result.experiment_id, result)
            for gone in set(self.entries) - seen:
                if self.entries[gone].running is None:
                    del self.entries[gone]
                else:  # unscheduled now; dropped when its run ends
                    self.entries[gone].removed = True
            self.invalid_files = invalid
            self.problems = [p.render() for p in report.problems] + (
                [f"{report.index.path}: {p.render()}" for p in report.index.problems]
                if report.index
                else []
            )
            self.problems += [  # looser-than-global limits, ignored extensions
                f"{result.path}: {p.render()}"
                for result in report.files
                for p in result.problems
                if p.code in SAFETY_CODES
            ]
            loaded = sum(1 for e in self.entries.values() if e.loaded)
        log.info("catalog loaded", experiments=loaded, invalid_files=invalid)
        return True

    def _index_gone(self, result: Any) -> None:
        """catalog.yaml vanished while in force (I7): an experiment whose limits came from it
        keeps its last good version (stale) rather than running under looser global limits.
        Limits in the file's own extension, a restored index or a restart end this."""
        entry = self.entries.get(result.experiment_id)
        if (
            entry is not None
            and entry.loaded is not None
            and entry.loaded.settings_source == "catalog.yaml"
            and result.loaded is not None
            and result.loaded.settings_source != "catalog.yaml"
        ):
            result.problems.append(
                problem_error(
                    "its limits came from catalog.yaml, which is gone; the last good version "
                    "stays in force until the index is restored, the limits move into the "
                    "file's aftershock extension, or the daemon restarts"
                )
            )

    def _apply(self, experiment_id: str, result: Any) -> None:
        """One file's new state; an invalid edit keeps the last good version in force."""
        problems = [p.render() for p in result.problems if p.severity.value == "error"]
        entry = self.entries.get(experiment_id)
        if entry is not None:
            entry.removed = False
        if result.ok and result.loaded is not None:
            if entry is None:
                entry = self.entries[experiment_id] = Entry(result.loaded, result.path)
                self._apply_restored(experiment_id, entry)
            entry.loaded, entry.path, entry.problems = result.loaded, result.path, []
        elif entry is None:
            self.entries[experiment_id] = Entry(None, result.path, problems)
        else:
            if problems != entry.problems:
                log.error(
                    "invalid edit; the last good version stays in force",
                    experiment=experiment_id,
                    problems=problems[:5],
                )
            entry.problems = problems

    def _apply_restored(self, entry_id: str, entry: Entry) -> None:
        restored = self.restored.get(entry_id)
        if restored and entry.last_run is None:
            entry.last_outcome = stored_outcome(restored.get("outcome"))
            entry.last_run = restored.get("ended_at")
            entry.last_pass = restored.get("last_pass")

    # ------------------------------------------------------------------ runs

    def loaded(self, experiment_id: str) -> LoadedExperiment | None:
        """The version that runs now (None: unknown, invalid or removed)."""
        with self.lock:
            entry = self.entries.get(experiment_id)
            if entry is None or entry.removed:
                return None
            return entry.loaded

    def running(self, experiment_id: str) -> str | None:
        """The id of the experiment's run in flight, if any."""
        with self.lock:
            entry = self.entries.get(experiment_id)
            return entry.running if entry is not None else None

    def claim(self, experiment_id: str, run_id: str) -> LoadedExperiment | None:
        """Mark the experiment running `run_id`; None when it cannot run now (unknown,
        invalid, removed, or a run of it already in flight: never two at once)."""
        with self.lock:
            entry = self.entries.get(experiment_id)
            if entry is None or entry.loaded is None or entry.running is not None or entry.removed:
                return None
            entry.running = run_id
            return entry.loaded

    def release(self, experiment_id: str) -> None:
        """The run in flight is over; an entry whose file is gone is dropped now."""
        with self.lock:
            entry = self.entries.get(experiment_id)
            if entry is not None:
                entry.running = None
                if entry.removed:
                    del self.entries[experiment_id]

    def record_end(
        self,
        experiment_id: str,
        run_id: str,
        outcome: Outcome,
        reason: str,
        *,
        ended: float,
        recovery: Sequence[dict[str, Any]] = (),
    ) -> LoadedExperiment | None:
        """The run's end in the entry (read by the API, the metrics collector and the next
        trigger); returns the experiment's version, for the listeners' `RunEnded`."""
        with self.lock:
            entry = self.entries.get(experiment_id)
            if entry is None:
                return None
            entry.last_outcome, entry.last_reason = outcome, reason
            entry.last_run, entry.last_run_id = ended, run_id
            if outcome == Outcome.PASSED:
                entry.last_pass = ended
            for item in recovery:
                seconds = item.get("recovery_seconds")
                if seconds is not None:
                    entry.last_recovery[f"{item['namespace']}/{item['name']}"] = seconds
                    entry.recoveries = [*entry.recoveries[-99:], seconds]
            return entry.loaded

    # ------------------------------------------------------------------ reads

    def schedules(self, override: ScheduleOverride | None) -> dict[str, Schedule]:
        """Every enabled experiment's schedule in force (after the demo's `override`)."""
        wanted: dict[str, Schedule] = {}
        with self.lock:
            for experiment_id, entry in self.entries.items():
                loaded = entry.loaded
                if loaded is None or not loaded.settings.enabled or entry.removed:
                    continue
                schedule = loaded.settings.schedule
                if schedule is None or not schedule.enabled:
                    continue
                if override is not None:
                    schedule = override(experiment_id, schedule)
                wanted[experiment_id] = schedule
        return wanted

    def longest_cooldown(self) -> timedelta | None:
        """The longest cooldown in effect (global and every loaded experiment's): pruning
        keeps the disruption rows it is computed from. None while a file does not load (or
        the index cannot be read): its cooldown is unknown, so no row may be pruned."""
        with self.lock:
            if self.invalid_files or self.problems:
                return None
            own = [
                e.loaded.settings.blast_radius.cooldown
                for e in self.entries.values()
                if e.loaded is not None and e.loaded.settings.blast_radius.cooldown is not None
            ]
        return max([self.settings.safety.cooldown, *own])


class CatalogView:
    """What the API and the pages may read: consistent copies, never the live entries."""

    def __init__(self, catalog: Catalog):
        self._catalog = catalog

    def experiments(self) -> list[tuple[str, Entry]]:
        """Every entry, sorted by id, copied under one lock (a consistent view)."""
        with self._catalog.lock:
            return [(i, e.copy()) for i, e in sorted(self._catalog.entries.items())]

    def get(self, experiment_id: str) -> Entry | None:
        with self._catalog.lock:
            entry = self._catalog.entries.get(experiment_id)
            return entry.copy() if entry is not None else None

    def states(
        self, next_run: Callable[[str], datetime | None]
    ) -> tuple[dict[str, ExperimentState], dict[str, int]]:
        """What the metrics collector exports: per experiment, and the catalog's counts."""
        experiments = {}
        counts = {"loaded": 0, "invalid": self._catalog.invalid_files, "disabled": 0}
        for experiment_id, entry in self.experiments():
            if entry.loaded is not None:
                counts["loaded"] += 1
                counts["disabled"] += int(not entry.loaded.settings.enabled)
            upcoming = next_run(experiment_id)
            experiments[experiment_id] = ExperimentState(
                last_outcome=entry.last_outcome,
                last_run=entry.last_run,
                next_run=upcoming.timestamp() if upcoming else None,
                last_pass=entry.last_pass,
            )
        return experiments, counts

    @property
    def problems(self) -> list[str]:
        with self._catalog.lock:
            return copy.copy(self._catalog.problems)

    @property
    def invalid_files(self) -> int:
        return self._catalog.invalid_files

    def __len__(self) -> int:
        with self._catalog.lock:
            return len(self._catalog.entries)
