"""The image's contents, checked without a Docker engine: the wheel built from this tree,
installed with exactly the locked runtime dependencies into a clean virtual environment
(offline, from uv's cache), runs `aftershock serve --help` and `aftershock demo-app`, which
answers HTTP as the shop's pods do."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.e2e.test_lock import UV, project_copy, uv


def test_the_wheel_with_the_locked_runtime_runs_serve_and_demo_app(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    built = uv("build", "--wheel", "--out-dir", tmp_path / "dist", cwd=project)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("aftershock-*.whl")

    requirements = tmp_path / "requirements.txt"
    exported = uv(
        "export",
        "--no-default-groups",
        "--no-emit-project",
        "--output-file",
        requirements,
        cwd=project,
    )
    assert exported.returncode == 0, exported.stderr
    assert "--hash=sha256:" in requirements.read_text()
    venv = tmp_path / "venv"
    made = uv("venv", "--python", sys.executable, venv, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    for args in (
        ["--require-hashes", "-r", requirements],
        ["--no-deps", wheel],
    ):
        done = uv("pip", "install", "--python", python, *args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    frozen = subprocess.run(
        [UV, "pip", "freeze", "--python", python], capture_output=True, text=True, check=True
    ).stdout
    assert {"pytest", "ruff", "hypothesis"}.isdisjoint(
        line.split("==")[0].lower() for line in frozen.splitlines()
    )

    exe = venv / "bin" / "aftershock"
    helped = subprocess.run(
        [exe, "serve", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert helped.returncode == 0, helped.stderr
    assert "Run the daemon" in helped.stdout

    app = subprocess.Popen(
        [exe, "demo-app", "--service", "greeter", "--host", "127.0.0.1", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOSTNAME": "greeter-abc12"},
    )
    try:
        assert app.stderr is not None
        line = app.stderr.readline()
        match = re.search(r"serving on (http://\S+)", line)
        assert match, line
        url = match.group(1)
        with urllib.request.urlopen(url, timeout=10) as answer:
            assert answer.status == 200
            assert answer.read().decode() == "greeter answered by greeter-abc12\n"
        with urllib.request.urlopen(url + "healthz", timeout=10) as answer:
            assert answer.status == 200
    finally:
        app.send_signal(signal.SIGTERM)
        assert app.wait(timeout=15) == 0
