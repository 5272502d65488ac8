"""The installed console script, run as a real process, as users and CI run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

EXE = shutil.which("aftershock", path=str(Path(sys.executable).parent)) or "aftershock"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.upper().startswith("AFTERSHOCK_")}
    return subprocess.run(
        [EXE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
        check=False,
    )


def test_demo_command_succeeds() -> None:
    result = run(
        "--config", "config/demo-settings.yaml", "validate", str(REPO / "config" / "experiments")
    )
    assert result.returncode == 0, result.stderr
    assert "5 experiment(s) loaded, 0 invalid" in result.stdout


def test_invalid_catalog_exits_1_and_json_parses(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(
        "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
        + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 10) + "]\n"
            for i in range(8)
        )
    )
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "huge.yaml").write_bytes(b"a: " + b"x" * (20 * 1024 * 1024))
    result = run("validate", "--json", str(tmp_path))
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    messages = {e["id"]: e["errors"][0]["message"] for e in report["experiments"]}
    assert "expands to more than 100,000 values" in messages["bomb"]
    assert "nested deeper than 64 levels" in messages["deep"]
    assert "over the limit of 1,048,576 bytes" in messages["huge"]
    assert "Traceback" not in result.stderr


def test_missing_path_exits_2() -> None:
    result = run("validate", "/definitely/not/here")
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_env_exits_2_with_the_variable_named() -> None:
    result = run(
        "validate",
        str(REPO / "config" / "experiments"),
        env={"AFTERSHOCK_SAFETY__DRY_RUN": "perhaps"},
    )
    assert result.returncode == 2
    assert "AFTERSHOCK_SAFETY__DRY_RUN='perhaps'" in result.stderr


@pytest.mark.parametrize("module", [["-m", "daemon", "--version"]])
def test_python_dash_m(module: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, *module], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith("aftershock, version")
