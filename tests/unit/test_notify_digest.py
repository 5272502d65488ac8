"""The daily digest: a pure function of the history and an injected clock; its scheduler."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from daemon.notify.config import DigestSettings
from daemon.notify.digest import DigestRun, DigestScheduler, compute_digest, next_fire, percentile
from daemon.notify.slack import digest_message

NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC).timestamp()
HOUR = 3600.0


def history() -> list[DigestRun]:
    return [
        DigestRun("greeter-kill", "passed", "", NOW - 1 * HOUR, (2.0,), 10.0),
        DigestRun("greeter-kill", "passed", "", NOW - 2 * HOUR, (4.0,), 10.0),
        DigestRun("greeter-kill", "deviated", "hypothesis_after", NOW - 3 * HOUR, (12.0,), 10.0),
        DigestRun("greeter-kill", "refused", "cooldown", NOW - 4 * HOUR),
        DigestRun("greeter-kill", "refused", "cooldown", NOW - 5 * HOUR),
        DigestRun("greeter-kill", "passed", "", NOW - 25 * HOUR, (99.0,), 10.0),  # too old
        DigestRun("db-kill", "refused", "max_pods", NOW - 1 * HOUR),
    ]


def test_digest_per_experiment() -> None:
    digest = compute_digest(
        history(), {"greeter-kill": NOW + 600, "db-kill": None, "idle": None}, now=NOW
    )
    assert digest["schema"] == "aftershock.digest/v1"
    assert digest["window"] == {
        "from": "2026-11-29T08:00:00+00:00",
        "to": "2026-11-30T08:00:00+00:00",
    }
    by_id = {e["experiment"]: e for e in digest["experiments"]}
    greeter = by_id["greeter-kill"]
    assert greeter["runs"] == {"deviated": 1, "passed": 2, "refused": 2}
    assert greeter["pass_rate"] == 2 / 3  # refusals disrupted nothing: not judged
    assert greeter["recovery"] == {
        "count": 3, "p50": 4.0, "p95": 12.0, "slo_seconds": 10.0, "within_slo": 2 / 3,
    }  # fmt: skip
    assert greeter["refusals"] == {"cooldown": 2}
    assert greeter["next_run"] == "2026-11-30T08:10:00+00:00"
    assert by_id["db-kill"]["pass_rate"] is None
    assert by_id["idle"]["total"] == 0
    assert [e["experiment"] for e in digest["experiments"]] == ["greeter-kill", "db-kill", "idle"]
    assert digest["totals"] == {"deviated": 1, "passed": 2, "refused": 3}
    digest_message(digest).as_dict()  # valid Block Kit


def test_digest_is_bounded() -> None:
    upcoming = {f"e{n:03}": None for n in range(120)}
    digest = compute_digest([], upcoming, now=NOW, max_experiments=50)
    assert len(digest["experiments"]) == 50
    assert digest["omitted"] == 70
    digest_message(digest).as_dict()


@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1), st.floats(0.01, 1))
def test_percentile_is_a_measured_value(values: list[float], q: float) -> None:
    found = percentile(values, q)
    assert found in values
    assert sum(v <= found for v in values) >= q * len(values)


def test_next_fire_in_the_configured_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    at = datetime(2026, 11, 30, 8, 0, tzinfo=paris).timestamp()  # 08:00 Paris
    fire = next_fire(at, (9, 0), "Europe/Paris")
    assert datetime.fromtimestamp(fire, paris) == datetime(2026, 11, 30, 9, 0, tzinfo=paris)
    fire = next_fire(fire, (9, 0), "Europe/Paris")  # strictly after: the next day
    assert datetime.fromtimestamp(fire, paris) == datetime(2026, 12, 1, 9, 0, tzinfo=paris)
    # DST: 02:30 does not exist in Paris on 2026-03-29; it fires once, just after the gap.
    before = datetime(2026, 3, 29, 0, 0, tzinfo=paris).timestamp()
    fire = next_fire(before, (2, 30), "Europe/Paris")
    assert datetime.fromtimestamp(fire, UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


@given(st.floats(1.7e9, 1.9e9), st.integers(0, 23), st.integers(0, 59))
def test_next_fire_is_within_a_day_and_after_now(now: float, hour: int, minute: int) -> None:
    fire = next_fire(now, (hour, minute), "America/New_York")
    assert now < fire <= now + 25 * HOUR


def test_scheduler_sends_once_per_day_at_the_time_with_an_injected_clock() -> None:
    clock = [NOW - 1]  # 07:59:59 UTC
    sent: list[dict] = []
    scheduler = DigestScheduler(
        DigestSettings(sink="s", at="09:00", timezone="Europe/Paris"),  # 08:00 UTC in winter
        build=lambda now: compute_digest(history(), {}, now=now),
        deliver=sent.append,
        clock=lambda: clock[0],
        poll=0.01,
    )

    def settle(count: int) -> None:
        deadline = time.monotonic() + 5
        while len(sent) < count:
            assert time.monotonic() < deadline, sent
            time.sleep(0.01)
        time.sleep(0.1)  # and nothing more arrives
        assert len(sent) == count

    scheduler.start()
    try:
        settle(0)
        assert scheduler.next_at == NOW
        clock[0] = NOW + 0.5
        settle(1)
        assert sent[0]["window"]["to"] == "2026-11-30T08:00:00.500000+00:00"
        assert scheduler.next_at == NOW + 24 * HOUR
        clock[0] = NOW + 24 * HOUR + 3
        settle(2)
    finally:
        scheduler.stop(time.monotonic() + 2)
    assert not scheduler._thread.is_alive()


def test_history_runs_read_back_from_a_real_store(tmp_path) -> None:
    from datetime import timedelta

    from daemon.catalog.extension import AftershockSettings
    from daemon.notify.digest import history_runs
    from daemon.store.history import HistoryStore

    store = HistoryStore(
        tmp_path / "history.db", retention=timedelta(days=30), max_runs_per_experiment=100
    ).open()
    settings = AftershockSettings.model_validate({"recovery": {"timeout": "1m", "slo": "10s"}})
    for n, (outcome, ended, seconds) in enumerate(
        [
            ("passed", NOW - HOUR, 2.5),
            ("deviated", NOW - 2 * HOUR, 11.0),
            ("passed", NOW - 30 * HOUR, 1.0),
        ]
    ):
        run_id = f"greeter-kill-{n}"
        store.start_run(
            run_id,
            "greeter-kill",
            trigger="schedule",
            dry_run=False,
            experiment_doc={},
            started_at=ended - 5,
            settings=settings.model_dump(mode="json"),
        )
        record = {
            "recovery": [{"namespace": "shop", "name": "greeter", "recovery_seconds": seconds}]
        }
        store.finish_run(
            run_id, outcome=outcome, reason="", journal={"aftershock": record}, ended_at=ended
        )
    store.start_run(
        "running-1", "greeter-kill", trigger="api", dry_run=False, experiment_doc={}, started_at=NOW
    )
    runs = history_runs(store, NOW)
    store.close()
    assert sorted(runs, key=lambda r: r.ended_at) == [
        DigestRun("greeter-kill", "deviated", "", NOW - 2 * HOUR, (11.0,), 10.0),
        DigestRun("greeter-kill", "passed", "", NOW - HOUR, (2.5,), 10.0),
    ]
    digest = compute_digest(runs, {"greeter-kill": None}, now=NOW)
    assert digest["experiments"][0]["recovery"]["within_slo"] == 0.5


def test_a_replica_that_does_not_lead_sends_no_digest() -> None:
    clock = [NOW - 1]
    built: list[float] = []
    sent: list[dict] = []

    def build(now: float) -> None:
        built.append(now)  # a follower: the wiring answers None

    scheduler = DigestScheduler(
        DigestSettings(sink="s", at="08:00"),
        build=build,
        deliver=sent.append,
        clock=lambda: clock[0],
        poll=0.01,
    )
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while scheduler.next_at is None:  # planned from the clock before it moves
            assert time.monotonic() < deadline
            time.sleep(0.01)
        clock[0] = NOW + 1
        while not built:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        scheduler.stop(time.monotonic() + 2)
    assert built == [NOW + 1]
    assert sent == []
