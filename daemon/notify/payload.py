"""The `aftershock.run/v1` payload: one documented schema for webhooks and CloudEvents data.

A pure function of the finished run (and the recovery SLO it was judged against), so the same
run always renders the same message; docs/notifications.md documents every field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from daemon.listeners import RunEnded
from daemon.outcomes import Outcome
from daemon.records import WorkloadKey

SCHEMA = "aftershock.run/v1"

REASONS = {
    "hypothesis_before": "the steady state did not hold before anything was disrupted",
    "hypothesis_during": "the steady state broke while the disruption was going on",
    "hypothesis_after": "the steady state did not come back after the disruption",
    "recovery_slo": "the workload recovered more slowly than its SLO",
    "recovery_timeout": "the workload did not recover within the recovery timeout",
    "recovery_unmeasured": "recovery could not be measured, so it cannot be vouched for",
    "stop_condition": "a stop condition fired",
    "stop_conditions_unavailable": "the stop conditions could not be evaluated (no Prometheus)",
    "halted": "chaos was halted",
    "shutdown": "the daemon was shutting down",
    "shutdown_timeout": "the run did not end within the shutdown bound",
    "leadership_lost": "this replica lost leadership",
    "interrupted": "the daemon stopped during the run",
    "internal_error": "an internal error ended the run",
    "max_concurrent_runs": "too many runs were already in progress",
}


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def _failed_probes(journal: dict[str, Any], phase: str) -> list[str]:
    states = journal.get("steady_states") or {}
    found = states.get(phase)
    runs = found if isinstance(found, list) else [found]
    out = []
    for state in runs:
        for probe in (state or {}).get("probes") or []:
            if probe.get("tolerance_met") is False or probe.get("status") == "failed":
                name = str((probe.get("activity") or {}).get("name") or "a probe")
                output = probe.get("output")
                if isinstance(output, dict) and "status" in output:
                    out.append(f"{name} answered {output['status']}")
                else:
                    out.append(f"{name} was not met")
    return list(dict.fromkeys(out))


def reason_text(run: RunEnded) -> str:
    """The reason in plain words, with the failing probes when a hypothesis broke."""
    if run.outcome is Outcome.PASSED:
        return "the system tolerated the disruption"
    words = REASONS.get(run.reason) or run.reason.replace("_", " ") or "no reason recorded"
    phase = run.reason.removeprefix("hypothesis_")
    if phase in ("before", "during", "after"):
        probes = _failed_probes(run.journal, phase)
        if probes:
            words += ": " + "; ".join(probes[:3])
    detail = run.record.get("error") or run.record.get("detail")
    if run.outcome in (Outcome.FAILED, Outcome.REFUSED) and detail:
        words += f": {str(detail)[:300]}"
    return words


def _hypothesis(record: dict[str, Any]) -> dict[str, bool | None]:
    seen: dict[str, bool | None] = {"before": None, "during": None, "after": None}
    for check in record.get("hypothesis_checks") or []:
        phase = check.get("phase")
        if phase in seen:
            met = bool(check.get("met"))
            seen[phase] = met if seen[phase] is None else bool(seen[phase]) and met
    return seen


def run_url(public_url: str | None, run_id: str) -> str | None:
    return f"{public_url}/runs/{run_id}" if public_url else None


def run_payload(
    run: RunEnded, *, public_url: str | None, slo_seconds: float | None
) -> dict[str, Any]:
    record = run.record
    disruptions = []
    for item in record.get("disrupted") or []:
        try:
            key = WorkloadKey.parse(str(item.get("workload", "")))
        except ValueError:  # an older or partial record: still notified, without the workload
            key = WorkloadKey("", "", "")
        namespace, workload = key.namespace, key.name
        disruptions.append(
            {
                "namespace": namespace,
                "workload": workload,
                "pod": str(item.get("pod") or "").rpartition("/")[2],  # journaled as ns/name
                "method": item.get("method"),
            }
        )
    recovery = []
    for item in record.get("recovery") or []:
        seconds = item.get("recovery_seconds")
        met = None if seconds is None or slo_seconds is None else seconds <= slo_seconds
        if item.get("timed_out"):
            met = False
        recovery.append(
            {
                "namespace": item.get("namespace"),
                "workload": item.get("name"),
                "seconds": None if seconds is None else round(float(seconds), 3),
                "slo_seconds": slo_seconds,
                "met": met,
            }
        )
    return {
        "schema": SCHEMA,
        "experiment": run.experiment_id,
        "title": run.title,
        "run_id": run.run_id,
        "outcome": str(run.outcome),
        "reason": run.reason,
        "reason_text": reason_text(run),
        "trigger": run.trigger,
        "dry_run": run.dry_run,
        "started_at": iso(run.started_at),
        "ended_at": iso(run.ended_at),
        "tags": list(run.tags),
        "disruptions": disruptions,
        "recovery": recovery,
        "hypothesis": _hypothesis(record),
        "url": run_url(public_url, run.run_id),
    }


def sample_run(now: float) -> RunEnded:
    """What `aftershock notify test` sends: a deviated run, marked as a test by its id."""
    return RunEnded(
        experiment_id="aftershock-notify-test",
        run_id="notify-test",
        outcome=Outcome.DEVIATED,
        reason="hypothesis_after",
        trigger="test",
        dry_run=True,
        started_at=now - 12.0,
        ended_at=now,
        title="Test message from aftershock notify test (nothing was disrupted)",
        journal={
            "steady_states": {
                "after": {
                    "probes": [
                        {
                            "activity": {"name": "webapp-must-respond"},
                            "output": {"status": 503},
                            "tolerance_met": False,
                            "status": "succeeded",
                        }
                    ]
                }
            },
            "aftershock": {
                "disrupted": [
                    {
                        "pod": "shop/greeter-7d4b9-x2x9k",
                        "workload": "shop/Deployment/greeter",
                        "method": "delete",
                    }
                ],
                "recovery": [
                    {
                        "namespace": "shop",
                        "name": "greeter",
                        "recovery_seconds": 2.8,
                        "timed_out": False,
                    }
                ],
                "hypothesis_checks": [
                    {"phase": "before", "met": True, "errored": False},
                    {"phase": "after", "met": False, "errored": False},
                ],
            },
        },
    )
