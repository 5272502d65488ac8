"""uv.lock is the one source of every installed version: bootstrap, the image and the tests.

The lock is checked against pyproject.toml, the lock tool's own version is the one the lock
records, and the Dockerfile's install commands are run (offline, from uv's cache) to prove
the image gets exactly the runtime part of the lock and starts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from daemon import __version__
from tests.conftest import REPO

UV = Path(sys.executable).parent / "uv"
LOCK = tomllib.loads((REPO / "uv.lock").read_text())


def uv(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [UV, *args],
        cwd=cwd,
        env={**os.environ, "UV_OFFLINE": "1", "UV_PYTHON_DOWNLOADS": "never", **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def project_copy(tmp_path: Path) -> Path:
    """What uv needs to read the project (metadata is built: the version is dynamic)."""
    copy = tmp_path / "project"
    copy.mkdir()
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(REPO / name, copy / name)
    shutil.copytree(REPO / "daemon", copy / "daemon", ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def locked_version(name: str) -> str:
    (package,) = [p for p in LOCK["package"] if p["name"] == name]
    return str(package["version"])


def test_the_lock_agrees_with_pyproject(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    checked = uv("lock", "--check", cwd=project)
    assert checked.returncode == 0, checked.stderr
    # ... and the check really notices a disagreement. Offline (as here) uv cannot re-resolve,
    # so a stale lock fails either as "needs to be updated" or as an unresolvable change:
    # both are a failed check, which is what keeps CI from passing on a stale lock.
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"click>=8.1",', '"click>=8.2",'))
    stale = uv("lock", "--check", cwd=project)
    assert stale.returncode != 0, stale.stderr
    assert "satisfies" not in stale.stderr


def test_every_locked_file_has_a_hash() -> None:
    for package in LOCK["package"]:
        if package.get("source", {}).get("editable") == ".":
            continue  # aftershock itself
        files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        assert files, package["name"]
        assert all(f["hash"].startswith("sha256:") for f in files), package["name"]


def test_the_lock_tool_is_the_locked_one() -> None:
    installed = subprocess.run([UV, "--version"], capture_output=True, text=True, check=True)
    assert installed.stdout.split()[1] == locked_version("uv")
    pin = subprocess.run(
        [sys.executable, REPO / "scripts/pin_from_lock.py", "uv"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert pin.startswith(f"uv=={locked_version('uv')} --hash=sha256:")


def test_pin_from_lock_names_what_is_wrong(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, REPO / "scripts/pin_from_lock.py", "no-such-package"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert "'no-such-package' appears 0 times in the lock" in done.stderr


def build_stage(dockerfile: str) -> str:
    return dockerfile.split("\nFROM ", 2)[1]


def test_the_dockerfile_installs_only_from_the_lock() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    stage = build_stage(dockerfile)
    assert "pin_from_lock.py uv" in stage
    assert "--require-hashes" in stage
    syncs = re.findall(r"^RUN (uv sync .*)$", stage, re.MULTILINE)
    assert syncs, "the image must be installed with uv sync"
    assert all("--locked" in s and "--no-default-groups" in s for s in syncs), syncs
    assert not re.search(r"pip (wheel|install) (?!.*--require-hashes)", dockerfile)


def test_the_dockerfile_build_stage_installs_the_runtime_lock_and_starts(tmp_path: Path) -> None:
    """Run the build stage's own COPY and `uv sync` lines (no Docker engine here)."""
    stage = build_stage((REPO / "Dockerfile").read_text())
    src = tmp_path / "src"
    src.mkdir()
    for sources, destination in re.findall(r"^COPY (?!--from)(.+) (\S+)$", stage, re.MULTILINE):
        for source in sources.split():
            target = src / destination / (Path(source).name if destination.endswith("/") else "")
            target.parent.mkdir(parents=True, exist_ok=True)
            if (REPO / source).is_dir():
                shutil.copytree(
                    REPO / source, src / destination, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy2(REPO / source, target if destination.endswith("/") else src / source)
    env = {"UV_PROJECT_ENVIRONMENT": str(tmp_path / "opt"), "UV_LINK_MODE": "copy"}
    for command in re.findall(r"^RUN (uv sync .*)$", stage, re.MULTILINE):
        done = uv(*command.split()[1:], "--python", sys.executable, cwd=src, env=env)
        assert done.returncode == 0, f"{command}: {done.stderr}"
    python = tmp_path / "opt" / "bin" / "python"
    installed = subprocess.run(
        [UV, "pip", "freeze", "--python", python], capture_output=True, text=True, check=True
    ).stdout
    exported = uv("export", "--no-default-groups", "--no-emit-project", "--no-hashes", cwd=src)
    assert exported.returncode == 0, exported.stderr
    wanted = {
        line.split(";")[0].strip().lower()
        for line in exported.stdout.splitlines()
        if line and not line.startswith(("#", " "))
    }
    # On this interpreter only (the lock also holds forks for newer Pythons).
    got = {line.strip().lower() for line in installed.splitlines() if "==" in line}
    assert got == wanted, (got - wanted, wanted - got)
    assert [line for line in installed.splitlines() if line.startswith("aftershock")], installed
    assert {"pytest", "ruff", "uv", "hypothesis"}.isdisjoint(g.split("==")[0] for g in got)
    exe = tmp_path / "opt" / "bin" / "aftershock"
    for argv, expected in (
        (["--version"], __version__),
        (["serve", "--help"], "Run the daemon"),
    ):
        done = subprocess.run(
            [exe, *argv], capture_output=True, text=True, check=False, cwd=tmp_path, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert expected in done.stdout
