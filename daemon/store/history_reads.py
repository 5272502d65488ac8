"""The run history's reads: runs and pages of runs, journals, disruptions, interrupted runs,
the guard's view of the past. A mixin of `HistoryStore` (daemon/store/history.py), which owns
the connection and its one transaction helper `_tx`."""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from daemon.records import WorkloadKey
from daemon.safety.budget import ScaleBase
from daemon.safety.guard import History
from daemon.store.rows import _COLUMNS, RunRow, _records, _row


class HistoryReads:
    def _tx(self, what: str) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # HistoryStore's

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

    def scale_bases(self, run_id: str) -> dict[WorkloadKey, ScaleBase]:
        """The scale-up bound's base of every Deployment the run scaled (its replay's)."""
        with self._tx("reading a run's scale bases") as db:
            rows = db.execute(
                "SELECT namespace, name, first_seen, scaled_from FROM scale_bases WHERE run_id=?",
                (run_id,),
            ).fetchall()
        return {
            WorkloadKey(str(ns), "Deployment", str(name)): ScaleBase(
                int(first), None if scaled is None else int(scaled)
            )
            for ns, name, first, scaled in rows
        }

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
