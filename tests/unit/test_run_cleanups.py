"""RunContext.cleanups: called once at the end of every run, after the rollbacks, each
isolated and bounded (daemon/engine/cleanup.py). No cluster needed: runs without Kubernetes."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from daemon.catalog.extension import AftershockSettings
from daemon.engine import cleanup as cleanup_module
from daemon.engine.activities import Activities
from daemon.engine.context import RunContext
from daemon.engine.runner import Runner, RunResult
from daemon.settings import Settings

ROLLBACK = {
    "type": "action",
    "name": "undo",
    "provider": {"type": "process", "path": "/bin/true"},
}


def _context(aftershock: dict[str, Any] | None = None) -> RunContext:
    return RunContext(
        experiment_id="cleanups",
        run_id="cleanups-run",
        settings=Settings(safety={"dry_run": False}),
        aftershock=AftershockSettings.model_validate(aftershock or {}),
        kube=None,
        seed=1,
        dry_run=False,
        environ={},
    )


def _experiment() -> dict[str, Any]:
    return {
        "title": "cleanups",
        "description": "",
        "method": [{"type": "action", "name": "a", "provider": {"type": "process", "path": "x"}}],
        "rollbacks": [ROLLBACK],
        "runtime": {"rollbacks": {"strategy": "always"}},
    }


def _run(ctx: RunContext, events: list[str], halted: Any = None) -> tuple[RunResult, list[str]]:
    def progress(event: str, _fields: dict[str, Any]) -> None:
        events.append(event)

    def undo() -> None:
        events.append("cleanup" if ctx.over.is_set() else "cleanup-before-over")

    ctx.cleanups.append(undo)
    result = Runner(ctx, _experiment(), progress=progress, halted=halted).run()
    return result, events


def test_a_run_calls_its_cleanups_once_after_the_rollbacks() -> None:
    result, events = _run(_context(), [])
    assert result.outcome == "failed"  # the method's process is not on the allow-list
    assert events.count("cleanup") == 1
    assert events.index("rollbacks") < events.index("cleanup") < events.index("finished")
    assert "cleanup-before-over" not in events


def test_a_halted_run_calls_its_cleanups() -> None:
    result, events = _run(_context(), [], halted=lambda: "operator")
    assert (result.outcome, result.reason) == ("aborted", "halted")
    assert events.count("cleanup") == 1


def test_a_refused_run_calls_its_cleanups() -> None:
    ctx = _context({"stop_conditions": [{"query": "up == 0"}]})  # no Prometheus: refused
    result, events = _run(ctx, [])
    assert (result.outcome, result.reason) == ("refused", "stop_conditions_unavailable")
    assert events.count("cleanup") == 1


def test_a_shutdown_run_calls_its_cleanups() -> None:
    ctx = _context()
    ctx.deadline = time.monotonic()  # the shutdown bound is already reached
    ctx.request_stop("shutdown")
    result, events = _run(ctx, [])
    assert (result.outcome, result.reason) == ("aborted", "shutdown")
    assert events.count("cleanup") == 1


def test_a_crashed_run_calls_its_cleanups(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Activities, journal: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Activities, "method", broken)
    result, events = _run(_context(), [])
    assert (result.outcome, result.reason) == ("failed", "internal_error")
    assert events.count("cleanup") == 1
    assert events.index("rollbacks") < events.index("cleanup")


def test_cleanups_are_isolated_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cleanup_module, "CLEANUP_SECONDS", 0.5)
    ctx = _context()
    release = threading.Event()
    called: list[str] = []

    def fails() -> None:
        called.append("fails")
        raise ValueError("node gone")

    def hangs() -> None:
        called.append("hangs")
        release.wait(30)

    ctx.cleanups.extend([fails, hangs])
    started = time.monotonic()
    try:
        result, events = _run(ctx, [])
    finally:
        release.set()
    assert time.monotonic() - started < 10
    assert result.outcome == "failed"
    assert (result.outcome, result.reason) == ("failed", "activity_failed")
    assert called == ["fails", "hangs"]
    assert events.count("cleanup") == 1  # the one after a failing and a hanging one still ran
    errors = result.journal["aftershock"]["errors"]
    assert any("fails" in e and "ValueError: node gone" in e for e in errors)
    assert any("hangs" in e and "still running after 0.5s" in e for e in errors)


def test_rollbacks_only_calls_the_cleanups_too() -> None:
    ctx = _context()
    called: list[bool] = []
    ctx.cleanups.append(lambda: called.append(ctx.over.is_set()))
    records = Runner(ctx, _experiment()).rollbacks_only()
    assert len(records) == 1
    assert called == [True]
