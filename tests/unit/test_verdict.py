"""The verdict is a pure function of the run's facts (issue 13, item 5): one row per rule."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.engine.verdict import RunFacts, Verdict, decide, recovery_reason, untracked
from daemon.outcomes import Outcome


def _recovery(**overrides: Any) -> dict[str, Any]:
    result = {
        "observed": True,
        "error": "",
        "measured": True,
        "recovered": True,
        "timed_out": False,
        "recovery_seconds": 3.0,
    }
    return {**result, **overrides}


UNMEASURED = (_recovery(observed=False),)
TIMED_OUT = (_recovery(timed_out=True, recovered=False),)
SLOW = (_recovery(recovery_seconds=90.0),)

TABLE: list[tuple[str, RunFacts, Outcome, str]] = [
    ("nothing happened", RunFacts(), Outcome.PASSED, ""),
    ("recovered in time", RunFacts(recovery=SLOW, recovery_slo=120), Outcome.PASSED, ""),
    (
        "fatal wins over all",
        RunFacts(fatal=(Outcome.FAILED, "history_unavailable"), stopped=True, deviated=True),
        Outcome.FAILED,
        "history_unavailable",
    ),
    (
        "untracked disruption",
        RunFacts(untracked="1 disruption(s) ...", refusal="max_pods"),
        Outcome.FAILED,
        "recovery_unmeasured",
    ),
    ("refused, nothing injected", RunFacts(refusal="pdb", stopped=True), Outcome.REFUSED, "pdb"),
    (
        "stopped",
        RunFacts(stopped=True, stop_reason="stop_condition", deviated=True),
        Outcome.ABORTED,
        "stop_condition",
    ),
    (
        "refused after injecting",
        RunFacts(refusal="max_pods", injected=True),
        Outcome.ABORTED,
        "budget_exhausted",
    ),
    (
        "refused after injecting, an activity failed",
        RunFacts(refusal="max_pods", injected=True, method_failed=True),
        Outcome.FAILED,
        "activity_failed",
    ),
    (
        "not steady, a probe errored",
        RunFacts(not_steady=True, status="failed"),
        Outcome.FAILED,
        "probe_failed",
    ),
    (
        "not steady",
        RunFacts(not_steady=True, status="completed"),
        Outcome.NOT_STEADY,
        "hypothesis_before",
    ),
    ("an activity failed", RunFacts(method_failed=True), Outcome.FAILED, "activity_failed"),
    ("a probe errored", RunFacts(status="failed"), Outcome.FAILED, "probe_failed"),
    (
        "after unobservable",
        RunFacts(after_unobservable=True, deviated=True, status="failed"),
        Outcome.FAILED,
        "probe_failed",
    ),
    (
        "after unobservable, recovery unmeasured",
        RunFacts(after_unobservable=True, recovery=UNMEASURED),
        Outcome.FAILED,
        "recovery_unmeasured",
    ),
    (
        "hypothesis after",
        RunFacts(deviated=True, status="completed", recovery=TIMED_OUT),
        Outcome.DEVIATED,
        "hypothesis_after",
    ),
    (
        "hypothesis during",
        RunFacts(during_failed=True, status="failed", recovery=TIMED_OUT),
        Outcome.DEVIATED,
        "hypothesis_during",
    ),
    ("recovery unmeasured", RunFacts(recovery=UNMEASURED), Outcome.FAILED, "recovery_unmeasured"),
    (
        "recovery unmeasured (error, not recovered)",
        RunFacts(recovery=(_recovery(error="forbidden", recovered=False),)),
        Outcome.FAILED,
        "recovery_unmeasured",
    ),
    ("recovery timed out", RunFacts(recovery=TIMED_OUT), Outcome.DEVIATED, "recovery_timeout"),
    (
        "recovery over its SLO",
        RunFacts(recovery=SLOW, recovery_slo=60),
        Outcome.DEVIATED,
        "recovery_slo",
    ),
]


@pytest.mark.parametrize(
    ("facts", "outcome", "reason"), [r[1:] for r in TABLE], ids=[r[0] for r in TABLE]
)
def test_verdict_table(facts: RunFacts, outcome: Outcome, reason: str) -> None:
    verdict = decide(facts)
    assert (verdict.outcome, verdict.reason) == (outcome, reason)


def test_the_table_covers_every_outcome() -> None:
    assert {row[2] for row in TABLE} == set(Outcome)


def test_what_the_verdict_adds_to_the_record() -> None:
    assert decide(RunFacts(during_failed=True)).deviated is True  # chaoslib's flag follows
    assert decide(RunFacts(deviated=True)).deviated is True
    assert decide(RunFacts()).deviated is False
    injected = decide(RunFacts(refusal="max_pods", refusal_detail="3 > 2", injected=True))
    assert injected.refusal == {"reason": "max_pods", "detail": "3 > 2"}
    assert decide(RunFacts(refusal="max_pods")).refusal is None  # refused: its own outcome
    assert decide(RunFacts(untracked="why")).error == "why"


def test_untracked_and_recovery_reason() -> None:
    assert untracked(2, 2) == ""
    assert untracked(0, 3) == ""
    assert untracked(3, 1).startswith("3 disruption(s) recorded as intents but 1 journaled")
    assert recovery_reason([], 1.0) == ""
    assert recovery_reason([*SLOW, *TIMED_OUT, *UNMEASURED], 1.0) == "recovery_unmeasured"
    assert recovery_reason([*SLOW, *TIMED_OUT], 1.0) == "recovery_timeout"
    assert recovery_reason(SLOW, None) == ""


_RECOVERIES = st.lists(
    st.builds(
        _recovery,
        observed=st.booleans(),
        error=st.sampled_from(["", "forbidden"]),
        measured=st.booleans(),
        recovered=st.booleans(),
        timed_out=st.booleans(),
        recovery_seconds=st.none() | st.floats(0, 1e6),
    ),
    max_size=3,
).map(tuple)
_FACTS = st.builds(
    RunFacts,
    fatal=st.none() | st.tuples(st.sampled_from(Outcome), st.sampled_from(["x", "halted"])),
    untracked=st.sampled_from(["", "1 untracked"]),
    refusal=st.none() | st.sampled_from(["pdb", "max_pods"]),
    refusal_detail=st.text(max_size=5),
    injected=st.booleans(),
    stopped=st.booleans(),
    stop_reason=st.sampled_from(["", "halted", "stop_condition"]),
    not_steady=st.booleans(),
    status=st.none() | st.sampled_from(["completed", "failed", "aborted", "interrupted"]),
    deviated=st.booleans(),
    during_failed=st.booleans(),
    method_failed=st.booleans(),
    after_unobservable=st.booleans(),
    recovery=_RECOVERIES,
    recovery_slo=st.none() | st.floats(0, 1e6),
)


@given(_FACTS)
def test_the_verdict_is_total_and_deterministic(facts: RunFacts) -> None:
    verdict = decide(facts)
    assert isinstance(verdict, Verdict)
    assert verdict.outcome in set(Outcome)
    assert isinstance(verdict.reason, str)
    assert decide(facts) == verdict
    if verdict.outcome is Outcome.PASSED and facts.fatal is None:
        # passing needs every fact to be clean
        assert verdict.reason == ""
        assert not any((facts.stopped, facts.method_failed, facts.deviated, facts.during_failed))
        assert not any((facts.not_steady, facts.refusal, facts.untracked))
        assert not verdict.deviated
