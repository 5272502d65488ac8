"""The daily digest: a pure function of the run history and an injected clock, plus the small
scheduler that sends it once a day at the configured local time.

Per experiment over the last 24 h: runs by outcome, pass rate (passed over runs that were not
refused), recovery p50/p95 against the SLO, refusals by reason, and the next planned run.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from daemon.durations import parse_duration
from daemon.logging import get_logger
from daemon.notify.config import DigestSettings
from daemon.notify.payload import iso

log = get_logger("aftershock.notify.digest")
SCHEMA = "aftershock.digest/v1"
WINDOW = timedelta(hours=24)
MAX_RUNS = 5000  # read from the history per digest: a bounded job
MAX_WAIT = 60.0  # the scheduler re-checks the clock at least this often (clock jumps)


@dataclass(frozen=True)
class DigestRun:
    experiment: str
    outcome: str
    reason: str
    ended_at: float
    recovery_seconds: tuple[float, ...] = ()
    slo_seconds: float | None = None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest rank: a value that was really measured, never an interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


@dataclass
class _Tally:
    runs: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    recovery: list[float] = field(default_factory=list)
    slo: float | None = None
    slo_at: float = -math.inf


def compute_digest(
    runs: Iterable[DigestRun],
    next_runs: Mapping[str, float | None],
    *,
    now: float,
    max_experiments: int = 50,
) -> dict[str, Any]:
    start = now - WINDOW.total_seconds()
    tallies: dict[str, _Tally] = {name: _Tally() for name in next_runs}
    for run in runs:
        if not start <= run.ended_at <= now:
            continue
        tally = tallies.setdefault(run.experiment, _Tally())
        tally.runs[run.outcome] += 1
        if run.outcome == "refused":
            tally.refusals[run.reason or "unknown"] += 1
        tally.recovery.extend(run.recovery_seconds)
        if run.ended_at >= tally.slo_at:  # the SLO the latest run was judged against
            tally.slo, tally.slo_at = run.slo_seconds, run.ended_at
    items: list[dict[str, Any]] = []
    for name, tally in tallies.items():
        judged = sum(tally.runs.values()) - tally.runs["refused"]
        p50, p95 = percentile(tally.recovery, 0.5), percentile(tally.recovery, 0.95)
        within = (
            None
            if tally.slo is None or not tally.recovery
            else sum(1 for s in tally.recovery if s <= tally.slo) / len(tally.recovery)
        )
        upcoming = next_runs.get(name)
        items.append(
            {
                "experiment": name,
                "runs": dict(sorted(tally.runs.items())),
                "total": sum(tally.runs.values()),
                "pass_rate": tally.runs["passed"] / judged if judged else None,
                "recovery": {
                    "count": len(tally.recovery),
                    "p50": p50,
                    "p95": p95,
                    "slo_seconds": tally.slo,
                    "within_slo": within,
                },
                "refusals": dict(sorted(tally.refusals.items())),
                "next_run": iso(upcoming) if upcoming is not None else None,
            }
        )
    totals: Counter[str] = Counter()
    for tally in tallies.values():
        totals.update(tally.runs)
    # Worst first: what needs attention leads the message.
    items.sort(
        key=lambda e: (
            -(e["runs"].get("deviated", 0) + e["runs"].get("failed", 0)),
            -e["total"],
            e["experiment"],
        )
    )
    return {
        "schema": SCHEMA,
        "id": f"digest-{datetime.fromtimestamp(now, UTC):%Y%m%dT%H%M}",
        "window": {"from": iso(start), "to": iso(now)},
        "experiments": items[:max_experiments],
        "omitted": max(0, len(items) - max_experiments),
        "totals": dict(sorted(totals.items())),
    }


def next_fire(now: float, at: tuple[int, int], timezone: str) -> float:
    """The next `at` local time strictly after `now`; a time skipped by DST moves forward."""
    zone = ZoneInfo(timezone)
    local = datetime.fromtimestamp(now, zone)
    day = local.date()
    for offset in range(3):
        wall = datetime.combine(day + timedelta(days=offset), datetime.min.time(), zone).replace(
            hour=at[0], minute=at[1]
        )
        # Normalise through UTC: a wall time in a DST gap lands after it.
        candidate = wall.astimezone(UTC).timestamp()
        if candidate > now:
            return candidate
    raise AssertionError("unreachable: a day always has the time of day")


class DigestScheduler:
    """One thread; waits on an Event until the next fire time (re-checked each minute)."""

    def __init__(
        self,
        settings: DigestSettings,
        *,
        build: Callable[[float], dict[str, Any] | None],  # None: not this replica's to send
        deliver: Callable[[dict[str, Any]], None],
        clock: Callable[[], float] = time.time,
        poll: float = MAX_WAIT,
    ):
        self.settings = settings
        self.poll = poll
        self.build = build
        self.deliver = deliver
        self.clock = clock
        self.next_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="aftershock-digest", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, deadline: float) -> None:
        self._stop.set()
        self._thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _loop(self) -> None:
        at, zone = self.settings.hour_minute, self.settings.timezone
        self.next_at = next_fire(self.clock(), at, zone)
        while not self._stop.is_set():
            now = self.clock()
            if now < self.next_at:
                self._stop.wait(min(self.poll, self.next_at - now))
                continue
            try:
                payload = self.build(now)
                if payload is not None:
                    self.deliver(payload)
            except Exception as exc:
                log.exception("digest not built", error=f"{type(exc).__name__}: {exc}")
            self.next_at = next_fire(now, at, zone)


def history_runs(store: Any, now: float) -> list[DigestRun]:
    """The last 24 h from the history store (RunRow, journal and the run's settings)."""
    start = now - WINDOW.total_seconds()
    out = []
    for row in store.runs(None, MAX_RUNS):
        if row.state != "done" or row.ended_at is None or row.ended_at < start:
            continue
        found = store.run(row.id)
        journal = (found[1] if found else None) or {}
        record = journal.get("aftershock") or {}
        seconds = tuple(
            float(r["recovery_seconds"])
            for r in record.get("recovery") or []
            if r.get("recovery_seconds") is not None
        )
        settings = store.run_settings(row.id) or {}
        slo = (settings.get("recovery") or {}).get("slo")
        out.append(
            DigestRun(
                row.experiment,
                row.outcome or "failed",
                row.reason or "",
                row.ended_at,
                seconds,
                _seconds(slo),
            )
        )
    return out


def _seconds(value: Any) -> float | None:
    """The SLO as the run's settings were stored (a duration like "10s"); None when unset."""
    if value is None:
        return None
    try:
        return parse_duration(value).total_seconds()
    except ValueError:
        return None
