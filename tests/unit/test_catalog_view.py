"""The API/pages adapter: the schedule in force, namespaces, SLOs, limits in words."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from daemon.api import catalog_view as view
from daemon.catalog.extension import AftershockSettings, Schedule


def entry(schedule: dict | None) -> SimpleNamespace:
    settings = AftershockSettings.model_validate({"schedule": schedule} if schedule else {})
    return SimpleNamespace(loaded=SimpleNamespace(settings=settings), path=Path("x.yaml"))


def test_the_schedule_in_force_and_whether_it_is_overridden() -> None:
    written = {"cron": "*/15 9-17 * * mon-fri", "timezone": "Europe/Paris"}
    fast = Schedule.model_validate({"interval": "5s"})
    plain = view.schedules(SimpleNamespace(schedule_override=None), "g", entry(written))  # type: ignore[arg-type]
    assert not plain.overridden
    assert plain.effective == plain.catalog
    demo = SimpleNamespace(schedule_override=lambda _id, _schedule: fast)
    replaced = view.schedules(demo, "g", entry(written))  # type: ignore[arg-type]
    assert replaced.overridden
    assert replaced.effective == fast
    assert replaced.catalog is not None
    assert replaced.catalog.cron == "*/15 9-17 * * mon-fri"
    same = SimpleNamespace(schedule_override=lambda _id, schedule: schedule)
    assert not view.schedules(same, "g", entry(written)).overridden  # type: ignore[arg-type]
    on_demand = view.schedules(demo, "g", entry(None))  # type: ignore[arg-type]
    assert on_demand.effective is None
    assert not on_demand.overridden  # nothing to override: no schedule either way


def test_fires_look_further_ahead_until_found() -> None:
    asked: list[float] = []

    def plan(_id: str, hours: float) -> list[int]:
        asked.append(hours)
        return list(range(int(hours // 24)))  # nothing in the first hour or day

    daemon = SimpleNamespace(plan=plan)
    schedule = Schedule.model_validate({"cron": "0 9 * * mon"})
    assert view.fires(daemon, "g", schedule, 3) == [0, 1, 2]  # type: ignore[arg-type]
    assert asked == [1.0, 24.0, 192.0]
    off = Schedule.model_validate({"cron": "0 9 * * mon", "enabled": False})
    assert view.fires(daemon, "g", off, 3) == []  # type: ignore[arg-type]


def test_namespaces_named_by_activities() -> None:
    raw = {
        "method": [
            {"provider": {"arguments": {"ns": "shop", "label_selector": "app=a"}}},
            {"provider": {"arguments": {"namespace": "web"}}},
            {"provider": {"arguments": {"ns": ""}}},
        ],
        "steady-state-hypothesis": {"probes": [{"provider": {"arguments": {"ns": "shop"}}}]},
    }
    assert view.namespaces(raw) == ["shop", "web"]
    assert view.namespaces(None) == []


def test_slo_from_settings_or_their_json() -> None:
    settings = AftershockSettings.model_validate({"recovery": {"slo": "45s"}})
    assert view.slo_seconds(settings) == 45.0
    assert view.slo_seconds({"recovery": {"slo": "1m"}}) == 60.0
    assert view.slo_seconds({"recovery": {"slo": None}}) is None
    assert view.slo_seconds({"recovery": {"slo": "soon"}}) is None
    assert view.slo_seconds(None) is None


def test_limit_values_in_words() -> None:
    assert view._show(True) == "yes"
    assert view._show(timedelta(minutes=10)) == "10m"
    assert view._show((1, "50%", 1)) == "1 and 50%"  # every floor holds; each said once
    assert view._show(frozenset({"b", "a"})) == "a, b"
    assert view._show(50.0) == "50"
