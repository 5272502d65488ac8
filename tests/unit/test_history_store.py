"""The SQLite run history: running rows before chaos, interrupted runs, retention, errors."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from daemon.records import WorkloadKey
from daemon.safety.budget import Intent, ScaleBase
from daemon.store.history import HistoryStore, StoreError

T0 = datetime(2026, 11, 23, 12, tzinfo=UTC).timestamp()


def store(tmp_path, **kwargs) -> HistoryStore:
    values = {"retention": timedelta(days=30), "max_runs_per_experiment": 3, **kwargs}
    return HistoryStore(tmp_path / "sub" / "history.db", **values).open()


def start(s: HistoryStore, run_id: str, at: float, experiment: str = "exp") -> None:
    s.start_run(
        run_id,
        experiment,
        trigger="schedule",
        dry_run=False,
        experiment_doc={"title": run_id, "rollbacks": [{"name": "undo"}]},
        started_at=at,
    )


def test_running_row_survives_a_reopen_as_an_interrupted_run(tmp_path) -> None:
    s = store(tmp_path)
    start(s, "r1", T0)
    start(s, "r2", T0 + 1)
    s.finish_run(
        "r2", outcome="passed", reason="", journal={"status": "completed"}, ended_at=T0 + 5
    )
    s.close()
    reopened = store(tmp_path)
    ((row, doc),) = reopened.interrupted()
    assert (row.id, row.state, doc["rollbacks"]) == ("r1", "running", [{"name": "undo"}])
    found = reopened.run("r2")
    assert found is not None
    assert found[0].outcome == "passed"
    assert found[1] == {"status": "completed"}
    assert reopened.last_runs()["exp"]["outcome"] == "passed"
    assert reopened.last_runs()["exp"]["last_pass"] == T0 + 5


def test_disruptions_feed_cooldown_and_the_daily_budget(tmp_path) -> None:
    s = store(tmp_path)
    start(s, "r1", T0)
    disrupted = [
        {
            "namespace": "shop",
            "kind": "Deployment",
            "workload": "web",
            "pod": p,
            "method": "delete",
            "at": T0 + i,
        }
        for i, p in enumerate(["web-a", "web-b"])
    ]
    s.finish_run(
        "r1", outcome="passed", reason="", journal={}, ended_at=T0 + 9, disruptions=disrupted
    )
    history = s.guard_history(datetime.fromtimestamp(T0 + 60, UTC))
    assert history.disrupted_last_24h == 2
    assert history.last_disruption[("shop", "Deployment", "web")].timestamp() == T0 + 1
    assert s.guard_history(datetime.fromtimestamp(T0 + 90000, UTC)).disrupted_last_24h == 0


def test_retention_by_count_and_age_keeps_running_rows(tmp_path) -> None:
    s = store(tmp_path)
    for i in range(6):
        start(s, f"r{i}", T0 + i)
        if i != 0:
            s.finish_run(f"r{i}", outcome="passed", reason="", journal={}, ended_at=T0 + i)
    s.prune(T0 + 10)
    assert [r.id for r in s.runs("exp")] == ["r5", "r4", "r3", "r0"]  # 3 kept + the running one
    s.prune(T0 + timedelta(days=31).total_seconds())
    assert [r.id for r in s.runs()] == ["r0"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes regardless of mode bits")
def test_read_only_database_is_a_store_error_and_reported(tmp_path) -> None:
    s = store(tmp_path)
    s.close()
    (tmp_path / "sub" / "history.db").chmod(0o444)
    readonly = HistoryStore(
        tmp_path / "sub" / "history.db", retention=timedelta(days=1), max_runs_per_experiment=1
    )
    readonly.open()
    with pytest.raises(StoreError):
        start(readonly, "r1", T0)


def test_a_failing_write_is_a_store_error_that_names_the_step(tmp_path) -> None:
    s = store(tmp_path)
    start(s, "r1", T0)
    with pytest.raises(StoreError, match="recording the start of a run"):
        start(s, "r1", T0)  # duplicate id: the database refuses
    assert "recording the start" in s.error
    assert s.check() == ""  # the next successful write clears the error
    assert s.error == ""


def test_unopenable_path_is_a_store_error(tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    bad = HistoryStore(
        tmp_path / "file" / "h.db", retention=timedelta(days=1), max_runs_per_experiment=1
    )
    with pytest.raises(StoreError, match="cannot open run history"):
        bad.open()


@pytest.mark.parametrize("retention_days", [1, 3, 30])
@pytest.mark.parametrize("cooldown_days", [0, 1, 7, 366])
def test_pruning_never_shortens_a_cooldown(tmp_path, retention_days, cooldown_days) -> None:
    """A disruption younger than the longest cooldown (or 24 h) survives any prune, whatever
    store.retention is; older than all of them and retention, it goes."""
    s = store(tmp_path, retention=timedelta(days=retention_days))
    workload = ("shop", "Deployment", "web")
    s.settle_disruption(s.record_intent(Intent("r1", workload, "web-a", "u", "delete", T0)), "done")
    cooldown = timedelta(days=cooldown_days)
    keep = max(timedelta(days=retention_days), timedelta(days=1), cooldown)
    for age in (timedelta(hours=1), keep - timedelta(seconds=1)):
        s.prune(T0 + age.total_seconds(), keep_disruptions=cooldown)
        now = datetime.fromtimestamp(T0 + age.total_seconds(), UTC)
        assert s.guard_history(now).last_disruption[workload].timestamp() == T0
    s.prune(T0 + (keep + timedelta(seconds=1)).total_seconds(), keep_disruptions=cooldown)
    assert s.disruptions() == []


def test_a_run_keeps_the_settings_it_started_with(tmp_path) -> None:
    s = store(tmp_path)
    s.start_run(
        "r1",
        "exp",
        trigger="api:x",
        dry_run=False,
        experiment_doc={"title": "t"},
        started_at=T0,
        settings={"blast_radius": {"max_pods": 1}},
    )
    start(s, "r2", T0)
    assert s.run_settings("r1") == {"blast_radius": {"max_pods": 1}}
    assert s.run_settings("r2") is None
    assert s.run_settings("missing") is None


def test_a_runs_scale_bases_outlive_a_reopen_and_end_with_the_run(tmp_path) -> None:
    """The scale-up bound's base is durable while the run runs (its replay reads it), each
    field keeps its first value, and the run's end (or pruning) removes it."""
    s = store(tmp_path)
    start(s, "r1", T0)
    start(s, "r2", T0)
    web = WorkloadKey("shop", "Deployment", "web")
    s.record_scale_base("r1", web, ScaleBase(first_seen=3, scaled_from=None))  # first read
    s.record_scale_base("r1", web, ScaleBase(first_seen=6, scaled_from=3))  # a landed scale
    s.record_scale_base("r1", web, ScaleBase(first_seen=9, scaled_from=9))  # later: ignored
    s.record_scale_base("r2", web, ScaleBase(first_seen=4, scaled_from=5))
    s.close()
    s = store(tmp_path)
    assert s.scale_bases("r1") == {web: ScaleBase(3, 3)}
    assert s.scale_bases("r2") == {web: ScaleBase(4, 5)}
    s.finish_run("r1", outcome="passed", reason="", journal={}, ended_at=T0 + 5)
    assert s.scale_bases("r1") == {}
    s.record_scale_base("gone", web, ScaleBase(1, 1))  # a run row pruned away
    s.prune(T0 + 10)
    assert (s.scale_bases("gone"), s.scale_bases("r2")) == ({}, {web: ScaleBase(4, 5)})


