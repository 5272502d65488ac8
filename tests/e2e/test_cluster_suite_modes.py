"""The real-cluster mode itself, exercised here: scripts/cluster_suite.py starts a simulated
cluster in a separate process and runs tests/cluster against it through
AFTERSHOCK_TEST_KUBECONFIG, as CI does against kind. Every test must pass; none may skip
but the real-cluster-only ones (the separately started simulator still answers /sim/v1,
so simulator-only tests run)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import REPO

ENV = "AFTERSHOCK_TEST_KUBECONFIG"


@pytest.mark.skipif(bool(os.environ.get(ENV)), reason=f"{ENV} is set: already the nested run")
def test_the_suite_passes_against_a_separately_started_simulator(tmp_path) -> None:
    report = tmp_path / "junit.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "cluster_suite.py"),
            "-q",
            "-n",
            "0",
            f"--junitxml={report}",
            f"--basetemp={tmp_path / 'nested'}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert "separately started simulator" in done.stderr, done.stderr[-3000:]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    cases = ET.parse(report).getroot().iter("testcase")
    outcomes: dict[str, list[str]] = {}
    for case in cases:
        name = f"{case.get('classname')}::{case.get('name')}"
        outcomes[name] = [
            child.tag
            for child in case
            if child.tag in {"failure", "error"}
            or (child.tag == "skipped" and "real cluster only" not in child.get("message", ""))
        ]
    assert len(outcomes) >= 10
    # Nothing failed, and only tests that need containers skipped (the simulator runs none).
    assert {name: tags for name, tags in outcomes.items() if tags} == {}
