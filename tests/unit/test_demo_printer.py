"""The demo's output: identical refusals folded per experiment, a skip told once, and a
summary table with runs by outcome and the recovery p50."""

from __future__ import annotations

import re

from daemon.demo.printer import DemoPrinter
from daemon.listeners import RunEnded
from daemon.outcomes import Outcome

T0 = 1_800_000_000.0


def _run(experiment: str, outcome: Outcome, reason: str, at: float, **record: object) -> RunEnded:
    return RunEnded(
        experiment_id=experiment,
        run_id=f"{experiment}-{at}",
        outcome=outcome,
        reason=reason,
        trigger="schedule",
        dry_run=False,
        started_at=at - 1,
        ended_at=at,
        journal={"aftershock": dict(record)},
    )


def test_repeated_refusals_are_folded_and_the_summary_counts_them() -> None:
    out: list[str] = []
    printer = DemoPrinter(out.append)
    recovered = {"recovery": [{"name": "greeter", "recovery_seconds": 2.0}]}
    printer.run_ended(_run("a", Outcome.PASSED, "", T0, **recovered))
    for i in range(4):
        printer.run_ended(_run("a", Outcome.REFUSED, "cooldown", T0 + 10 + i))
    printer.run_ended(_run("b", Outcome.REFUSED, "cooldown", T0 + 20))
    printer.run_ended(_run("a", Outcome.REFUSED, "max_disruptions_per_day", T0 + 30))
    printer.skipped("b", "already_running")
    printer.skipped("b", "already_running")
    printer.run_ended(
        _run("a", Outcome.PASSED, "", T0 + 40, recovery=[{"name": "g", "recovery_seconds": 4.0}])
    )
    printer.finish(["where"])
    said = [re.sub(r"^\d\d:\d\d:\d\d  ", "", line) for line in out]
    assert said[:6] == [
        "a: passed recovered greeter in 2.00s",
        "a: refused (cooldown)",
        "b: refused (cooldown)",
        "a: refused (cooldown) \u00d74 since " + out[1][:8],
        "a: refused (max_disruptions_per_day)",
        "b: skipped, its previous run is still going or waiting for a run slot (every such "
        'skip is counted in aftershock_guard_refusals_total{reason="already_running"}; the '
        "summary shows them)",
    ]
    assert said[6] == "a: passed recovered g in 4.00s"
    table = said[said.index("") + 1 : said.index("where")]
    assert re.split(r"\s+", table[0]) == [
        "experiment",
        "passed",
        "refused",
        "skipped",
        "recovery",
        "p50",
    ]
    assert re.split(r"\s+", table[1]) == ["a", "2", "5", "0", "3.00s"]
    assert re.split(r"\s+", table[2]) == ["b", "0", "1", "2", "-"]