class _held:  # noqa: N801 - reads as a phrase at the call site
    """Another process's write lock on the history (a backup, an operator's sqlite3), for
    `seconds` or until closed."""

    def __init__(self, path, seconds: float) -> None:
        self.other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.other.execute("BEGIN IMMEDIATE")
        self.timer = threading.Timer(seconds, self.other.execute, ("ROLLBACK",))
        self.timer.start()

    def close(self) -> None:
        self.timer.cancel()
        self.timer.join()
        self.other.close()  # rolls back a transaction still open


def test_a_write_waits_for_another_process_then_lands(tmp_path) -> None:
    s = store(tmp_path)
    other = _held(s.path, 0.5)
    start(s, "r1", T0)  # waits for the lock (BUSY_PATIENCE 5 s), then writes
    assert [r.id for r in s.runs()] == ["r1"]
    other.close()


def test_no_write_waits_past_the_shutdown_bound(tmp_path) -> None:
    """At shutdown the daemon sets the bound: a write that meets the history locked by
    another process, or by a write of its own stuck on it, gives up at the bound (the run
    row stays `running`: the next start replays it), and close() does not wait either."""
    s = store(tmp_path)
    other = _held(s.path, 4)
    s.deadline = time.monotonic() + 0.5
    began = time.monotonic()
    with pytest.raises(StoreError, match="database is locked"):
        start(s, "r1", T0)
    assert time.monotonic() - began < 2.5  # the bound, not the 4 s lock
    s.deadline = time.monotonic() + 0.5
    failures: list[str] = []

    def stuck_write() -> None:
        try:
            start(s, "r2", T0)
        except StoreError as exc:
            failures.append(str(exc))

    stuck = threading.Thread(target=stuck_write)
    stuck.start()
    time.sleep(0.1)  # r2's write holds this process's connection, waiting for the lock
    with pytest.raises(StoreError, match=r"until the shutdown bound|database is locked"):
        start(s, "r3", T0)  # (which message depends on who reaches the bound first)
    stuck.join(5)
    assert len(failures) == 1, failures
    s.close()
    assert time.monotonic() - began < 3.5  # both bounds of 0.5 s, not the 4 s lock
    other.close()


def test_pruning_keeps_the_rows_of_a_cooldown_once_in_effect_or_unknown(tmp_path) -> None:
    """A 72 h cooldown pruned for once keeps its rows later, when no loaded experiment has
    it (a file removed for a while); an unknown cooldown (None: a file that does not load)
    prunes no disruption row at all."""
    s = store(tmp_path, retention=timedelta(days=1))
    workload = WorkloadKey("shop", "Deployment", "web")
    s.settle_disruption(s.record_intent(Intent("r1", workload, "web-a", "u", "delete", T0)), "done")
    day = 86400.0
    s.prune(T0 + 2 * day, keep_disruptions=timedelta(hours=72))
    s.prune(T0 + 2.5 * day, keep_disruptions=timedelta(0))  # the 72 h experiment is gone now
    assert [d["pod"] for d in s.disruptions()] == ["web-a"]
    s.prune(T0 + 30 * day, keep_disruptions=None)
    assert [d["pod"] for d in s.disruptions()] == ["web-a"]
    s.prune(T0 + 3.5 * day, keep_disruptions=timedelta(0))  # 72 h after it: may go
    assert s.disruptions() == []
