"""A real Prometheus scrapes `aftershock demo`; every dashboard query and every alert
expression must parse on that server and every metric they read must exist in the scrape."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import REPO
from tests.e2e.promql import metric_names
from tests.integration.conftest import wait_for
from tests.receivers import Receiver

AFTERSHOCK = Path(sys.executable).parent / "aftershock"
DASHBOARD = REPO / "deploy" / "grafana" / "aftershock.json"
RULES = REPO / "deploy" / "prometheus" / "rules.yaml"
VARIABLES = {"$experiment": ".*", "$namespace": ".*", "$__rate_interval": "1m", "$__range": "1h"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dashboard_queries() -> list[tuple[str, str]]:
    board = json.loads(DASHBOARD.read_text())
    out = []
    for panel in board["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            out.append((panel["title"], expr))
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            inner = re.fullmatch(r"label_values\((\w+), *\w+\)", variable["definition"])
            assert inner, variable["definition"]
            out.append((f"variable {variable['name']}", inner.group(1)))
    return out


def alert_queries() -> list[tuple[str, str]]:
    rules = yaml.safe_load(RULES.read_text())
    return [(r["alert"], r["expr"]) for g in rules["groups"] for r in g["rules"]]


def test_dashboard_and_alerts_against_a_real_prometheus(tmp_path) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.fail("prometheus is not installed; `scripts/bootstrap --test` installs it")
    receiver = Receiver()  # the notifications panel and alert read a real sink's counter
    receiver.thread.start()
    sinks = [{"name": "e2e", "type": "webhook", "url": receiver.url, "outcomes": "all"}]
    demo = subprocess.Popen(
        [
            str(AFTERSHOCK),
            "--log-level",
            "WARNING",
            "demo",
            "--duration",
            "120",
            "--port",
            "0",
            "--interval",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "AFTERSHOCK_NOTIFY__SINKS": json.dumps(sinks)},
    )
    lines: list[str] = []
    threading.Thread(
        target=lambda: lines.extend(iter(demo.stdout.readline, "")), daemon=True
    ).start()
    server = None
    try:
        metrics_url = wait_for(
            lambda: next((x.split()[-1] for x in list(lines) if x.startswith("metrics:")), None),
            30,
            "the demo's metrics URL",
        )
        target = metrics_url.removeprefix("http://").removesuffix("/metrics")
        config = tmp_path / "prometheus.yml"
        config.write_text(
            yaml.safe_dump(
                {
                    "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                    "rule_files": [str(RULES)],
                    "scrape_configs": [
                        {"job_name": "aftershock", "static_configs": [{"targets": [target]}]}
                    ],
                }
            )
        )
        port = free_port()
        server = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        api = f"http://127.0.0.1:{port}/api/v1"

        def query(expr: str) -> dict:
            return httpx.get(f"{api}/query", params={"query": expr}, timeout=10).json()

        def has_series(name: str) -> bool:
            answer = httpx.get(f"{api}/series", params={"match[]": name}, timeout=10).json()
            return answer["status"] == "success" and bool(answer["data"])

        # Enough runs for every kind of series: a pass, a deviation, a refusal, a recovery.
        wait_for(
            lambda: (
                {"passed", "deviated", "refused"}
                <= {m for x in list(lines) for m in re.findall(r": (passed|deviated|refused)", x)}
            ),
            90,
            "demo runs",
        )
        wait_for(lambda: has_series("aftershock_recovery_seconds_bucket"), 30, "a scrape")
        time.sleep(2)  # one more scrape after the last run line
        missing, failed = [], []
        for source, expr in dashboard_queries() + alert_queries():
            answer = query(expr)
            if answer.get("status") != "success":
                failed.append((source, expr, answer.get("error")))
            missing += [(source, name) for name in metric_names(expr) if not has_series(name)]
        assert failed == []
        assert missing == []
        rules = httpx.get(f"{api}/rules", timeout=10).json()["data"]["groups"][0]["rules"]
        assert {r["health"] for r in rules} == {"ok"}, rules
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        demo.terminate()
        demo.wait(timeout=60)
        receiver.server.shutdown()
        receiver.server.server_close()
