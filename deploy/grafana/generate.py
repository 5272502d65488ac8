"""Generate deploy/grafana/aftershock.json (run: python deploy/grafana/generate.py).

The dashboard is code so its queries can be reviewed and tested: a test re-generates it
and compares, and the e2e test runs every query against a real Prometheus scraping the
demo, so a panel never reads a metric that does not exist.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from daemon.outcomes import Outcome

OUT = Path(__file__).with_name("aftershock.json")
DS = {"type": "prometheus", "uid": "${datasource}"}
EXP = 'experiment=~"$experiment"'
NS = 'namespace=~"$namespace"'
OUTCOMES = [str(outcome) for outcome in Outcome]  # one list: daemon/outcomes.py
COLOURS = ["green", "red", "orange", "purple", "dark-red", "grey"]


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    return {
        "datasource": DS,
        "expr": expr,
        "legendFormat": legend,
        "refId": ref,
        "instant": instant,
        "range": not instant,
    }


def panel(
    pid: int,
    title: str,
    kind: str,
    grid: tuple[int, int, int, int],
    targets: list[dict[str, Any]],
    description: str,
    **extra: Any,
) -> dict[str, Any]:
    x, y, w, h = grid
    return {
        "id": pid,
        "title": title,
        "type": kind,
        "description": description,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        **extra,
    }


def stat(
    pid: int, title: str, expr: str, x: int, mapping: dict[str, tuple[str, str]], text: str
) -> dict[str, Any]:
    return panel(
        pid,
        title,
        "stat",
        (x, 0, 4, 4),
        [target(expr, instant=True)],
        text,
        fieldConfig={
            "defaults": {
                "mappings": [
                    {
                        "type": "value",
                        "options": {k: {"text": t, "color": c} for k, (t, c) in mapping.items()},
                    }
                ],
                "color": {"mode": "thresholds"},
            },
            "overrides": [],
        },
        options={
            "colorMode": "background",
            "graphMode": "none",
            "reduceOptions": {"calcs": ["lastNotNull"]},
        },
    )


def outcome_code() -> str:
    """One number per experiment for the state timeline: 1 passed ... 6 aborted."""
    terms = [
        f'sum by (experiment) (aftershock_experiment_last_outcome{{{EXP},outcome="{o}"}}) * {i}'
        for i, o in enumerate(OUTCOMES, start=1)
    ]
    return " + ".join(terms)


def dashboard() -> dict[str, Any]:
    panels = [
        stat(
            1,
            "Halted",
            "max(aftershock_halted)",
            0,
            {"0": ("running", "green"), "1": ("HALTED", "red")},
            "1 while chaos is halted (API or ConfigMap).",
        ),
        stat(
            2,
            "Leader",
            "max(aftershock_leader)",
            4,
            {"0": ("no leader", "red"), "1": ("leading", "green")},
            "Whether a replica holds the Lease (only the leader injects).",
        ),
        stat(
            3,
            "Dry-run",
            "max(aftershock_dry_run)",
            8,
            {"0": ("injecting", "blue"), "1": ("dry-run", "yellow")},
            "Dry-run: targets are chosen and guarded, nothing is killed.",
        ),
        panel(
            4,
            "Catalog",
            "stat",
            (12, 0, 6, 4),
            [target("sum by (state) (aftershock_catalog_experiments)", "{{state}}", instant=True)],
            "Experiments loaded, invalid (not run) and disabled.",
        ),
        panel(
            5,
            "Runs in progress",
            "stat",
            (18, 0, 6, 4),
            [target("sum(aftershock_runs_in_progress)", instant=True)],
            "Runs executing now.",
        ),
        panel(
            6,
            "Outcome over time",
            "state-timeline",
            (0, 4, 24, 7),
            [target(outcome_code(), "{{experiment}}")],
            "The last outcome of each experiment over time.",
            fieldConfig={
                "defaults": {
                    "mappings": [
                        {
                            "type": "value",
                            "options": {
                                str(i): {"text": o, "color": c}
                                for i, (o, c) in enumerate(
                                    zip(OUTCOMES, COLOURS, strict=True), start=1
                                )
                            },
                        }
                    ]
                },
                "overrides": [],
            },
        ),
        panel(
            7,
            "Pass rate",
            "bargauge",
            (0, 11, 8, 8),
            [
                target(
                    f'sum by (experiment) (increase(aftershock_experiment_runs_total{{{EXP},outcome="passed"}}[$__range]))'
                    f" / sum by (experiment) (increase(aftershock_experiment_runs_total{{{EXP}}}[$__range]))",
                    "{{experiment}}",
                    instant=True,
                )
            ],
            "Share of runs that passed in the selected time range.",
            fieldConfig={"defaults": {"unit": "percentunit", "min": 0, "max": 1}, "overrides": []},
        ),
        panel(
            8,
            "Recovery time p50 / p95 (SLO line at 60 s)",
            "timeseries",
            (8, 11, 16, 8),
            [
                target(
                    f"histogram_quantile(0.5, sum by (namespace, workload, le) (rate(aftershock_recovery_seconds_bucket{{{NS}}}[$__rate_interval])))",
                    "p50 {{namespace}}/{{workload}}",
                ),
                target(
                    f"histogram_quantile(0.95, sum by (namespace, workload, le) (rate(aftershock_recovery_seconds_bucket{{{NS}}}[$__rate_interval])))",
                    "p95 {{namespace}}/{{workload}}",
                    "B",
                ),
            ],
            "Kill to workload fully ready again, from watch events.",
            fieldConfig={
                "defaults": {
                    "unit": "s",
                    "custom": {"thresholdsStyle": {"mode": "line"}},
                    "thresholds": {
                        "mode": "absolute",
                        "steps": [{"color": "green", "value": None}, {"color": "red", "value": 60}],
                    },
                },
                "overrides": [],
            },
        ),
        panel(
            9,
            "Last recovery",
            "bargauge",
            (0, 19, 8, 8),
            [
                target(
                    f"max by (namespace, workload) (aftershock_recovery_last_seconds{{{NS},{EXP}}})",
                    "{{namespace}}/{{workload}}",
                    instant=True,
                )
            ],
            "Recovery time of the most recent disruption of each workload.",
            fieldConfig={"defaults": {"unit": "s"}, "overrides": []},
        ),
        panel(
            10,
            "Pods disrupted",
            "timeseries",
            (8, 19, 8, 8),
            [
                target(
                    f"sum by (namespace, workload, method) (rate(aftershock_pods_disrupted_total{{{NS}}}[$__rate_interval]))",
                    "{{namespace}}/{{workload}} ({{method}})",
                )
            ],
            "Pods deleted or evicted per second.",
            fieldConfig={"defaults": {"unit": "ops"}, "overrides": []},
        ),
        panel(
            11,
            "Guard refusals by reason",
            "barchart",
            (16, 19, 8, 8),
            [
                target(
                    f"sum by (reason) (increase(aftershock_guard_refusals_total{{{EXP}}}[$__range]))",
                    "{{reason}}",
                    instant=True,
                )
            ],
            "Runs the blast-radius guard and safety checks refused, by reason.",
            options={"xField": "reason"},
        ),
        panel(
            12,
            "Next and last run",
            "table",
            (0, 27, 16, 8),
            [
                target(
                    f"max by (experiment) (aftershock_experiment_next_run_timestamp_seconds{{{EXP}}}) * 1000",
                    "",
                    "A",
                    True,
                ),
                target(
                    f"max by (experiment) (aftershock_experiment_last_run_timestamp_seconds{{{EXP}}}) * 1000",
                    "",
                    "B",
                    True,
                ),
                target(
                    f"max by (experiment) (aftershock_experiment_last_pass_timestamp_seconds{{{EXP}}}) * 1000",
                    "",
                    "C",
                    True,
                ),
            ],
            "Planned next run, last run and last passed run of each experiment.",
            transformations=[
                {"id": "merge"},
                {
                    "id": "organize",
                    "options": {
                        "renameByName": {
                            "Value #A": "next run",
                            "Value #B": "last run",
                            "Value #C": "last pass",
                        }
                    },
                },
            ],
            fieldConfig={"defaults": {"unit": "dateTimeAsIso"}, "overrides": []},
        ),
        panel(
            13,
            "Schedule delay p95",
            "timeseries",
            (16, 27, 8, 8),
            [
                target(
                    "histogram_quantile(0.95, sum by (le) (rate(aftershock_schedule_delay_seconds_bucket[$__rate_interval])))",
                    "p95",
                )
            ],
            "Planned fire time to the run starting.",
            fieldConfig={"defaults": {"unit": "s"}, "overrides": []},
        ),
        panel(
            14,
            "Hypothesis checks",
            "timeseries",
            (0, 35, 12, 8),
            [
                target(
                    f"sum by (phase, result) (increase(aftershock_hypothesis_checks_total{{{EXP}}}[$__rate_interval]))",
                    "{{phase}} {{result}}",
                )
            ],
            "Steady-state hypothesis evaluations by phase and result.",
        ),
        panel(
            15,
            "Kubernetes API requests",
            "timeseries",
            (12, 35, 12, 8),
            [
                target(
                    "sum by (code) (rate(aftershock_kube_requests_total[$__rate_interval]))",
                    "{{code}}",
                )
            ],
            "aftershock's API calls by status code (0: no answer).",
            fieldConfig={"defaults": {"unit": "reqps"}, "overrides": []},
        ),
        panel(
            16,
            "Notifications by sink and result",
            "timeseries",
            (0, 43, 12, 8),
            [
                target(
                    "sum by (sink, result) (increase(aftershock_notifications_total[$__rate_interval]))",
                    "{{sink}} {{result}}",
                )
            ],
            "Slack, webhook and CloudEvents deliveries: sent, retried, failed (given up), dropped "
            "(queue full), abandoned (shutdown). Alert: AftershockNotificationsFailing.",
        ),
    ]
    variables = [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
        {
            "name": "namespace",
            "type": "query",
            "datasource": DS,
            "label": "Namespace",
            "query": {
                "query": "label_values(aftershock_recovery_last_seconds, namespace)",
                "refId": "ns",
            },
            "definition": "label_values(aftershock_recovery_last_seconds, namespace)",
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "refresh": 2,
            "current": {"text": "All", "value": "$__all"},
        },
        {
            "name": "experiment",
            "type": "query",
            "datasource": DS,
            "label": "Experiment",
            "query": {
                "query": "label_values(aftershock_experiment_last_outcome, experiment)",
                "refId": "exp",
            },
            "definition": "label_values(aftershock_experiment_last_outcome, experiment)",
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "refresh": 2,
            "current": {"text": "All", "value": "$__all"},
        },
    ]
    return {
        "uid": "aftershock",
        "title": "aftershock — continuous chaos",
        "description": "Outcomes, recovery times and safety of aftershock's experiments.",
        "tags": ["aftershock", "chaos"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
