"""Issue 12, finding 12 for the command line, as real processes: no traceback from any
input, a journal that cannot be written is a non-zero exit, secrets stay out of output."""

from __future__ import annotations

import json
import resource
import subprocess
from pathlib import Path

import pytest

from tests.integration.engine_helpers import greeter_experiment
from tests.integration.test_cli_process import run as cli
from tests.integration.test_engine import story
from tests.integration.test_run_cli import command

SECRET = "cli-s3cr3t/Value"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e300", "NaN"])
@pytest.mark.parametrize(
    "argv",
    [["plan", "--hours"], ["demo", "--interval"], ["demo", "--duration"]],
    ids=["plan-hours", "demo-interval", "demo-duration"],
)
def test_numeric_options_refuse_non_finite_and_out_of_range(argv: list[str], value: str) -> None:
    result = cli(*argv, value)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert f"Invalid value for '{argv[1]}'" in result.stderr


@pytest.mark.parametrize(
    "content",
    [bytes(range(256)) * 8, b"apiVersion: v1\nclusters: 5\n", b"- a\n- b\n", b"{{{"],
    ids=["binary", "wrong-shape", "a-list", "bad-yaml"],
)
def test_a_bad_kubeconfig_is_a_clear_exit_2(sim, tmp_path: Path, content: bytes) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_bytes(content)
    argv, env = command(sim, tmp_path, greeter_experiment(), "--kubeconfig", str(kubeconfig))
    done = subprocess.run(
        argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "--kubeconfig" in done.stderr
    assert "cannot load kubeconfig" in done.stderr
    assert not (tmp_path / "journal.json").exists()


def test_journal_in_proc_is_refused_before_any_chaos(make_sim, tmp_path: Path) -> None:
    sim = make_sim(story(3))
    sim.ready()
    argv, env = command(
        sim, tmp_path, greeter_experiment(), "--no-dry-run", "--journal", "/proc/j.json"
    )
    done = subprocess.run(
        argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2, done.stderr
    assert "--journal" in done.stderr
    assert "Traceback" not in done.stderr
    assert sim.timeline() == []


def test_a_journal_that_cannot_be_written_after_the_run_exits_4(make_sim, tmp_path: Path) -> None:
    """The directory passes the pre-check, then the write fails (file size limit: EFBIG).
    The run passed (exit 0 otherwise); the lost journal makes it exit 4, printed on stdout."""
    sim = make_sim(story(3))
    sim.ready()
    argv, env = command(
        sim, tmp_path, greeter_experiment(), settings={"safety": {"max_percent": 50}}
    )

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

    done = subprocess.run(
        argv,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=small_files,
    )
    assert done.returncode == 4, (done.stdout[-500:], done.stderr[-2000:])
    assert "cannot write the journal" in done.stderr
    assert "outcome: passed" in done.stdout
    assert "journal NOT written" in done.stdout
    printed = done.stdout[: done.stdout.rindex("outcome:")]
    assert json.loads(printed)["aftershock"]["outcome"] == "passed"
    assert "Traceback" not in done.stderr


def test_secrets_stay_out_of_the_journal_logs_and_output(sim, tmp_path: Path) -> None:
    experiment = greeter_experiment(
        method=[
            {
                "type": "action",
                "name": "call-with-token",
                "provider": {
                    "type": "http",
                    "url": "http://127.0.0.1:1/?token=${token}",
                    "timeout": 2,
                },
            }
        ]
    )
    experiment["secrets"] = {"api": {"token": SECRET}}
    argv, env = command(sim, tmp_path, experiment, settings={"logging": {"level": "DEBUG"}})
    done = subprocess.run(
        argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 4, done.stderr  # failed: activity_failed
    journal = (tmp_path / "journal.json").read_text()
    assert "token=***" in journal
    assert "activity_failed" in done.stderr  # the error is logged, masked
    for text in (journal, done.stdout, done.stderr):
        assert SECRET not in text
        assert "cli-s3cr3t%2FValue" not in text


def test_declared_secrets_are_masked_even_when_resolution_fails(sim, tmp_path: Path) -> None:
    experiment = greeter_experiment()
    experiment["secrets"] = {
        "inline": {"token": SECRET},
        "env": {"missing": {"type": "env", "key": "AFTERSHOCK_TEST_UNSET_VARIABLE"}},
    }
    argv, env = command(sim, tmp_path, experiment)
    done = subprocess.run(
        argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 4, done.stderr
    journal = (tmp_path / "journal.json").read_text()
    assert json.loads(journal)["aftershock"]["reason"] == "invalid_configuration"
    assert "AFTERSHOCK_TEST_UNSET_VARIABLE" in journal  # the variable's name is not secret
    for text in (journal, done.stdout, done.stderr):
        assert SECRET not in text
