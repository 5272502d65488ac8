"""`aftershock validate` output and exit codes: 0 valid, 1 invalid, 2 usage/settings errors."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from daemon import __version__
from daemon.cli import cli
from tests.conftest import REPO

DEMO = str(REPO / "config" / "experiments")
DEMO_SETTINGS = str(REPO / "config" / "demo-settings.yaml")


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    import os

    for name in list(os.environ):
        if name.upper().startswith("AFTERSHOCK_"):
            monkeypatch.delenv(name)
    return CliRunner()


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"aftershock, version {__version__}"


def test_demo_catalog_validates(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--config", DEMO_SETTINGS, "validate", DEMO])
    assert result.exit_code == 0, result.output
    assert "5 experiment(s) loaded, 0 invalid" in result.output
    assert "OK       " in result.output
    assert "id=greeter-kill  cron '*/15 9-17 * * mon-fri' ±2m (Europe/Paris)" in result.output
    assert "warning" not in result.output


def test_invalid_file_exits_1_with_located_errors(runner: CliRunner, write, experiment) -> None:
    experiment["method"][0]["provider"]["func"] = "terminate_podz"
    path = write("bad.yaml", experiment)
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"INVALID  {path}  id=bad" in result.output
    assert "error   line " in result.output
    assert (
        "method[0].provider.func: chaosk8s.pod.actions.terminate_podz is not supported"
        in result.output
    )
    assert "0 experiment(s) loaded, 1 invalid" in result.output


def test_json_report(runner: CliRunner, tmp_path, write, experiment) -> None:
    write("good.yaml", experiment)
    write("bad.yaml", "title: x\n")
    result = runner.invoke(cli, ["validate", "--json", str(tmp_path)])
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    assert {e["id"]: e["ok"] for e in report["experiments"]} == {"bad": False, "good": True}


def test_quiet_prints_only_problems(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--config", DEMO_SETTINGS, "validate", "-q", DEMO])
    assert result.exit_code == 0
    assert result.output.strip().splitlines() == ["5 experiment(s) loaded, 0 invalid"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["validate"], "Missing argument 'PATHS...'"),
        (["validate", "/does/not/exist"], "/does/not/exist: does not exist"),
        (["validate", "--frobnicate", DEMO], "No such option '--frobnicate'"),
        (["--config", "/nope.yaml", "validate", DEMO], "settings file /nope.yaml does not exist"),
        (["explode"], "No such command 'explode'"),
    ],
)
def test_usage_errors_exit_2(runner: CliRunner, args: list[str], fragment: str) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert fragment in result.output


def test_symlink_loop_argument_is_a_usage_error(runner: CliRunner, tmp_path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    result = runner.invoke(cli, ["validate", str(loop)])
    assert result.exit_code == 2
    assert "symbolic link loop" in result.output


def test_bad_settings_exit_2_naming_the_variable(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AFTERSHOCK_SAFETY__MAX_PODS", "-1")
    result = runner.invoke(cli, ["validate", DEMO])
    assert result.exit_code == 2
    assert "invalid settings" in result.output
    assert "AFTERSHOCK_SAFETY__MAX_PODS='-1': Input should be greater than 0" in result.output


def test_help_works_even_with_bad_settings(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AFTERSHOCK_SAFETY__MAX_PODS", "-1")
    result = runner.invoke(cli, ["validate", "--help"])
    assert result.exit_code == 0
    assert "PATH" in result.output


def test_plan_prints_upcoming_fire_times_inside_the_schedule(runner: CliRunner) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    result = runner.invoke(cli, ["plan", DEMO, "--hours", "336", "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    greeter = plan["experiments"]["greeter-kill"]
    assert greeter["schedule"].startswith("cron '*/15 9-17 * * mon-fri'")
    assert greeter["fires"], "two weeks always hold weekday office hours"
    for text in greeter["fires"]:
        local = datetime.fromisoformat(text).astimezone(ZoneInfo("Europe/Paris"))
        assert local.weekday() < 5
        assert 9 <= local.hour <= 17
    mtbf = plan["experiments"]["greeter-random-weekdays"]["fires"]
    again = json.loads(runner.invoke(cli, ["plan", DEMO, "--hours", "336", "--json"]).output)
    assert again["experiments"]["greeter-random-weekdays"]["fires"] == mtbf  # planned, stable
    text = runner.invoke(cli, ["plan", DEMO, "--hours", "1"])
    assert text.exit_code == 0
    assert "greeter-kill: cron" in text.output
