"""Hostile review F9, end to end: a malformed "success" from Prometheus never lets chaos in.

A fake Prometheus answers HTTP 200 with each body below; the run must be refused before
any call to the cluster (ground truth: the simulator's timeline), as for an unreachable
Prometheus, and inject as before when `safety.stop_conditions_fail_open` says so.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.integration.engine_helpers import greeter_experiment, run_experiment

BODIES = {
    "no data": {"status": "success"},
    "null result": {"status": "success", "data": {"resultType": "vector", "result": None}},
    "empty matrix": {"status": "success", "data": {"resultType": "matrix", "result": []}},
    "sample without value": {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}}]},
    },
    "not an object": [],
    "not JSON": "<html>proxy login</html>",
    "JSON nested too deep": "[" * 100_000,
}


class RawPrometheus(ThreadingHTTPServer):
    """Answers every query with HTTP 200 and `body`."""

    def __init__(self, body: object):
        self.body = body if isinstance(body, str) else json.dumps(body)
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: RawPrometheus

    def log_message(self, *args) -> None:
        return

    def do_GET(self) -> None:
        body = self.server.body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def raw_prometheus():
    servers: list[RawPrometheus] = []

    def start(body: object) -> RawPrometheus:
        servers.append(RawPrometheus(body))
        return servers[-1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("body", BODIES.values(), ids=list(BODIES))
def test_a_malformed_success_refuses_before_chaos(sim, raw_prometheus, body) -> None:
    prometheus = raw_prometheus(body)
    result = run_experiment(
        sim,
        greeter_experiment(),
        aftershock={"stop_conditions": ["up == 0"]},
        prometheus_url=prometheus.url,
    )
    assert (result.outcome, result.reason) == ("refused", "stop_conditions_unavailable")
    assert sim.timeline() == []
    (record,) = result.journal["aftershock"]["stop_conditions"]
    assert record["result"] == "unavailable"


def test_fail_open_still_injects_on_a_malformed_answer(sim, raw_prometheus) -> None:
    prometheus = raw_prometheus(BODIES["no data"])
    result = run_experiment(
        sim,
        greeter_experiment(),
        safety={"stop_conditions_fail_open": True},
        aftershock={"stop_conditions": ["up == 0"]},
        prometheus_url=prometheus.url,
    )
    assert result.outcome != "refused", result.journal["aftershock"]
    assert len(sim.timeline()) == 1


def test_a_malformed_answer_mid_run_aborts(sim, raw_prometheus) -> None:
    """Well-formed and empty before the kill, then `{"status": "success"}`: the run stops."""
    from tests.integration.conftest import wait_for

    prometheus = raw_prometheus(
        {"status": "success", "data": {"resultType": "vector", "result": []}}
    )
    experiment = greeter_experiment()
    experiment["method"][0]["pauses"] = {"after": 4}

    def break_after_kill() -> None:
        wait_for(sim.timeline, 10, "the kill")
        prometheus.body = json.dumps(BODIES["no data"])

    threading.Thread(target=break_after_kill, daemon=True).start()
    result = run_experiment(
        sim,
        experiment,
        safety={"stop_condition_interval": "1s"},
        aftershock={"stop_conditions": ["up == 0"]},
        prometheus_url=prometheus.url,
    )
    assert (result.outcome, result.reason) == ("aborted", "stop_conditions_unavailable")
    assert len(sim.timeline()) == 1  # the one kill before Prometheus broke, no more
