"""The container image cannot be built here (no Docker engine): lint the Dockerfile with
hadolint and check what it promises. tests/e2e/test_lock.py runs its build stage's install
commands and starts `aftershock serve` from what they installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
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
