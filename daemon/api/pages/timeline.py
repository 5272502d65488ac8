"""A run's journal as a timeline: what happened, in what order, measured from its start.

Pure: journal in, rows out. The run page draws these rows (svg.timeline) and the tests
check their order against the journal itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from daemon.api.pages.fmt import moment

RowKind = Literal["probe", "action", "rollback", "disruption", "replacement", "ready", "slo"]


@dataclass(frozen=True)
class Row:
    kind: RowKind
    label: str  # what it is, in words (escaped by the renderer)
    start: float  # seconds since the run started
    end: float  # == start for instants
    ok: bool | None = None  # probe tolerance met / activity succeeded / ready within the SLO
    phase: str = ""  # hypothesis before|during|after, method, rollbacks
    detail: str = ""
    status: str = ""  # the journal's activity status (succeeded, failed, ...)
    type: str = ""  # the activity's type (probe, action)
    since: float | None = None  # ready rows: when the workload was disrupted (the outage)

    @property
    def instant(self) -> bool:
        return self.kind in ("disruption", "replacement", "ready", "slo")


@dataclass(frozen=True)
class Timeline:
    origin: float | None  # epoch seconds of the run's start; None when the journal has none
    rows: list[Row]

    @property
    def span(self) -> float:
        return max([0.0, *(r.end for r in self.rows)])


def _stamp(value: Any) -> float | None:
    found = moment(value) if isinstance(value, str) else None
    return found.timestamp() if found else None


def _activity_rows(records: Any, phase: str, origin: float) -> list[Row]:
    out: list[Row] = []
    for record in records if isinstance(records, list) else []:
        if not isinstance(record, dict):
            continue
        found = record.get("activity")
        activity: dict[str, Any] = found if isinstance(found, dict) else {}
        start = _stamp(record.get("start"))
        if start is None:
            continue
        end = _stamp(record.get("end")) or start
        name = str(activity.get("name") or "(unnamed)")
        status = str(record.get("status") or "")
        kind: RowKind
        if phase.startswith("hypothesis"):
            met = record.get("tolerance_met")
            ok = bool(met) if met is not None else status == "succeeded"
            kind = "probe"
        else:
            ok = status == "succeeded"
            kind = "rollback" if phase == "rollbacks" else "action"
        exception = record.get("exception")
        error = str(exception[-1]).strip() if isinstance(exception, list) and exception else ""
        if not error and record.get("aftershock_tolerance"):
            error = str(record["aftershock_tolerance"])
        out.append(
            Row(
                kind,
                name,
                start - origin,
                max(end, start) - origin,
                ok,
                phase,
                error,
                status,
                str(activity.get("type") or ""),
            )
        )
    return out


def _hypothesis(journal: dict[str, Any], origin: float) -> list[Row]:
    states = journal.get("steady_states") or {}
    if not isinstance(states, dict):
        return []
    rows: list[Row] = []
    for phase in ("before", "after"):
        state = states.get(phase)
        if isinstance(state, dict):
            rows += _activity_rows(state.get("probes"), f"hypothesis {phase}", origin)
    for state in states.get("during") or []:
        if isinstance(state, dict):
            rows += _activity_rows(state.get("probes"), "hypothesis during", origin)
    return rows


def _recovery(record: dict[str, Any], origin: float, slo: float | None) -> list[Row]:
    """Disruptions, then per workload: replacement created (first seen by the watch), first
    replacement ready, ready again, the SLO mark."""
    rows: list[Row] = []
    at_by_workload: dict[str, float] = {}
    for d in record.get("disrupted") or []:
        if not isinstance(d, dict) or not isinstance(d.get("at"), int | float):
            continue
        at = float(d["at"]) - origin
        workload = str(d.get("workload", ""))
        at_by_workload[workload] = max(at, at_by_workload.get(workload, at))
        state = str(d.get("state", "done"))
        rows.append(
            Row(
                "disruption",
                f"{d.get('method', 'disrupt')} {d.get('pod', '')}",
                at,
                at,
                state == "done",
                "method",
                "" if state == "done" else f"state: {state}",
            )
        )
    for r in record.get("recovery") or []:
        if not isinstance(r, dict):
            continue
        workload = f"{r.get('namespace')}/{r.get('kind')}/{r.get('name')}"
        if workload not in at_by_workload:
            continue
        at = at_by_workload[workload]
        name = f"{r.get('namespace')}/{r.get('name')}"
        created = r.get("first_replacement_created_seconds")
        first = r.get("first_replacement_ready_seconds")
        took = r.get("recovery_seconds")
        if isinstance(created, int | float):
            rows.append(
                Row(
                    "replacement",
                    f"replacement created: {name}",
                    at + created,
                    at + created,
                    detail=f"{created:.2f} s after the disruption",
                )
            )
        if isinstance(first, int | float):
            rows.append(
                Row(
                    "replacement",
                    f"first replacement ready: {name}",
                    at + first,
                    at + first,
                    detail=f"{first:.2f} s after the disruption",
                )
            )
        if isinstance(took, int | float):
            within = None if slo is None else took <= slo
            rows.append(
                Row(
                    "ready",
                    f"ready again: {name}",
                    at + took,
                    at + took,
                    within,
                    detail=f"recovered {took:.2f} s after the disruption",
                    since=at,
                )
            )
        elif r.get("timed_out"):
            rows.append(Row("ready", f"not ready again: {name}", at, at, False, detail="timed out"))
        if slo is not None:
            rows.append(Row("slo", f"recovery SLO for {name}", at + slo, at + slo))
    return rows


def build(journal: dict[str, Any] | None, *, slo: float | None = None) -> Timeline:
    """Every row of the run in time order (ties keep the journal's order)."""
    journal = journal or {}
    origin = _stamp(journal.get("start"))
    if origin is None:
        return Timeline(None, [])
    record = journal.get("aftershock") if isinstance(journal.get("aftershock"), dict) else {}
    rows = (
        _hypothesis(journal, origin)
        + _activity_rows(journal.get("run"), "method", origin)
        + _activity_rows(journal.get("rollbacks"), "rollbacks", origin)
        + _recovery(record or {}, origin, slo)
    )
    rows.sort(key=lambda r: r.start)
    return Timeline(origin, rows)
