"""The aftershock extension: strict keys, schedules, windows, limits, stop conditions."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from daemon.catalog.extension import AftershockSettings, Schedule, Window
from daemon.catalog.loader import load_file
from daemon.catalog.problems import Severity


def with_extension(experiment, **settings):
    experiment["extensions"] = [{"name": "aftershock", **settings}]
    return experiment


def errors_for(write, options, experiment) -> list[str]:
    result = load_file(write("exp.yaml", experiment), options)
    return [f"{p.location}: {p.message}" for p in result.problems if p.severity is Severity.ERROR]


def test_full_extension_loads(write, options, experiment) -> None:
    with_extension(
        experiment,
        enabled=True,
        schedule={
            "cron": "*/15 9-17 * * mon-fri",
            "timezone": "Europe/Paris",
            "jitter": "2m",
            "windows": [{"days": "weekdays", "start": "09:00", "end": "17:00"}],
            "blackout_dates": [
                "2026-12-24..2027-01-01",
                "2026-11-26",
                {"from": "2027-04-01", "to": "2027-04-02"},
            ],
        },
        blast_radius={
            "max_pods": 1,
            "max_percent": 50,
            "min_ready_replicas": "50%",
            "respect_pdb": True,
            "cooldown": "30m",
            "max_disruptions_per_day": 4,
            "on_limit": "cap",
            "require_workload_ready": True,
        },
        recovery={"timeout": "5m", "slo": "60s"},
        hypothesis={"strategy": "continuously", "frequency": "2s", "fail_fast": 0.5},
        rollbacks={"strategy": "always"},
        stop_conditions=[
            'sum(rate(http_requests_total{code=~"5.."}[1m])) > 5',
            {"query": "up == 0", "description": "down"},
        ],
        dry_run=True,
    )
    result = load_file(write("exp.yaml", experiment), options)
    assert result.ok, result.problems
    settings = result.loaded.settings
    assert result.loaded.settings_source == "extension"
    assert settings.schedule.jitter == timedelta(minutes=2)
    assert settings.schedule.windows[0].days == ["mon", "tue", "wed", "thu", "fri"]
    assert settings.schedule.blackout_dates[1] == date(2026, 11, 26)
    assert settings.blast_radius.min_ready_replicas == "50%"
    assert settings.recovery.slo == timedelta(seconds=60)
    assert [s.query for s in settings.stop_conditions][1] == "up == 0"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (
            {"schedul": {"cron": "@hourly"}},
            "extensions[0].schedul: unknown key 'schedul'; did you mean 'schedule'?",
        ),
        ({"blast_radius": {"max_pod": 1}}, "unknown key 'max_pod'; did you mean 'max_pods'?"),
        (
            {"schedule": {"cron": "@hourly", "interval": "5m"}},
            "exactly one of cron, interval or mtbf (got cron and interval)",
        ),
        ({"schedule": {"timezone": "UTC"}}, "exactly one of cron, interval or mtbf (got none)"),
        ({"schedule": {"cron": "61 * * * *"}}, "schedule.cron: minute: 61 is out of range 0-59"),
        (
            {"schedule": {"cron": "@hourly", "timezone": "Europe/Pariss"}},
            "unknown time zone 'Europe/Pariss'; did you mean 'Europe/Paris'?",
        ),
        ({"schedule": {"interval": "0s"}}, "schedule.interval: must be greater than zero"),
        ({"schedule": {"interval": "-5m"}}, "is not a duration"),
        ({"schedule": {"interval": "5 minutes"}}, "'5 minutes' is not a duration"),
        (
            {"schedule": {"interval": "5m", "jitter": "5m"}},
            "jitter 5m must be shorter than the interval 5m",
        ),
        ({"schedule": {"mtbf": "30s"}}, "mtbf must be at least 1m"),
        ({"schedule": {"mtbf": "1h", "jitter": "1m"}}, "jitter does not apply to mtbf"),
        (
            {
                "schedule": {
                    "mtbf": "1h",
                    "windows": [{"days": "mon-fri", "start": "9:00", "end": "9:00"}],
                }
            },
            "window start and end are equal",
        ),
        (
            {
                "schedule": {
                    "mtbf": "1h",
                    "windows": [{"days": "mon-fry", "start": "9:00", "end": "10:00"}],
                }
            },
            "'mon-fry' is not a day range",
        ),
        (
            {
                "schedule": {
                    "mtbf": "1h",
                    "windows": [{"days": ["someday"], "start": "9:00", "end": "10:00"}],
                }
            },
            "windows[0].days[0]",
        ),
        (
            {"schedule": {"mtbf": "1h", "windows": [{"start": "25:00", "end": "10:00"}]}},
            "'25:00' is not a time of day",
        ),
        (
            {"schedule": {"mtbf": "1h", "windows": [{"start": "9:00"}]}},
            "windows[0].end: 'end' is required",
        ),
        ({"schedule": {"interval": "1h", "blackout_dates": ["2026-13-01"]}}, "blackout_dates[0]"),
        (
            {"schedule": {"interval": "1h", "blackout_dates": ["2027-01-02..2027-01-01"]}},
            "ends (2027-01-01) before it starts (2027-01-02)",
        ),
        ({"blast_radius": {"max_pods": 0}}, "max_pods: Input should be greater than 0 (got 0)"),
        ({"blast_radius": {"max_pods": -3}}, "max_pods: Input should be greater than 0 (got -3)"),
        ({"blast_radius": {"max_percent": 0}}, "max_percent: Input should be greater than 0"),
        (
            {"blast_radius": {"max_percent": 101}},
            "max_percent: Input should be less than or equal to 100",
        ),
        ({"blast_radius": {"min_ready_replicas": -1}}, "min_ready_replicas"),
        ({"blast_radius": {"min_ready_replicas": "150%"}}, "'150%' must be between 0% and 100%"),
        (
            {"blast_radius": {"max_disruptions_per_day": 0}},
            "max_disruptions_per_day: Input should be greater than 0",
        ),
        (
            {"blast_radius": {"on_limit": "shrink"}},
            "Input should be 'refuse' or 'cap' (got 'shrink')",
        ),
        (
            {"recovery": {"timeout": "1m", "slo": "2m"}},
            "recovery slo 2m is longer than the timeout 1m",
        ),
        ({"recovery": {"timeout": 0}}, "recovery.timeout: must be greater than zero"),
        ({"hypothesis": {"strategy": "sometimes"}}, "hypothesis.strategy"),
        ({"hypothesis": {"fail_fast": 1.5}}, "hypothesis.fail_fast"),
        (
            {"stop_conditions": ["sum(rate(x[1m]) >"]},
            "invalid PromQL 'sum(rate(x[1m]) >': unclosed left parenthesis",
        ),
        ({"stop_conditions": [""]}, "stop condition is empty"),
        ({"stop_conditions": [{"query": "up", "severity": "high"}]}, "unknown key 'severity'"),
        ({"enabled": "perhaps"}, "enabled: Input should be a valid boolean"),
    ],
)
def test_extension_errors(write, options, experiment, settings, expected) -> None:
    found = errors_for(write, options, with_extension(experiment, **settings))
    assert any(expected in e for e in found), found


def test_errors_in_extension_and_ctk_part_are_reported_together(write, options, experiment) -> None:
    del experiment["title"]
    found = errors_for(write, options, with_extension(experiment, blast_radius={"max_pods": 0}))
    assert any(e.startswith("title:") for e in found)
    assert any("max_pods" in e for e in found)


def test_two_aftershock_extensions(write, options, experiment) -> None:
    experiment["extensions"] = [
        {"name": "aftershock"},
        {"name": "other", "x": 1},
        {"name": "aftershock"},
    ]
    assert errors_for(write, options, experiment) == [
        "extensions[2]: more than one 'aftershock' extension; keep one"
    ]


def test_extensions_need_a_name(write, options, experiment) -> None:
    experiment["extensions"] = [{"schedule": {}}]
    assert errors_for(write, options, experiment) == ["extensions[0].name: 'name' is required"]


def test_looser_than_global_draws_a_warning(write, options, experiment) -> None:
    with_extension(experiment, blast_radius={"max_pods": 50})
    result = load_file(write("exp.yaml", experiment), options)
    assert result.ok
    assert any(
        "above the global limit 10; the global limit applies" in p.message for p in result.problems
    )


def test_windows_wrap_midnight_and_days_expand() -> None:
    window = Window.model_validate({"days": "fri-mon", "start": "22:00", "end": "02:00"})
    assert window.wraps_midnight
    assert window.days == ["fri", "sat", "sun", "mon"]
    assert Window.model_validate({"days": "weekends", "start": "0:00", "end": "24:00"}).days == [
        "sat",
        "sun",
    ]
    assert Window.model_validate({"start": "0:00", "end": "1:00"}).days == [
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
    ]


def test_schedule_describe() -> None:
    schedule = Schedule.model_validate(
        {"interval": "30m", "jitter": "5m", "timezone": "Europe/Paris", "enabled": False}
    )
    assert schedule.describe() == "every 30m ±5m (Europe/Paris) [schedule disabled]"


def test_defaults_are_empty_tightening() -> None:
    settings = AftershockSettings()
    assert settings.enabled
    assert settings.schedule is None
    assert settings.blast_radius.max_pods is None  # means: the global limit
    assert settings.recovery.timeout == timedelta(minutes=5)


def test_extensions_of_the_wrong_type_are_an_error_not_a_crash(write, options, experiment) -> None:
    experiment["extensions"] = True  # found by the fuzz test
    assert errors_for(write, options, experiment) == [
        "extensions: Input should be a valid list (got True)"
    ]
