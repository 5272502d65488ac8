"""The outcomes a run can end with: one enum for the engine, CLI, metrics, pages and dashboards.

A `StrEnum`, so a member is its own JSON form and compares equal to the string stored in the
history ("passed" == Outcome.PASSED), and old journals read back unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    PASSED = "passed"  # hypothesis held before, during and after; recovery within its SLO
    DEVIATED = "deviated"  # the system did not tolerate the disruption
    NOT_STEADY = "not_steady"  # the hypothesis failed before anything was disrupted
    REFUSED = "refused"  # the guard or a gate refused; nothing was disrupted
    FAILED = "failed"  # the run could not be carried out (an error, not a verdict)
    ABORTED = "aborted"  # stopped: halt, stop condition, shutdown, leadership lost

    @property
    def ok(self) -> bool:
        return self is Outcome.PASSED


# Exit codes of `aftershock run` (documented in the CLI reference).
EXIT_CODES: dict[Outcome, int] = {
    Outcome.PASSED: 0,
    Outcome.DEVIATED: 1,
    Outcome.NOT_STEADY: 3,
    Outcome.REFUSED: 3,
    Outcome.FAILED: 4,
    Outcome.ABORTED: 4,
}
