"""The Grafana dashboard: generated from code, complete, and consistent."""

from __future__ import annotations

import importlib.util
import json

from tests.conftest import REPO

DASHBOARD = REPO / "deploy" / "grafana" / "aftershock.json"


def generator():
    spec = importlib.util.spec_from_file_location("generate", REPO / "deploy/grafana/generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_json_is_what_the_generator_writes() -> None:
    assert DASHBOARD.read_text() == generator().render(), "run python deploy/grafana/generate.py"


def test_panels_cover_what_operators_asked_for() -> None:
    board = json.loads(DASHBOARD.read_text())
    panels = board["panels"]
    titles = " | ".join(p["title"].lower() for p in panels)
    for needed in (
        "outcome over time",
        "pass rate",
        "recovery time p50 / p95",
        "last recovery",
        "pods disrupted",
        "guard refusals",
        "next and last run",
        "halted",
        "leader",
        "dry-run",
        "schedule delay",
        "catalog",
    ):
        assert needed in titles, needed
    assert len({p["id"] for p in panels}) == len(panels)
    assert all(p["targets"] and all(t["expr"] for t in p["targets"]) for p in panels)
    assert next(p for p in panels if p["type"] == "state-timeline")
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"namespace", "experiment", "datasource"} <= variables
    slo = next(p for p in panels if p["title"].startswith("Recovery time"))
    steps = slo["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[-1]["value"] == 60  # the SLO line the alert uses too
