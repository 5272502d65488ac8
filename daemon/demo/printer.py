"""The demo's output: one line per finished run, repeated refusals folded, a summary table.

Registered with the daemon as a run listener (`daemon.listeners.RunListener`), and with the
scheduler's events for the runs skipped because the experiment's previous run was still
going (told once; the summary counts them).
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from daemon.listeners import RunEnded
from daemon.outcomes import Outcome

_SECONDS = re.compile(r"\b(\d+:\d\d:\d\d)\.\d+")  # timedelta's microseconds, noise here


def clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def describe(experiment_id: str, record: dict[str, Any]) -> str:
    """`greeter-kill: deviated (hypothesis_during) killed greeter-x recovered greeter in 2.1s`."""
    parts = [f"{experiment_id}: {record.get('outcome')}"]
    if record.get("reason"):
        parts.append(f"({record['reason']})")
    refusals = [
        p["refused"]
        for p in record.get("plans") or []
        if isinstance(p, dict) and isinstance(p.get("refused"), dict)
    ]
    if record.get("outcome") == "refused" and refusals and refusals[-1].get("detail"):
        parts.append("- " + _SECONDS.sub(r"\1", str(refusals[-1]["detail"])))
    killed = [d["pod"] for d in record.get("disrupted") or [] if isinstance(d, dict)]
    if killed:
        parts.append("killed " + ", ".join(killed))
    held = [
        c["query"]
        for c in record.get("stop_conditions") or []
        if isinstance(c, dict) and c.get("result") == "true"
    ]
    if held and record.get("reason") == "stop_condition":
        when = "after the kill" if killed else "before any kill"
        parts.append(f"- stop condition held {when}: {held[0]}")
    for recovery in record.get("recovery") or []:
        if recovery.get("recovery_seconds") is not None:
            parts.append(f"recovered {recovery['name']} in {recovery['recovery_seconds']:.2f}s")
        elif recovery.get("timed_out"):
            parts.append(f"{recovery['name']} did not recover in time")
    return " ".join(parts)


@dataclass
class _Streak:
    key: tuple[str, str]
    count: int
    since: float


class DemoPrinter:
    """A `RunListener`; thread-safe, as runs end on the daemon's threads."""

    name = "demo-printer"

    def __init__(self, echo: Callable[[str], None]):
        self.echo = echo
        self.outcomes: dict[str, Counter[str]] = defaultdict(Counter)
        self.recoveries: dict[str, list[float]] = defaultdict(list)
        self.skips: Counter[str] = Counter()
        self._streaks: dict[str, _Streak] = {}
        self._lock = threading.Lock()

    def run_ended(self, run: RunEnded) -> None:
        record = {**run.record, "outcome": str(run.outcome), "reason": run.reason}
        with self._lock:
            self.outcomes[run.experiment_id][str(run.outcome)] += 1
            self.recoveries[run.experiment_id] += [
                r["recovery_seconds"]
                for r in record.get("recovery") or []
                if r.get("recovery_seconds") is not None
            ]
            key = (str(run.outcome), run.reason)
            streak = self._streaks.get(run.experiment_id)
            if run.outcome == Outcome.REFUSED and streak is not None and streak.key == key:
                streak.count += 1
                return
            self._fold(run.experiment_id, run.ended_at)
            self.echo(f"{clock(run.ended_at)}  {describe(run.experiment_id, record)}")
            if run.outcome == Outcome.REFUSED:
                self._streaks[run.experiment_id] = _Streak(key, 1, run.ended_at)

    def skipped(self, experiment_id: str, reason: str) -> None:
        """A scheduler event (`daemon.scheduling.events`): told the first time only."""
        with self._lock:
            self.skips[experiment_id] += 1
            if sum(self.skips.values()) == 1:
                self.echo(
                    f"{clock(time.time())}  {experiment_id}: skipped, its previous run is still "
                    f"going or waiting for a run slot (every such skip is counted in "
                    f'aftershock_guard_refusals_total{{reason="{reason}"}}; '
                    "the summary shows them)"
                )

    def _fold(self, experiment_id: str, now: float) -> None:
        """The refusals repeated since the first one was printed, as one line, stamped now."""
        streak = self._streaks.pop(experiment_id, None)
        if streak is not None and streak.count > 1:
            outcome, reason = streak.key
            self.echo(
                f"{clock(now)}  {experiment_id}: {outcome} ({reason}) "
                f"×{streak.count} since {clock(streak.since)}"  # noqa: RUF001 - the times sign
            )

    def finish(self, where: list[str]) -> None:
        """Fold what is still open, then the summary table and where to look next."""
        with self._lock:
            for experiment_id in sorted(self._streaks):
                self._fold(experiment_id, time.time())
            for line in summary_table(self.outcomes, self.recoveries, self.skips):
                self.echo(line)
        for line in where:
            self.echo(line)


def summary_table(
    outcomes: dict[str, Counter[str]], recoveries: dict[str, list[float]], skips: Counter[str]
) -> list[str]:
    kinds = [o.value for o in Outcome if any(c[o.value] for c in outcomes.values())]
    experiments = sorted(set(outcomes) | set(skips))
    if not experiments:
        return ["no run finished"]
    width = max(len("experiment"), *(len(e) for e in experiments))
    header = ["experiment".ljust(width), *(k.rjust(max(len(k), 4)) for k in kinds)]
    header += ["skipped", "recovery p50"]
    lines = ["", "  ".join(header)]
    for experiment in experiments:
        seconds = recoveries.get(experiment) or []
        p50 = f"{statistics.median(seconds):.2f}s" if seconds else "-"
        row = [experiment.ljust(width)]
        row += [str(outcomes[experiment][k]).rjust(max(len(k), 4)) for k in kinds]
        row += [str(skips[experiment]).rjust(len("skipped")), p50.rjust(len("recovery p50"))]
        lines.append("  ".join(row))
    return lines
