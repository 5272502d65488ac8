"""Demo-like data for the page tests and bench/pages_render.py: journals shaped like a real
one (see a greeter-kill run of `aftershock demo`), run summaries and experiment cards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from daemon.api.pages.model import Card, PassRate, RunSummary

START = 1_796_015_513.0  # 2026-11-30 05:11:53 UTC
OUTCOMES = ["passed", "passed", "deviated", "passed", "refused", "not_steady", "failed", "aborted"]


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat()


def record(name: str, kind: str, at: float, took: float, **extra: Any) -> dict[str, Any]:
    return {
        "activity": {"type": kind, "name": name, "provider": {"type": "python"}},
        "output": extra.pop("output", True),
        "status": extra.pop("status", "succeeded"),
        "start": _iso(at),
        "end": _iso(at + took),
        "duration": took,
        **extra,
    }


def journal(
    *, activities: int = 2, start: float = START, text: str = "", deviated: bool = True
) -> dict[str, Any]:
    """A journal: hypothesis before, `activities` method activities (a kill first), probes
    during, hypothesis after (not met when `deviated`), one disruption and its recovery.
    `text` goes wherever stored text is shown (names, outputs, errors, decisions)."""
    t = start
    before = [record(f"webapp-answers{text}", "probe", t + 0.001, 0.002, tolerance_met=True)]
    method, during = [], []
    t += 0.01
    for i in range(activities):
        kind = "action" if i % 2 == 0 else "probe"
        method.append(record(f"step-{i}{text}", kind, t, 0.02, output=[f"pod-{i}{text}"]))
        during.append(
            record(f"webapp-answers{text}", "probe", t + 0.005, 0.003, tolerance_met=True)
        )
        t += 0.025
    after_ok = not deviated
    after = [
        record(
            f"webapp-answers{text}",
            "probe",
            t + 0.01,
            3.0,
            tolerance_met=after_ok,
            status="succeeded" if after_ok else "failed",
            exception=[] if after_ok else [f"ActivityFailed: took too long{text}\n"],
        )
    ]
    kill_at = start + 0.03
    return {
        "start": _iso(start),
        "end": _iso(t + 3.1),
        "status": "failed" if deviated else "completed",
        "deviated": deviated,
        "steady_states": {
            "before": {"steady_state_met": True, "probes": before},
            "during": [{"steady_state_met": True, "probes": [p]} for p in during],
            "after": {"steady_state_met": after_ok, "probes": after},
        },
        "run": method,
        "rollbacks": [record(f"undo{text}", "action", t + 3.2, 0.01)],
        "aftershock": {
            "hypothesis_checks": [
                {"phase": "before", "met": True, "errored": False},
                {"phase": "during", "met": True, "errored": False},
                {"phase": "after", "met": after_ok, "errored": not after_ok},
            ],
            "plans": [
                {
                    "request": {"mode": "fixed", "value": 1},
                    "candidates": ["shop/greeter-a", "shop/greeter-b", "shop/greeter-c"],
                    "decisions": [
                        {
                            "subject": "run",
                            "rule": "request",
                            "verdict": "kept",
                            "detail": "mode fixed 1 of 3 eligible -> 1",
                        },
                        {
                            "subject": f"shop/greeter-a{text}",
                            "rule": "workload_limits",
                            "verdict": "kept",
                            "detail": f"shop/Deployment/greeter: ready 3/3, floor 1{text}",
                        },
                    ],
                    "targets": ["shop/greeter-a"],
                    "refused": None,
                }
            ],
            "disrupted": [
                {
                    "pod": f"shop/greeter-a{text}",
                    "workload": "shop/Deployment/greeter",
                    "method": "delete",
                    "at": kill_at,
                    "state": "done",
                }
            ],
            "recovery": [
                {
                    "namespace": "shop",
                    "kind": "Deployment",
                    "name": "greeter",
                    "recovered": True,
                    "recovery_seconds": 2.809145,
                    "first_replacement_created_seconds": 0.4,
                    "first_replacement_ready_seconds": 2.5,
                    "timed_out": False,
                    "error": text,
                }
            ],
            "errors": [f"an error{text}"] if text else [],
            "outcome": "deviated" if deviated else "passed",
            "reason": "hypothesis_after" if deviated else "",
        },
    }


def row(run_id: str = "greeter-kill-1", *, reason: str = "hypothesis_after") -> dict[str, Any]:
    """A history row as the API shows it (RunRow.as_json())."""
    return {
        "id": run_id,
        "experiment": "greeter-kill",
        "trigger": "schedule",
        "state": "done",
        "outcome": "deviated",
        "reason": reason,
        "dry_run": False,
        "started_at": _iso(START),
        "ended_at": _iso(START + 3.2),
        "duration_seconds": 3.2,
    }


def summaries(count: int, *, text: str = "", start: float = START) -> list[RunSummary]:
    """`count` runs, newest first, every outcome represented."""
    out = []
    for i in range(count):
        outcome = OUTCOMES[i % len(OUTCOMES)]
        at = start - i * 600
        out.append(
            RunSummary(
                f"greeter-kill-{i}{text}",
                outcome,
                f"reason{text}" if outcome != "passed" else "",
                "schedule",
                False,
                at,
                at + 4,
                None if outcome == "refused" else 1.5 + (i % 7) * 0.4,
                outcome == "deviated" and i % 3 == 0,
            )
        )
    return out


def card(
    experiment_id: str = "greeter-kill",
    *,
    runs: int = 30,
    text: str = "",
    overridden: bool = True,
    now: datetime | None = None,
) -> Card:
    now = now or datetime.fromtimestamp(START + 60, UTC)
    return Card(
        id=experiment_id,
        title=f"Terminating one greeter pod does not impact users{text}",
        file=f"/catalog/{experiment_id}.yaml",
        enabled=True,
        valid=True,
        stale=bool(text),
        problems=[f"problem{text}"] if text else [],
        schedule="every 5.0s ±1s (Europe/Paris)" if overridden else "cron '*/15 9-17 * * mon-fri'",
        catalog_schedule="cron '*/15 9-17 * * mon-fri' ±2m (Europe/Paris)",
        overridden=overridden,
        next_run=now + timedelta(seconds=5),
        fires=[now + timedelta(seconds=5 * (i + 1)) for i in range(3)],
        running=None,
        tags=["kubernetes", "shop", f"greeter{text}"],
        namespaces=[f"shop{text}"],
        slo=60.0,
        runs=summaries(runs, text=text),
        rate=PassRate({"passed": 10, "deviated": 3, "refused": 4, "failed": 1}),
    )
