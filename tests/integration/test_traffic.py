"""aftershock.traffic.attack against a local HTTP server: vegeta-like report (seed 004)."""

from __future__ import annotations

import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from daemon.catalog.extension import AftershockSettings
from daemon.engine.context import RunContext
from daemon.engine.errors import ActivityFailed
from daemon.engine.providers.traffic import attack
from daemon.engine.tolerances import within_tolerance
from daemon.settings import Settings


class _Handler(BaseHTTPRequestHandler):
    counter = itertools.count()

    def log_message(self, *args) -> None:
        return

    def do_GET(self) -> None:
        code = 500 if next(self.counter) % 4 == 3 else 200  # one in four fails
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def server():
    _Handler.counter = itertools.count()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def context() -> RunContext:
    return RunContext(
        experiment_id="t",
        run_id="t-1",
        settings=Settings(),
        aftershock=AftershockSettings(),
        kube=None,
        seed=1,
        dry_run=False,
        environ={},
    )


def test_report_counts_codes_success_and_latencies(server) -> None:
    report = attack(context(), server, rate=40, duration="1s")
    assert report["requests"] == 40
    assert report["status_codes"] == {"200": 30, "500": 10}
    assert report["success"] == 0.75
    latencies = report["latencies"]
    assert 0 < latencies["50th"] <= latencies["95th"] <= latencies["99th"] <= latencies["max"]
    assert report["errors"] == {}
    # "success ratio >= 0.99" as a Chaos Toolkit tolerance: this report misses it.
    tolerance = {"type": "range", "range": [0.99, 1.0], "target": "success"}
    assert within_tolerance(tolerance, report)[0] is False
    assert within_tolerance({**tolerance, "range": [0.7, 1.0]}, report)[0] is True


def test_unreachable_target_is_counted_not_raised() -> None:
    report = attack(context(), "http://127.0.0.1:9/", rate=5, duration="1s", timeout="200ms")
    assert report["requests"] == 5
    assert report["status_codes"] == {"0": 5}
    assert report["success"] == 0.0
    assert sum(report["errors"].values()) == 5


def test_stop_ends_the_attack_early(server) -> None:
    ctx = context()
    threading.Timer(0.3, ctx.request_stop, args=("shutdown", "test")).start()
    report = attack(ctx, server, rate=20, duration="30s")
    assert 0 < report["requests"] < 40


@pytest.mark.parametrize("rate", [0, -1, 5000])
def test_rate_outside_limits_is_an_activity_failure(rate) -> None:
    with pytest.raises(ActivityFailed, match="rate must be in"):
        attack(context(), "http://127.0.0.1:9/", rate=rate, duration="1s")
