"""The layer contracts of docs/architecture.md ("Layers"): `lint-imports` keeps them on the
repository as it is, and catches each kind of forbidden import planted in a copy of it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# (contract name as printed, module to plant, the import it makes)
PLANTED = [
    pytest.param(
        "Only daemon.kube imports kubernetes",
        "daemon/engine/planted.py",
        "import kubernetes.client\n",
        id="kubernetes-outside-kube",
    ),
    pytest.param(
        "Only daemon.kube imports kubernetes",
        "daemon/simulator/planted.py",
        "from kubernetes import client\n",
        id="kubernetes-in-simulator",
    ),
    pytest.param(
        "The simulator imports nothing from the engine",
        "daemon/simulator/planted.py",
        "from daemon.engine import runner\n",
        id="simulator-imports-engine",
    ),
    pytest.param(
        "The simulator imports nothing from the engine",
        "daemon/simulator/planted.py",
        "import daemon.service\n",
        id="simulator-imports-service",
    ),
    pytest.param(
        "The API depends on the daemon, never the reverse",
        "daemon/store/planted.py",
        "from daemon.api import app\n",
        id="daemon-imports-api",
    ),
    pytest.param(
        "Settings do not depend on the catalog",
        "daemon/settings.py",
        "from daemon.catalog import loader\n",
        id="settings-imports-catalog",
    ),
]


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(project / "pyproject.toml")],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def project_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    copy.mkdir()
    shutil.copy2(REPO / "pyproject.toml", copy / "pyproject.toml")
    shutil.copytree(REPO / "daemon", copy / "daemon", ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_the_repository_keeps_every_contract(tmp_path: Path) -> None:
    # On a copy, so that whatever lint-imports writes stays out of the work tree.
    checked = lint_imports(project_copy(tmp_path))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "0 broken" in checked.stdout


@pytest.mark.parametrize(("contract", "module", "source"), PLANTED)
def test_a_planted_forbidden_import_breaks_its_contract(
    tmp_path: Path, contract: str, module: str, source: str
) -> None:
    project = project_copy(tmp_path)
    planted = project / module
    before = planted.read_text() if planted.exists() else ""
    planted.write_text(before + "\n" + source)  # a new module, or an import added at the end
    checked = lint_imports(project)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    broken = [line for line in checked.stdout.splitlines() if line.endswith("BROKEN")]
    assert broken, checked.stdout
    assert all(line.startswith(contract) for line in broken), broken
    importer = module.removesuffix(".py").replace("/", ".")
    assert importer in checked.stdout, checked.stdout  # the report names the culprit
