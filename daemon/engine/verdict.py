"""The run's verdict: a pure function of what the run found (docs/running.md, "Outcomes").

The runner gathers the facts once the run is over (rollbacks played) and asks `decide`;
nothing here reads a clock, a lock or the cluster, so the table in
tests/unit/test_verdict.py is the whole rule. The order is the priority: a fact that makes
the run unable to vouch for its result (fatal error, untracked disruption, refusal, stop)
wins over what the hypothesis said; among the hypothesis and recovery findings, the
earliest failure is the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from daemon.outcomes import Outcome
from daemon.records import Refusal


@dataclass(frozen=True)
class RunFacts:
    """What the run found; every field has the value of a run where nothing happened."""

    fatal: tuple[Outcome, str] | None = None  # ends the run whatever else happened
    untracked: str = ""  # why a disruption the ledger counted is not journaled ('' none)
    refusal: str | None = None  # the guard's (or a re-check's) reason, when one refused
    refusal_detail: str = ""
    injected: bool = False  # did the run's budget spend anything?
    stopped: bool = False  # halt, stop condition, shutdown, lost lease
    stop_reason: str = ""
    not_steady: bool = False  # the hypothesis before the method was not met
    status: str | None = None  # chaoslib's journal status
    deviated: bool = False  # chaoslib's journal `deviated` (the hypothesis after)
    during_failed: bool = False  # a check during the method was not met
    method_failed: bool = False  # a method activity failed (not by a refusal)
    after_unobservable: bool = False  # the API did not answer a probe after the method
    recovery: Sequence[Mapping[str, Any]] = ()  # the record's `recovery` results
    recovery_slo: float | None = None  # seconds; None: no SLO


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str
    deviated: bool  # chaoslib's `deviated` as journaled (a failed `during` check counts)
    error: str = ""  # for the record's `error`, when the verdict itself explains the run
    refusal: dict[str, Any] | None = field(default=None)  # the record's `refusal`, if any


def recovery_reason(recovery: Sequence[Mapping[str, Any]], slo: float | None) -> str:
    """'' when every tracked workload recovered in time; else the first problem, by kind."""
    for result in recovery:
        if not result.get("observed", True) or (
            result["error"] and result["measured"] and not result["recovered"]
        ):
            return "recovery_unmeasured"  # outage, forbidden, gone: we cannot vouch for it
    for result in recovery:
        if result["timed_out"]:
            return "recovery_timeout"
    for result in recovery:
        seconds = result["recovery_seconds"]
        if slo is not None and seconds is not None and seconds > slo:
            return "recovery_slo"
    return ""


def untracked(spent: int, journaled: int) -> str:
    """'' when the journal's `disrupted` holds every disruption the ledger counted (its
    intents, from any activity, timed out or not); else why the run cannot vouch for them."""
    if spent <= journaled:
        return ""
    return (
        f"{spent} disruption(s) recorded as intents but {journaled} journaled: a provider "
        "was still sending when the run stopped waiting for it; recovery not measured"
    )


def decide(facts: RunFacts) -> Verdict:  # noqa: PLR0912 - one rule per branch, in priority order
    """The outcome and its reason; total and deterministic (tests/unit/test_verdict.py)."""
    f = facts

    def verdict(
        outcome: Outcome,
        reason: str,
        *,
        deviated: bool | None = None,
        error: str = "",
        refusal: dict[str, Any] | None = None,
    ) -> Verdict:
        chaoslib_deviated = f.deviated if deviated is None else deviated
        return Verdict(outcome, reason, chaoslib_deviated, error=error, refusal=refusal)

    if f.fatal is not None:
        return verdict(Outcome(f.fatal[0]), f.fatal[1])
    if f.untracked:
        return verdict(Outcome.FAILED, "recovery_unmeasured", error=f.untracked)
    if f.refusal is not None and not f.injected:
        return verdict(Outcome.REFUSED, f.refusal)  # nothing was injected
    if f.stopped:
        return verdict(Outcome.ABORTED, f.stop_reason)
    if f.refusal is not None:
        # Chaos was injected, then the run's budget (or live state) said no more.
        refusal = Refusal(reason=f.refusal, detail=f.refusal_detail).to_json()
        if f.method_failed:
            return verdict(Outcome.FAILED, "activity_failed", refusal=refusal)
        return verdict(Outcome.ABORTED, "budget_exhausted", refusal=refusal)
    if f.not_steady and f.status == "failed":
        return verdict(Outcome.FAILED, "probe_failed")  # an errored probe is no verdict
    if f.not_steady:
        return verdict(Outcome.NOT_STEADY, "hypothesis_before")
    if f.method_failed:
        return verdict(Outcome.FAILED, "activity_failed")
    if f.status == "failed" and not f.deviated and not f.during_failed:
        return verdict(Outcome.FAILED, "probe_failed")
    recovery = recovery_reason(f.recovery, f.recovery_slo)
    if f.after_unobservable:
        # The API did not answer the probe (an outage): no verdict, not a deviation (I10).
        unmeasured = recovery == "recovery_unmeasured"
        return verdict(Outcome.FAILED, "recovery_unmeasured" if unmeasured else "probe_failed")
    if f.deviated:
        return verdict(Outcome.DEVIATED, "hypothesis_after")
    if f.during_failed:
        return verdict(Outcome.DEVIATED, "hypothesis_during", deviated=True)
    if recovery == "recovery_unmeasured":
        return verdict(Outcome.FAILED, recovery)
    if recovery:
        return verdict(Outcome.DEVIATED, recovery)
    return verdict(Outcome.PASSED, "")
