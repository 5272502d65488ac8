"""`aftershock demo` as a newcomer runs it: every outcome kind within the demo (passed with a
recovery, the seed-001 deviation, a guard refusal with its reason, an abort by a stop
condition judged by a real Prometheus), repeated refusals folded, a summary table, no raw
library log line, a real /metrics scrape while it runs, and a clean exit that takes its
Prometheus with it.

The demo's default is 120 s (scripts/demo); its story completes in about 30 s, so this test
runs it with --duration STORY_SECONDS, asserts that every part of the story happened by
then, and stops it with Ctrl-C (SIGINT) at CTRL_C_AFTER: the Prometheus it started must be
gone too. The --duration exit is covered by the test without Prometheus.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

AFTERSHOCK = Path(sys.executable).parent / "aftershock"
STORY_SECONDS = 60
CTRL_C_AFTER = 50
KINDS = {
    "passed": re.compile(r"^\S+  [\w-]+: passed .*recovered "),
    "deviated": re.compile(r"^\S+  greeter-kill: deviated \(hypothesis_"),
    "refused": re.compile(r"^\S+  [\w-]+: refused \((cooldown|max_disruptions_per_day)\)"),
    "aborted": re.compile(r"^\S+  webapp-errors-guarded: aborted \(stop_condition\)"),
}
LIBRARY_WORDS = ("Execution of job", "maximum number of running instances", "apscheduler")


class Demo:
    def __init__(self, tmp: Path, *args: str):
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [str(AFTERSHOCK), "--log-level", "ERROR", "demo", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TMPDIR": str(tmp)},  # its state and Prometheus's data
        )
        self.lines: list[tuple[float, str]] = []
        self.errors: list[str] = []
        self._threads = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(
                target=lambda: self.errors.extend(iter(self.process.stderr.readline, "")),
                daemon=True,
            ),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self) -> None:
        for line in iter(self.process.stdout.readline, ""):
            self.lines.append((time.monotonic() - self.started, line.rstrip("\n")))

    def text(self) -> list[str]:
        return [line for _, line in list(self.lines)]

    def first(self, pattern: re.Pattern[str]) -> float | None:
        return next((at for at, line in list(self.lines) if pattern.search(line)), None)

    def value(self, prefix: str) -> str:
        return next(line.split()[1] for line in self.text() if line.startswith(prefix))

    def finish(self, timeout: float) -> int:
        code = self.process.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=5)
        return code


def _seen(demo: Demo) -> set[str]:
    return {kind for kind, pattern in KINDS.items() if demo.first(pattern) is not None}


def _metrics(url: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(httpx.get(url, timeout=10).text)}


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="needs the prometheus binary")
def test_demo_tells_the_whole_story(tmp_path: Path, record_property) -> None:
    demo = Demo(tmp_path, "--duration", str(STORY_SECONDS))
    try:
        deadline = time.monotonic() + STORY_SECONDS
        while time.monotonic() < deadline and _seen(demo) != set(KINDS):
            time.sleep(0.2)
        assert _seen(demo) == set(KINDS), demo.text()
        # The lines come from the printer listener, the counters from the metrics listener,
        # on another worker: the last run's line can be out before that run is counted.
        counted = time.monotonic() + 10
        while True:
            families = _metrics(demo.value("metrics:"))
            outcomes = {
                s.labels["outcome"]
                for s in families["aftershock_experiment_runs"].samples
                if s.name.endswith("_total") and s.value > 0
            }
            recovered = any(s.value > 0 for s in families["aftershock_recovery_seconds"].samples)
            reasons = {s.labels["reason"] for s in families["aftershock_guard_refusals"].samples}
            if time.monotonic() > counted or (
                {"passed", "deviated", "refused", "aborted"} <= outcomes
                and recovered
                and reasons & {"cooldown", "max_disruptions_per_day"}
            ):
                break
            time.sleep(0.2)
        assert {"passed", "deviated", "refused", "aborted"} <= outcomes
        assert recovered
        assert families["aftershock_dry_run"].samples[0].value == 0
        assert reasons & {"cooldown", "max_disruptions_per_day"}
        prometheus = demo.value("prometheus:").rstrip("/")
        # The stop condition was judged by the demo's Prometheus, from the services' counters.
        answer = httpx.get(
            f"{prometheus}/api/v1/query",
            params={"query": 'sum(http_requests_total{namespace="shop", code=~"5.."})'},
            timeout=10,
        ).json()
        assert float(answer["data"]["result"][0]["value"][1]) > 0

        # Long enough for repeated refusals to fold, then Ctrl-C: the demo stops in order.
        time.sleep(max(0.0, demo.started + CTRL_C_AFTER - time.monotonic()))
        demo.process.send_signal(signal.SIGINT)
        assert demo.finish(timeout=90) == 0
    finally:
        demo.process.kill()
    lines = demo.text()
    assert lines[-1] == "demo finished"
    assert any(re.match(r"^experiment +.*passed.*recovery p50$", line) for line in lines)
    with pytest.raises(httpx.TransportError):  # the demo's Prometheus went with it
        httpx.get(f"{prometheus}/-/ready", timeout=2)
    # Repeated identical refusals are folded: never the same refusal line twice in a row for
    # an experiment; the repeats come back as one "refused (reason) \u00d7N since HH:MM:SS" line.
    previous: dict[str, str] = {}
    for line in lines:
        match = re.match(r"^\S+  ([\w-]+): (\w+( \(\w+\))?( \u00d7)?)", line)
        if match is None:
            continue
        experiment, said = match.group(1), match.group(2)
        assert not (said.startswith("refused") and previous.get(experiment) == said), line
        previous[experiment] = said
    folded = re.compile(": refused \\(\\w+\\) \u00d7\\d+ since \\d\\d:\\d\\d:\\d\\d$")
    assert any(folded.search(line) for line in lines), lines
    assert sum("skipped, its previous run is still going" in line for line in lines) <= 1
    # No raw library line: nothing on stderr at --log-level ERROR that is not aftershock's own.
    for line in demo.errors:
        assert not any(word in line for word in LIBRARY_WORDS), line
        assert json.loads(line)["logger"].startswith("aftershock"), line
    for line in lines:
        assert not any(word in line for word in LIBRARY_WORDS), line
    first_line = demo.lines[0][0]
    first_abort = demo.first(KINDS["aborted"])
    record_property("seconds_to_first_line", round(first_line, 1))
    record_property("seconds_to_first_abort", round(first_abort or -1, 1))


def test_demo_without_prometheus_says_once_what_it_skips(tmp_path: Path) -> None:
    demo = Demo(tmp_path, "--duration", "3", "--prometheus", "none")
    try:
        assert demo.finish(timeout=90) == 0
    finally:
        demo.process.kill()
    lines = demo.text()
    said = [line for line in lines if "no `prometheus` binary" in line]
    assert len(said) == 1, lines
    assert "apt-get install prometheus" in said[0]
    assert lines[-1] == "demo finished"
    assert not demo.errors
