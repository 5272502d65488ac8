"""`aftershock demo` as a newcomer runs it: passed and deviated runs, a refusal and recovery
times within a minute, a real /metrics scrape while it runs, and a clean exit."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

AFTERSHOCK = Path(sys.executable).parent / "aftershock"


def test_demo_shows_the_story_and_exports_metrics() -> None:
    process = subprocess.Popen(
        [
            str(AFTERSHOCK),
            "--log-level",
            "WARNING",
            "demo",
            "--duration",
            "30",
            "--port",
            "0",
            "--interval",
            "4",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True
    )
    reader.start()
    try:
        deadline = time.monotonic() + 60
        seen: set[str] = set()
        while time.monotonic() < deadline and not {"passed", "deviated", "refused"} <= seen:
            seen = {
                m for line in list(lines) for m in re.findall(r": (passed|deviated|refused)", line)
            }
            time.sleep(0.2)
        assert {"passed", "deviated", "refused"} <= seen, lines
        assert any("recovered" in line for line in lines)
        url = next(line.split()[-1] for line in lines if line.startswith("metrics:"))
        families = {f.name: f for f in text_string_to_metric_families(httpx.get(url).text)}
        outcomes = {
            s.labels["outcome"]
            for s in families["aftershock_experiment_runs"].samples
            if s.name.endswith("_total")
        }
        assert {"passed", "deviated", "refused"} <= outcomes
        assert any(s.value > 0 for s in families["aftershock_recovery_seconds"].samples)
        assert families["aftershock_dry_run"].samples[0].value == 0
        reasons = {s.labels["reason"] for s in families["aftershock_guard_refusals"].samples}
        assert reasons
        assert process.wait(timeout=60) == 0
        reader.join(timeout=5)
        assert lines[-1].strip() == "demo finished"
    finally:
        process.kill()
