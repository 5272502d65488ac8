"""Run listeners are isolated: one that raises is counted and the others still run."""

from __future__ import annotations

from daemon.listeners import CallbackListener, RunEnded, dispatch
from daemon.outcomes import EXIT_CODES, Outcome


def _run() -> RunEnded:
    return RunEnded(
        experiment_id="greeter-kill",
        run_id="greeter-kill-1",
        outcome=Outcome.DEVIATED,
        reason="hypothesis_after",
        trigger="schedule",
        dry_run=False,
        started_at=1.0,
        ended_at=2.0,
        journal={"aftershock": {"outcome": "deviated"}},
    )


def test_a_failing_listener_is_counted_and_the_next_one_still_runs() -> None:
    seen: list[str] = []
    failed: list[str] = []

    def boom(_run: RunEnded) -> None:
        raise RuntimeError("webhook down")

    dispatch(
        [
            CallbackListener("first", lambda run: seen.append(f"first:{run.run_id}")),
            CallbackListener("broken", boom),
            CallbackListener("last", lambda run: seen.append(f"last:{run.outcome}")),
        ],
        _run(),
        failed=failed.append,
    )
    assert seen == ["first:greeter-kill-1", "last:deviated"]
    assert failed == ["broken"]


def test_outcomes_are_their_stored_strings() -> None:
    assert Outcome("not_steady") is Outcome.NOT_STEADY
    assert [str(o) for o in Outcome] == [
        "passed",
        "deviated",
        "not_steady",
        "refused",
        "failed",
        "aborted",
    ]
    assert set(EXIT_CODES) == set(Outcome)
    assert _run().record == {"outcome": "deviated"}
