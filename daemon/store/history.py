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
from datetime import timedelta
from pathlib import Path
from typing import Any

from daemon.records import WorkloadKey
from daemon.safety.budget import Intent, ScaleBase
from daemon.store.history_reads import HistoryReads
from daemon.store.rows import RunRow, StoreError

__all__ = ["HistoryStore", "RunRow", "StoreError"]

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
CREATE TABLE IF NOT EXISTS scale_bases (  -- a running run's scale-up bound, for its replay
    run_id TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,                -- the Deployment
    first_seen INTEGER NOT NULL,       -- the replicas the run first read
    scaled_from INTEGER,               -- those its first scale that landed left from
    PRIMARY KEY (run_id, namespace, name)
);
"""
LONGEST_KEPT = "prune.longest_cooldown_seconds"  # state key: see prune
# Columns added after the first release; an older history file gets them on open.
RUN_MIGRATIONS = {"settings": "ALTER TABLE runs ADD COLUMN settings TEXT"}
MIGRATIONS = {
    "state": "ALTER TABLE disruptions ADD COLUMN state TEXT NOT NULL DEFAULT 'done'",
    "uid": "ALTER TABLE disruptions ADD COLUMN uid TEXT NOT NULL DEFAULT ''",
    "detail": "ALTER TABLE disruptions ADD COLUMN detail TEXT NOT NULL DEFAULT ''",
}


# How long a transaction waits for the write lock another process holds (a backup, an
# operator's sqlite3): retried in slices, so a shutdown deadline set meanwhile cuts it.
BUSY_PATIENCE = 5.0
BUSY_SLICE_MS = 50  # SQLite's own busy wait within one attempt


def _busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code in {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED} or "locked" in str(exc)


class HistoryStore(HistoryReads):
    """The connection, the schema and the writes; the reads are HistoryReads'."""

    def __init__(self, path: Path, *, retention: timedelta, max_runs_per_experiment: int):
        self.path = path
        self.retention = retention
        self.max_runs = max_runs_per_experiment
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.error = ""  # last failure, for /readyz; cleared by the next success
        # The shutdown bound (monotonic), once set: no transaction waits past it, for the
        # lock of another process or of another thread of this one (docs/daemon.md).
        self.deadline: float | None = None

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
            db.execute(f"PRAGMA busy_timeout={BUSY_SLICE_MS}")  # then sliced: see _begin
        except (sqlite3.Error, OSError) as exc:
            self.error = f"cannot open run history {self.path}: {exc}"
            raise StoreError(self.error) from None
        self._db = db
        return self

    def close(self) -> None:
        """Close, unless a transaction still holds the connection at the shutdown bound (the
        process is exiting: SQLite rolls an unfinished transaction back)."""
        if not self._lock.acquire(timeout=self._patience()):
            return
        try:
            if self._db is not None:
                self._db.close()
                self._db = None
        finally:
            self._lock.release()

    def _limit(self) -> float:
        limit = time.monotonic() + BUSY_PATIENCE
        return limit if self.deadline is None else min(limit, self.deadline)

    def _patience(self) -> float:
        return max(0.0, self._limit() - time.monotonic())

    @contextmanager
    def _tx(self, what: str) -> Iterator[sqlite3.Connection]:
        limit = self._limit()
        if not self._lock.acquire(timeout=max(0.0, limit - time.monotonic())):
            self.error = f"run history {self.path}: {what} failed: another write held it " + (
                "until the shutdown bound" if self.deadline is not None else "too long"
            )
            raise StoreError(self.error)
        try:
            if self._db is None:
                self.error = f"run history {self.path} is not open"
                raise StoreError(self.error)
            try:
                self._begin(self._db, limit)
                yield self._db
                self._db.execute("COMMIT")
            except (sqlite3.Error, OSError, TypeError, ValueError) as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self.error = f"run history {self.path}: {what} failed: {exc}"
                raise StoreError(self.error) from None
            self.error = ""
        finally:
            self._lock.release()

    def _begin(self, db: sqlite3.Connection, limit: float) -> None:
        """BEGIN IMMEDIATE, retried while another process holds the write lock, until
        `limit` (BUSY_PATIENCE, or the shutdown bound if that comes first)."""
        while True:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or time.monotonic() >= limit:
                    raise
                time.sleep(0.02)
            else:
                return

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
        cooldown: timedelta = timedelta(0),
    ) -> None:
        """`settings`: the run's effective aftershock settings (JSON-able), so that a restart
        replays an interrupted run's rollbacks under that run's own limits. `cooldown`: the
        run's, remembered for pruning (see prune) before the run can disrupt anything."""
        with self._tx("recording the start of a run") as db:
            self._remember_cooldown(db, cooldown.total_seconds())
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
    ) -> bool:
        """Record a run ended, once: False (nothing written) when it already was, by another
        replica sharing the history that took it for interrupted, so its first end stays."""
        with self._tx("recording the end of a run") as db:
            ended = db.execute(
                "UPDATE runs SET state='done', outcome=?, reason=?, ended_at=?, journal=?"
                " WHERE id=? AND state='running'",
                (outcome, reason, ended_at, json.dumps(journal, default=str), run_id),
            ).rowcount
            if not ended:  # recorded ended already (another replica on a shared history)
                return False
            db.execute("DELETE FROM scale_bases WHERE run_id=?", (run_id,))
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
        return True

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

    def record_scale_base(self, run_id: str, workload: WorkloadKey, base: ScaleBase) -> None:
        """The base of a run's scale-up bound for a Deployment (its first read, then what its
        first landed scale left from), so the replay of its rollbacks after a crash cannot
        compound the run's own scale-ups. Each field keeps its first value; the run's end
        deletes the row."""
        namespace, _, name = workload
        with self._tx("recording the replicas a scale is bounded from") as db:
            db.execute(
                "INSERT INTO scale_bases VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (run_id, namespace, name) DO UPDATE"
                " SET scaled_from = COALESCE(scale_bases.scaled_from, excluded.scaled_from)",
                (run_id, namespace, name, base.first_seen, base.scaled_from),
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

    def prune(self, now: float, *, keep_disruptions: timedelta | None = timedelta(0)) -> int:
        """Retention by age, then by count per experiment; running rows are kept.

        Disruption rows are what cooldown and the daily budget are computed from, so they are
        kept for the longest of: store.retention, 24 h, `keep_disruptions` (the caller's
        longest cooldown in effect) and the longest one ever in effect (every run's, at its
        start, and every prune's, kept in the history: an experiment removed for a while, or
        added, run and removed between two prunes, keeps its rows). `keep_disruptions` None:
        a cooldown in effect is unknown (a file that does not load), no row is pruned.
        Pruning never shortens a cooldown."""
        cutoff = now - self.retention.total_seconds()
        with self._tx("pruning") as db:
            longest = self._remember_cooldown(
                db, 0.0 if keep_disruptions is None else keep_disruptions.total_seconds()
            )
            keep = max(self.retention.total_seconds(), 86400.0, longest)
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
            if keep_disruptions is not None:
                db.execute("DELETE FROM disruptions WHERE at < ?", (now - keep,))
            db.execute(
                "DELETE FROM scale_bases WHERE run_id NOT IN"
                " (SELECT id FROM runs WHERE state='running')"
            )
        return int(removed)

    @staticmethod
    def _remember_cooldown(db: sqlite3.Connection, seconds: float) -> float:
        """The longest cooldown ever in effect (every run's at its start, every prune's),
        raised to `seconds`; returned."""
        found = db.execute("SELECT value FROM state WHERE key=?", (LONGEST_KEPT,)).fetchone()
        known = float(json.loads(found[0])) if found is not None else 0.0
        if seconds > known:
            db.execute(
                "INSERT INTO state VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (LONGEST_KEPT, json.dumps(seconds)),
            )
        return max(known, seconds)

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
