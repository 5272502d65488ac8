"""Engine exceptions: what a provider or the runner raises, and how it ends a run."""

from __future__ import annotations


class ActivityFailed(Exception):
    """A provider call failed; the activity is recorded as failed (chaoslib's ActivityFailed)."""


class InvalidRun(Exception):
    """The experiment cannot start: missing env configuration, bad template, ... (no chaos)."""


class Interrupted(Exception):
    """The run is stopped from outside: stop condition, halt switch, shutdown, lost lease."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Unrecorded(ActivityFailed):
    """A disruption's intent could not be written to the history: nothing was disrupted and the
    run ends `failed` (reason `history_unavailable`); chaos that cannot be recorded is not run."""


class Unobservable(ActivityFailed):
    """The Kubernetes API did not serve a probe (outage, 5xx, throttling): the activity fails,
    but an unanswered question is no deviation of the system under test (I10)."""
