"""Render time of the pages at size: a run with 200 activities, an experiment with 1,000
runs (history read from a real SQLite history, then rendered), and the status page.

Budgets (issue 17): the 200-activity run page and the 1,000-run experiment page each
render (history reads included) in <= 100 ms on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.api import catalog_view as view
from daemon.api.pages import experiment, run, status
from daemon.api.pages.experiment import Limit
from daemon.api.pages.layout import Banners
from daemon.api.pages.model import PassRate
from daemon.store.history import HistoryStore
from tests import pages_data


def timed(what: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """(median ms, max ms, last result)."""
    took, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = what()
        took.append((time.perf_counter() - started) * 1000)
    return statistics.median(took), max(took), result


def fill(store: HistoryStore, experiment_id: str, runs: int) -> None:
    for i in range(runs):
        at = pages_data.START - (runs - i) * 600
        run_id = f"{experiment_id}-{i:05d}"
        journal = pages_data.journal(activities=2, start=at, deviated=i % 4 == 0)
        store.start_run(
            run_id,
            experiment_id,
            trigger="schedule",
            dry_run=False,
            experiment_doc={"title": "t"},
            started_at=at,
        )
        store.finish_run(
            run_id,
            outcome=pages_data.OUTCOMES[i % len(pages_data.OUTCOMES)],
            reason="",
            journal=journal,
            ended_at=at + 4,
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--activities", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    now = datetime.now(UTC)

    journal = pages_data.journal(activities=args.activities)
    row = pages_data.row()
    median, worst, html = timed(
        lambda: run.render(row, journal, now=now, slo=60.0, state=Banners()), args.repeat
    )
    print(
        f"run page, {args.activities} activities: median {median:.1f} ms, max {worst:.1f} ms, "
        f"{len(html) / 1024:.0f} KiB of HTML"
    )

    with tempfile.TemporaryDirectory() as directory:
        store = HistoryStore(
            Path(directory) / "history.db",
            retention=timedelta(days=3650),
            max_runs_per_experiment=args.runs * 2,
        ).open()
        fill(store, "greeter-kill", args.runs)
        daemon = SimpleNamespace(store=store)
        card = pages_data.card()

        def experiment_page(page: int) -> str:
            runs = view.trend(daemon, "greeter-kill", view.STRIP_RUNS)  # type: ignore[arg-type]
            rate = PassRate(store.outcome_counts("greeter-kill", 0.0))
            shown = dataclasses.replace(card, runs=runs, rate=rate)
            return experiment.render(
                shown,
                state=Banners(),
                now=now,
                file_text="title: t\n" * 40,
                upcoming=card.fires * 3,
                limits=[Limit("max pods per run", "10", "1", "1")] * 9,
                history=view.history(daemon, "greeter-kill", page, 50),  # type: ignore[arg-type]
                trend_runs=view.trend(daemon, "greeter-kill", 200),  # type: ignore[arg-type]
            )

        for page in (1, args.runs // 50):
            median, worst, html = timed(lambda page=page: experiment_page(page), args.repeat)
            print(
                f"experiment page, {args.runs} runs, history page {page}: median {median:.1f} ms, "
                f"max {worst:.1f} ms (history reads included), {len(html) / 1024:.0f} KiB"
            )

        def status_page() -> str:
            runs = view.trend(daemon, "greeter-kill", view.STRIP_RUNS)  # type: ignore[arg-type]
            rate = PassRate(store.outcome_counts("greeter-kill", 0.0))
            cards = [
                dataclasses.replace(card, id=f"experiment-{i}", runs=runs, rate=rate)
                for i in range(20)
            ]
            return status.render(cards, state=Banners(), now=now)

        median, worst, html = timed(status_page, args.repeat)
        print(
            f"status page, 20 experiments x 30 runs (one history, {args.runs} runs): "
            f"median {median:.1f} ms, max {worst:.1f} ms, {len(html) / 1024:.0f} KiB"
        )
        store.close()


if __name__ == "__main__":
    main()
