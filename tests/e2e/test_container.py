"""The container image cannot be built here (no Docker engine): lint the Dockerfile with
hadolint, check what it promises, and prove the wheel it installs starts `aftershock serve`
in a clean virtual environment."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from daemon import __version__
from tests.conftest import REPO

DOCKERFILE = REPO / "Dockerfile"


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    done = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_promises() -> None:
    text = DOCKERFILE.read_text()
    image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert image is not None
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+", image.group(1)), "pin the base image"
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) == 2  # wheels built, then runtime
    user = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert user == ["65532:65532"]  # numeric, non-root: runAsNonRoot can verify it
    assert 'ENTRYPOINT ["aftershock"]' in text
    assert 'CMD ["serve"]' in text
    assert f"ARG VERSION={__version__}" in text
    assert "org.opencontainers.image.version" in text
    assert 'VOLUME ["/var/lib/aftershock"]' in text  # the only writable path besides /tmp


def test_the_wheel_starts_serve_in_a_clean_venv(tmp_path) -> None:
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(wheels), str(REPO)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = wheels.glob(f"aftershock-{__version__}-*.whl")
    clean = tmp_path / "clean"
    venv.create(clean, with_pip=True)
    python = clean / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    helped = subprocess.run(
        [str(clean / "bin" / "aftershock"), "serve", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=tmp_path,  # not the repository: only the installed wheel can answer
    )
    assert helped.returncode == 0, helped.stderr
    assert "Run the daemon" in helped.stdout
    version = subprocess.run(
        [str(clean / "bin" / "aftershock"), "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert __version__ in version.stdout
