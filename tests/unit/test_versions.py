"""One version, read from daemon/__init__.py, everywhere a user or a registry sees one."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version

import yaml
from click.testing import CliRunner

from daemon import __version__
from daemon.cli import cli
from tests.conftest import REPO


def test_the_version_is_semver() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+(?:[-+.][0-9A-Za-z.]+)?", __version__)


def test_cli_wheel_image_chart_and_kustomize_agree() -> None:
    shown = CliRunner().invoke(cli, ["--version"])
    assert shown.output.strip() == f"aftershock, version {__version__}"
    assert version("aftershock") == __version__  # the installed distribution's metadata
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.findall(r"^ARG VERSION=(\S+)$", dockerfile, re.MULTILINE) == [__version__]
    chart = yaml.safe_load((REPO / "deploy/helm/aftershock/Chart.yaml").read_text())
    assert chart["appVersion"] == __version__
    deployment = yaml.safe_load((REPO / "deploy/kustomize/base/deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"aftershock:{__version__}"


def test_the_version_is_declared_once() -> None:
    """pyproject.toml reads it from the package; nothing else may spell it out."""
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject
    assert 'version = { attr = "daemon.__version__" }' in pyproject
    module = subprocess.run(
        [sys.executable, "-m", "daemon", "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    assert __version__ in module.stdout
