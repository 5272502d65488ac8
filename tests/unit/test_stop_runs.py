"""One way to stop the runs in flight (`ActiveRuns.stop_runs`), used by halt, leadership loss
and shutdown; and the read-only catalog view the API uses."""

from __future__ import annotations

import threading
from pathlib import Path

from daemon.catalog.extension import AftershockSettings
from daemon.engine.context import RunContext
from daemon.halt_switch import HaltConfigMap
from daemon.runtime.active_runs import ActiveRuns
from daemon.runtime.catalog import Catalog, CatalogView, Entry
from daemon.runtime.halt_control import HaltControl
from daemon.settings import Settings
from daemon.store.history import StoreError
from daemon.store.pending import PendingWrites


def context(run_id: str) -> RunContext:
    return RunContext(
        experiment_id="e",
        run_id=run_id,
        settings=Settings(),
        aftershock=AftershockSettings(),
        kube=None,
        seed=1,
        dry_run=False,
        environ={},
    )


def test_stop_runs_stops_every_run_in_flight_and_only_those() -> None:
    runs = ActiveRuns()
    a, b, gone = context("a"), context("b"), context("gone")
    for ctx in (a, b, gone):
        runs.add(ctx.run_id, ctx, threading.current_thread())
    runs.remove("gone")
    asked = runs.stop_runs("halted", "game day")
    assert set(asked) == {"a", "b"}
    assert len(runs) == 2  # stopping is not forgetting: the run ends on its own thread
    for ctx in (a, b):
        assert ctx.stop.is_set()
        assert ctx.stop_reason == "halted"
        assert ctx.deadline is None
    assert not gone.stop.is_set()


def test_stop_runs_with_a_deadline_cuts_every_wait_of_the_run_to_it() -> None:
    runs = ActiveRuns()
    ctx = context("a")
    runs.add("a", ctx, threading.current_thread())
    asked = runs.stop_runs("shutdown", "SIGTERM", deadline=123.0)
    assert asked["a"].context is ctx
    assert ctx.deadline == 123.0
    assert ctx.stop_reason == "shutdown"


class RefusingStore:
    error = "disk full"

    def set_state(self, _key: str, _value: object) -> None:
        raise StoreError("disk full")


def test_a_halt_stops_the_runs_before_it_is_recorded_even_when_it_cannot_be() -> None:
    runs = ActiveRuns()
    ctx = context("a")
    runs.add("a", ctx, threading.current_thread())
    halting = HaltControl(
        RefusingStore(),  # type: ignore[arg-type]
        PendingWrites(),
        HaltConfigMap(None, "aftershock", "aftershock-halt"),
        enabled=False,
        stop_runs=runs.stop_runs,
    )
    assert halting.set("game day", "alice") is False  # not recorded: retried later
    assert ctx.stop.is_set()
    assert ctx.stop_reason == "halted"
    assert "game day" in str(halting.reason())


def test_the_catalog_view_hands_out_copies_never_the_live_entries(tmp_path: Path) -> None:
    catalog = Catalog(Settings(), tmp_path)
    catalog.entries["x"] = Entry(None, tmp_path / "x.yaml", problems=["bad"])
    view = CatalogView(catalog)
    [(name, copy)] = view.experiments()
    assert name == "x"
    copy.problems.append("changed by a reader")
    copy.running = "r1"
    single = view.get("x")
    assert single is not None
    single.last_recovery["ns/w"] = 1.0
    assert catalog.entries["x"].problems == ["bad"]
    assert catalog.entries["x"].running is None
    assert catalog.entries["x"].last_recovery == {}
    assert view.get("nope") is None


def test_a_kept_write_is_done_by_the_next_flush() -> None:
    pending = PendingWrites()
    done: list[str] = []
    pending.keep("finish:r1", lambda: done.append("r1"))
    assert "finish:r1" in pending
    assert pending.flush() == ""
    assert done == ["r1"]
    assert "finish:r1" not in pending
