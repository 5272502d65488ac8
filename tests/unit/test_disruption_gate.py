"""The check every disruption makes right before its request (RunContext.disruption_blocked):
the activity's own cancellation (per thread), the run's end, stop, then `disruption_check`."""

from __future__ import annotations

import threading

from daemon.catalog.extension import AftershockSettings
from daemon.engine.context import ACTIVITY_CANCELLED, RunContext
from daemon.settings import Settings


def context(disruption_check=lambda: None) -> RunContext:
    return RunContext(
        experiment_id="e",
        run_id="r",
        settings=Settings(),
        aftershock=AftershockSettings(),
        kube=None,
        seed=1,
        dry_run=False,
        environ={},
        disruption_check=disruption_check,
    )


def in_thread(fn, token: threading.Event | None = None):
    """Run fn in a fresh thread (as the runner runs providers), with `token` as its
    activity's cancellation; return what it returned."""
    result: list = []

    def body() -> None:
        if token is not None:
            ACTIVITY_CANCELLED.set(token)
        result.append(fn())

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(timeout=5)
    return result[0]


def test_open_gate_lets_a_disruption_through() -> None:
    ctx = context()
    assert in_thread(ctx.disruption_blocked, threading.Event()) is None
    assert ctx.disruption_blocked() is None


def test_a_cancelled_activity_blocks_only_its_own_thread() -> None:
    ctx = context()
    token = threading.Event()
    token.set()
    assert "timed out" in in_thread(ctx.disruption_blocked, token)
    assert "timed out" in in_thread(ctx.cancelled, token)
    assert in_thread(ctx.disruption_blocked, threading.Event()) is None  # another activity
    assert not ctx.stop.is_set()  # one activity's timeout does not stop the run


def test_the_end_of_the_run_blocks_every_thread() -> None:
    ctx = context()
    ctx.over.set()
    assert "over" in in_thread(ctx.disruption_blocked)
    assert "over" in in_thread(ctx.cancelled)


def test_a_closed_gate_blocks_and_stops_the_run() -> None:
    ctx = context(disruption_check=lambda: "halted")
    assert in_thread(ctx.disruption_blocked) == "halted"
    assert ctx.stop.is_set()
    assert ctx.stop_reason == "halted"
    assert ctx.cancelled() is None  # a scale-up (no disruption) is not stopped by the gate


def test_a_stopped_run_blocks_with_its_reason() -> None:
    ctx = context()
    ctx.request_stop("shutdown")
    assert in_thread(ctx.disruption_blocked) == "shutdown"
