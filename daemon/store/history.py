"""SQLite run history on a volume.

A run row is written `running` *before* any chaos, so a crash leaves evidence: on start-up
such a row is an interrupted run whose rollbacks must be played. Disruptions are rows of
their own, written as an *intent* before the request is sent and settled after, so cooldown
and the daily budget survive restarts, even a crash between the intent and the act. Every
failure surfaces as `StoreError`; the daemon refuses to inject while the store cannot
record (docs/daemon.md, "Run history and restarts").
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from daemon.records import WorkloadKey
from daemon.safety.budget import Intent
from daemon.safety.guard import History

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    trigger TEXT NOT NULL,
    state TEXT NOT NULL,               -- running | done
    outcome TEXT,
    reason TEXT,
    dry_run INTEGER NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    experiment_doc TEXT NOT NULL,      -- the experiment as run (rollbacks for interrupted runs)
    journal TEXT,
    settings TEXT                      -- its aftershock settings as run (limits for a replay)
);
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs (experiment, started_at);
CREATE TABLE IF NOT EXISTS disruptions (
    run_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    kind TEXT NOT NULL,
    workload TEXT NOT NULL,
    pod TEXT NOT NULL,
    method TEXT NOT NULL,
    at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'done',  -- intent | done | failed | uncertain
    uid TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS disruptions_by_time ON disruptions (at);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Columns added after the first release; an older history file gets them on open.
RUN_MIGRATIONS = {"settings": "ALTER TABLE runs ADD COLUMN settings TEXT"}
MIGRATIONS = {
    "state": "ALTER TABLE disruptions ADD COLUMN state TEXT NOT NULL DEFAULT 'done'",
    "uid": "ALTER TABLE disruptions ADD COLUMN uid TEXT NOT NULL DEFAULT ''",
    "detail": "ALTER TABLE disruptions ADD COLUMN detail TEXT NOT NULL DEFAULT ''",
}


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


_COLUMNS = "id, experiment, trigger, state, outcome, reason, dry_run, started_at, ended_at"


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


class HistoryStore:
    def __init__(self, path: Path, *, retention: timedelta, max_runs_per_experiment: int):
        self.path = path
        self.retention = retention
        self.max_runs = max_runs_per_experiment
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.error = ""  # last failure, for /readyz; cleared by the next success

    # ------------------------------------------------------------------ plumbing

    def open(self) -> HistoryStore:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(disruptions)")}
            for column, statement in MIGRATIONS.items():
                if column not in columns:
                    db.execute(statement)
            run_columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            for column, statement in RUN_MIGRATIONS.items():
                if column not in run_columns:
                    db.execute(statement)
        except (sqlite3.Error, OSError) as exc:
            self.error = f"cannot open run history {self.path}: {exc}"
            raise StoreError(self.error) from None
        self._db = db
        return self

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @contextmanager
    def _tx(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db is None:
                self.error = f"run history {self.path} is not open"
                raise StoreError(self.error)
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                self._db.execute("COMMIT")
            except (sqlite3.Error, OSError, TypeError, ValueError) as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self.error = f"run history {self.path}: {what} failed: {exc}"
                raise StoreError(self.error) from None
            self.error = ""

    def check(self) -> str:
        """'' when the history can be written, else why not (probed with a real write)."""
        if self._db is None:  # never opened (or closed): the volume may be back
            try:
                self.open()
            except StoreError as exc:
                return str(exc)
        try:
            with self._tx("health check") as db:
                db.execute("CREATE TABLE IF NOT EXISTS health (at REAL)")
                db.execute("DELETE FROM health")
                db.execute("INSERT INTO health VALUES (?)", (time.time(),))
        except StoreError as exc:
            return str(exc)
        return ""

    # ------------------------------------------------------------------ writes

    def start_run(
        self,
        run_id: str,
        experiment: str,
        *,
        trigger: str,
        dry_run: bool,
        experiment_doc: dict[str, Any],
        started_at: float,
        settings: dict[str, Any] | None = None,
    ) -> None:
        """`settings`: the run's effective aftershock settings (JSON-able), so that a restart
        replays an interrupted run's rollbacks under that run's own limits."""
        with self._tx("recording the start of a run") as db:
            db.execute(
                "INSERT INTO runs (id, experiment, trigger, state, dry_run, started_at,"
                " experiment_doc, settings) VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
                (
                    run_id,
                    experiment,
                    trigger,
                    int(dry_run),
                    started_at,
                    json.dumps(experiment_doc, default=str),
                    None if settings is None else json.dumps(settings, default=str),
                ),
            )

    def finish_run(
        self,
        run_id: str,
        *,
        outcome: str,
        reason: str,
        journal: dict[str, Any],
        ended_at: float,
        disruptions: list[dict[str, Any]] | None = None,
    ) -> None:
        with self._tx("recording the end of a run") as db:
            db.execute(
                "UPDATE runs SET state='done', outcome=?, reason=?, ended_at=?, journal=?"
                " WHERE id=?",
                (outcome, reason, ended_at, json.dumps(journal, default=str), run_id),
            )
            db.executemany(
                "INSERT INTO disruptions (run_id, namespace, kind, workload, pod, method, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        d["namespace"],
                        d["kind"],
                        d["workload"],
                        d["pod"],
                        d["method"],
                        d["at"],
                    )
                    for d in disruptions or []
                ],
            )

    def record_intent(self, intent: Intent) -> int:
        """A disruption about to be requested (I4): committed before the request is sent, so
        a crash between the two still counts for cooldown and the daily budget."""
        namespace, kind, workload = intent.workload
        with self._tx("recording a disruption intent") as db:
            cursor = db.execute(
                "INSERT INTO disruptions (run_id, namespace, kind, workload, pod, method, at,"
                " state, uid) VALUES (?, ?, ?, ?, ?, ?, ?, 'intent', ?)",
                (
                    intent.run_id,
                    namespace,
                    kind,
                    workload,
                    intent.pod,
                    intent.method,
                    intent.at,
                    intent.uid,
                ),
            )
            return int(cursor.lastrowid or 0)

    def settle_disruption(self, intent_id: int, state: str, detail: str = "") -> None:
        """done | failed (the server refused: not counted) | uncertain (counted)."""
        with self._tx("settling a disruption") as db:
            db.execute(
                "UPDATE disruptions SET state=?, detail=? WHERE rowid=?",
                (state, detail[:500], intent_id),
            )

    def settle_pending(self, run_id: str, detail: str) -> int:
        """Intents a crash left unsettled become `uncertain`: still counted, and said so."""
        with self._tx("settling pending intents") as db:
            changed = db.execute(
                "UPDATE disruptions SET state='uncertain', detail=?"
                " WHERE run_id=? AND state='intent'",
                (detail[:500], run_id),
            ).rowcount
        return int(changed)

    def disruptions(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Disruption rows (newest last), for the API and for tests."""
        query = (
            "SELECT rowid, run_id, namespace, kind, workload, pod, method, at, state, uid, detail"
            " FROM disruptions"
        )
        args: tuple[Any, ...] = ()
        if run_id is not None:
            query += " WHERE run_id=?"
            args = (run_id,)
        keys = [
            "id",
            "run_id",
            "namespace",
            "kind",
            "workload",
            "pod",
            "method",
            "at",
            "state",
            "uid",
            "detail",
        ]
        with self._tx("listing disruptions") as db:
            rows = db.execute(query + " ORDER BY at, rowid", args).fetchall()
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def prune(self, now: float, *, keep_disruptions: timedelta = timedelta(0)) -> int:
        """Retention by age, then by count per experiment; running rows are kept.

        Disruption rows are what cooldown and the daily budget are computed from, so they are
        kept for the longest of: store.retention, 24 h and `keep_disruptions` (the caller's
        longest cooldown in effect). Pruning never shortens a cooldown."""
        cutoff = now - self.retention.total_seconds()
        keep = max(self.retention.total_seconds(), 86400.0, keep_disruptions.total_seconds())
        with self._tx("pruning") as db:
            removed = db.execute(
                "DELETE FROM runs WHERE state='done' AND started_at < ?", (cutoff,)
            ).rowcount
            removed += db.execute(
                "DELETE FROM runs WHERE state='done' AND id IN ("
                " SELECT id FROM (SELECT id, ROW_NUMBER() OVER ("
                "  PARTITION BY experiment ORDER BY started_at DESC) AS n FROM runs"
                "  WHERE state='done') WHERE n > ?)",
                (self.max_runs,),
            ).rowcount
            db.execute("DELETE FROM disruptions WHERE at < ?", (now - keep,))
        return int(removed)

    def set_state(self, key: str, value: Any) -> None:
        """Small durable facts (the API halt switch) that must survive a restart."""
        with self._tx(f"saving {key}") as db:
            db.execute(
                "INSERT INTO state VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, json.dumps(value, default=str)),
            )

    def get_state(self, key: str) -> Any:
        with self._tx(f"reading {key}") as db:
            found = db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return json.loads(found[0]) if found else None

    # ------------------------------------------------------------------ reads

    def interrupted(self) -> list[tuple[RunRow, dict[str, Any]]]:
        with self._tx("reading interrupted runs") as db:
            rows = db.execute(
                f"SELECT {_COLUMNS}, experiment_doc FROM runs WHERE state='running'"  # noqa: S608 - constant column list
                " ORDER BY started_at"
            ).fetchall()
        return [(_row(r[:-1]), json.loads(r[-1])) for r in rows]

    def run_settings(self, run_id: str) -> dict[str, Any] | None:
        """The aftershock settings a run was started with (None: not recorded, older file)."""
        with self._tx("reading a run's settings") as db:
            found = db.execute("SELECT settings FROM runs WHERE id=?", (run_id,)).fetchone()
        if found is None or found[0] is None:
            return None
        value = json.loads(found[0])
        return value if isinstance(value, dict) else None

    def runs(self, experiment: str | None = None, limit: int = 50) -> list[RunRow]:
        query = f"SELECT {_COLUMNS} FROM runs"  # noqa: S608 - constant column list
        args: tuple[Any, ...] = ()
        if experiment:
            query += " WHERE experiment=?"
            args = (experiment,)
        query += " ORDER BY started_at DESC LIMIT ?"
        with self._tx("listing runs") as db:
            return [_row(r) for r in db.execute(query, (*args, limit)).fetchall()]

    def run_page(
        self, experiment: str, limit: int, offset: int = 0
    ) -> list[tuple[RunRow, list[dict[str, Any]]]]:
        """Newest first, each with its journal's recovery records only (for the status and
        experiment pages: the journals themselves stay on disk)."""
        with self._tx("listing runs") as db:
            found = db.execute(
                f"SELECT {_COLUMNS}, json_extract(journal, '$.aftershock.recovery')"  # noqa: S608 - constant column list
                " FROM runs WHERE experiment=? ORDER BY started_at DESC LIMIT ? OFFSET ?",
                (experiment, limit, offset),
            ).fetchall()
        return [(_row(r[:-1]), _records(r[-1])) for r in found]

    def outcome_counts(self, experiment: str, since: float) -> dict[str, int]:
        """Finished runs started at or after `since`, by outcome."""
        with self._tx("counting outcomes") as db:
            return {
                str(outcome): int(count)
                for outcome, count in db.execute(
                    "SELECT outcome, COUNT(*) FROM runs WHERE experiment=? AND started_at>=?"
                    " AND state='done' GROUP BY outcome",
                    (experiment, since),
                )
            }

    def count_runs(self, experiment: str) -> int:
        with self._tx("counting runs") as db:
            (count,) = db.execute(
                "SELECT COUNT(*) FROM runs WHERE experiment=?", (experiment,)
            ).fetchone()
        return int(count)

    def run(self, run_id: str) -> tuple[RunRow, dict[str, Any] | None] | None:
        with self._tx("reading a run") as db:
            found = db.execute(
                f"SELECT {_COLUMNS}, journal FROM runs WHERE id=?",  # noqa: S608 - constant column list
                (run_id,),
            ).fetchone()
        if found is None:
            return None
        return _row(found[:-1]), (json.loads(found[-1]) if found[-1] else None)

    def last_runs(self) -> dict[str, dict[str, Any]]:
        """Per experiment: last finished outcome and time, last pass, last recovery per workload."""
        out: dict[str, dict[str, Any]] = {}
        with self._tx("reading the last runs") as db:
            for experiment, outcome, ended, dry_run in db.execute(
                "SELECT experiment, outcome, ended_at, dry_run FROM runs r WHERE state='done'"
                " AND ended_at = (SELECT MAX(ended_at) FROM runs WHERE experiment=r.experiment"
                " AND state='done')"
            ):
                out[experiment] = {"outcome": outcome, "ended_at": ended, "dry_run": bool(dry_run)}
            for experiment, ended in db.execute(
                "SELECT experiment, MAX(ended_at) FROM runs WHERE outcome='passed'"
                " GROUP BY experiment"
            ):
                out.setdefault(experiment, {})["last_pass"] = ended
        return out

    def guard_history(self, now: datetime) -> History:
        since = now.timestamp() - 86400
        with self._tx("reading disruption history") as db:
            last = {
                WorkloadKey(ns, kind, name): datetime.fromtimestamp(at, UTC)
                for ns, kind, name, at in db.execute(
                    "SELECT namespace, kind, workload, MAX(at) FROM disruptions"
                    " WHERE state != 'failed' GROUP BY namespace, kind, workload"
                )
            }
            (count,) = db.execute(
                "SELECT COUNT(*) FROM disruptions WHERE at >= ? AND state != 'failed'", (since,)
            ).fetchone()
        return History(last_disruption=last, disrupted_last_24h=int(count))
