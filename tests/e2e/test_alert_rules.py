"""Alert rules: promtool checks and unit tests, every alert fires and stays silent in a test,
every metric an alert reads is one the daemon exports, every runbook exists."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from daemon.observability.metrics import DaemonState, ExperimentState, Metrics
from tests.conftest import REPO
from tests.e2e.promql import metric_names

RULES = REPO / "deploy" / "prometheus" / "rules.yaml"
RULE_TESTS = REPO / "deploy" / "prometheus" / "rules_test.yaml"
PROMETHEUS_OWN = {"up"}  # series Prometheus itself writes for every target
RUNBOOKS = "docs/operations/alerts.md"  # each alert's runbook_url is a section of this page


def runbook_anchors() -> set[str]:
    """The section anchors of the runbooks page, as MkDocs (and GitHub) make them."""
    text = (REPO / RUNBOOKS).read_text()
    return {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    }


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool is not installed; `scripts/bootstrap --test` installs Debian prometheus"
        )
    return found


def alerts() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def exported_metric_names() -> set[str]:
    """Every sample name the daemon's registry can expose (labels filled in once)."""
    registry = CollectorRegistry()
    state = DaemonState(
        experiments={"e": ExperimentState("passed", 1.0, 2.0, 1.0)}, catalog={"loaded": 1}
    )
    metrics = Metrics(registry, lambda: state)
    metrics.run_finished(
        "e",
        {
            "duration": 1.0,
            "aftershock": {
                "outcome": "refused",
                "reason": "pdb",
                "hypothesis_checks": [{"phase": "before", "met": True, "errored": False}],
                "disrupted": [{"workload": "shop/Deployment/web", "method": "delete", "pod": "p"}],
                "recovery": [{"namespace": "shop", "name": "web", "recovery_seconds": 1.0}],
            },
        },
    )
    metrics.schedule_delay.observe(0.1)
    metrics.kube_request("list", "pods", 200)
    metrics.notification("team-slack", "sent")
    text = generate_latest(registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def test_promtool_check_and_unit_tests_pass() -> None:
    checked = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool(), "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_fires_and_stays_silent_in_a_test() -> None:
    cases = [
        case
        for test in yaml.safe_load(RULE_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    for rule in alerts():
        name = rule["alert"]
        mine = [c for c in cases if c["alertname"] == name]
        assert any(c["exp_alerts"] for c in mine), f"{name} never fires in rules_test.yaml"
        assert any(not c["exp_alerts"] for c in mine), f"{name} is never shown silent"


def test_alerts_are_documented_and_read_only_exported_metrics() -> None:
    exported = exported_metric_names()
    for rule in alerts():
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])
        page, anchor = rule["annotations"]["runbook_url"].split("#", 1)
        assert page == RUNBOOKS, f"{rule['alert']}'s runbook is not on {RUNBOOKS}"
        assert anchor in runbook_anchors(), f"{RUNBOOKS} has no runbook section for {rule['alert']}"
        unknown = metric_names(rule["expr"]) - exported - PROMETHEUS_OWN
        assert not unknown, f"{rule['alert']} reads metrics aftershock does not export: {unknown}"
