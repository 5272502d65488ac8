"""The metrics contract (docs/reference/metrics.md), on one injected CollectorRegistry.

Event metrics (counters, histograms) are updated when a run ends. State metrics (last
outcome, next/last run, catalog state, halted, leader) are read from the daemon at scrape
time by a custom collector, so they can never drift from the state the API shows, and a
restart that restores history restores them too. No pod names or run ids in labels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from daemon import __version__
from daemon.outcomes import Outcome
from daemon.records import WorkloadKey

OUTCOMES = tuple(Outcome)
RECOVERY_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600)
DURATION_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
DELAY_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60)


@dataclass
class ExperimentState:
    """What the collector reads for one experiment at scrape time."""

    last_outcome: Outcome | None = None
    last_run: float | None = None
    next_run: float | None = None
    last_pass: float | None = None


@dataclass
class DaemonState:
    experiments: dict[str, ExperimentState] = field(default_factory=dict)
    catalog: dict[str, int] = field(default_factory=dict)  # loaded / invalid / disabled
    halted: bool = False
    leader: bool = False
    dry_run: bool = True
    runs_in_progress: int = 0


class _StateCollector(Collector):
    def __init__(self, snapshot: Callable[[], DaemonState]):
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        state = self.snapshot()
        last_outcome = GaugeMetricFamily(
            "aftershock_experiment_last_outcome",
            "1 for the outcome of the experiment's last finished run, 0 for the others.",
            labels=["experiment", "outcome"],
        )
        stamps = {
            name: GaugeMetricFamily(
                f"aftershock_experiment_{name}_timestamp_seconds", help_text, labels=["experiment"]
            )
            for name, help_text in (
                ("last_run", "End of the experiment's last finished run (Unix time)."),
                ("next_run", "Next planned fire time (Unix time); absent when not scheduled."),
                ("last_pass", "End of the experiment's last passed run (Unix time)."),
            )
        }
        for experiment, values in sorted(state.experiments.items()):
            if values.last_outcome is not None:
                for outcome in OUTCOMES:
                    last_outcome.add_metric(
                        [experiment, outcome], 1.0 if outcome == values.last_outcome else 0.0
                    )
            for name, value in (
                ("last_run", values.last_run),
                ("next_run", values.next_run),
                ("last_pass", values.last_pass),
            ):
                if value is not None:
                    stamps[name].add_metric([experiment], value)
        yield last_outcome
        yield from stamps.values()
        catalog = GaugeMetricFamily(
            "aftershock_catalog_experiments",
            "Experiments in the catalog by state.",
            labels=["state"],
        )
        for key in ("loaded", "invalid", "disabled"):
            catalog.add_metric([key], float(state.catalog.get(key, 0)))
        yield catalog
        for name, value, help_text in (
            ("aftershock_halted", state.halted, "1 while chaos is halted."),
            ("aftershock_leader", state.leader, "1 on the replica holding the lease."),
            ("aftershock_dry_run", state.dry_run, "1 when nothing is killed (global dry-run)."),
            ("aftershock_runs_in_progress", state.runs_in_progress, "Runs executing now."),
        ):
            yield GaugeMetricFamily(name, help_text, value=float(value))


class Metrics:
    def __init__(self, registry: CollectorRegistry, snapshot: Callable[[], DaemonState]):
        self.registry = registry
        self.runs = Counter(
            "aftershock_experiment_runs",
            "Finished runs by outcome.",
            ["experiment", "outcome", "dry_run"],
            registry=registry,
        )
        self.hypothesis_checks = Counter(
            "aftershock_hypothesis_checks",
            "Steady-state hypothesis evaluations.",
            ["experiment", "phase", "result"],
            registry=registry,
        )
        self.hypothesis_met = Gauge(
            "aftershock_hypothesis_met",
            "1 when the last hypothesis check of this phase was met.",
            ["experiment", "phase"],
            registry=registry,
        )
        self.recovery = Histogram(
            "aftershock_recovery_seconds",
            "Time from the disruption to the workload fully ready again.",
            ["experiment", "namespace", "workload"],
            buckets=RECOVERY_BUCKETS,
            registry=registry,
        )
        self.recovery_last = Gauge(
            "aftershock_recovery_last_seconds",
            "Recovery time of the last disruption of this workload.",
            ["experiment", "namespace", "workload"],
            registry=registry,
        )
        self.pods_disrupted = Counter(
            "aftershock_pods_disrupted",
            "Pods deleted or evicted.",
            ["namespace", "workload", "method"],
            registry=registry,
        )
        self.nodes_disrupted = Counter(
            "aftershock_nodes_disrupted",
            "Nodes cordoned (and drained) by node drills.",
            ["experiment"],
            registry=registry,
        )
        self.node_drill_recovery = Gauge(
            "aftershock_node_drill_recovery_last_seconds",
            "Time from a node drill's cordon until every workload it displaced had recovered.",
            ["experiment"],
            registry=registry,
        )
        self.guard_refusals = Counter(
            "aftershock_guard_refusals",
            "Runs refused by the blast-radius guard or safety checks.",
            ["experiment", "reason"],
            registry=registry,
        )
        self.run_duration = Histogram(
            "aftershock_run_duration_seconds",
            "Wall time of a run.",
            ["experiment"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.schedule_delay = Histogram(
            "aftershock_schedule_delay_seconds",
            "Delay between a planned fire time and the run starting.",
            buckets=DELAY_BUCKETS,
            registry=registry,
        )
        self.kube_requests = Counter(
            "aftershock_kube_requests",
            "Kubernetes API requests by verb, resource and status code (0: no answer).",
            ["verb", "resource", "code"],
            registry=registry,
        )
        self.listener_failures = Counter(
            "aftershock_listener_failures",
            "Run listeners (history, notifications, ...) that raised; the run is unaffected.",
            ["listener"],
            registry=registry,
        )
        self.listener_drops = Counter(
            "aftershock_listener_dropped_runs",
            "Runs a listener never saw: its queue was full (it could not keep up).",
            ["listener"],
            registry=registry,
        )
        self.notifications = Counter(
            "aftershock_notifications",
            "Notification deliveries by sink and result (sent, retried, failed, dropped, "
            "abandoned).",
            ["sink", "result"],
            registry=registry,
        )
        build = Gauge("aftershock_build_info", "Build information.", ["version"], registry=registry)
        build.labels(__version__).set(1)
        registry.register(_StateCollector(snapshot))

    def kube_request(self, verb: str, resource: str, code: int) -> None:
        self.kube_requests.labels(verb, resource, str(code)).inc()

    def notification(self, sink: str, result: str) -> None:
        self.notifications.labels(sink, result).inc()

    def listener_failed(self, listener: str) -> None:
        self.listener_failures.labels(listener).inc()

    def listener_dropped(self, listener: str) -> None:
        self.listener_drops.labels(listener).inc()

    def run_finished(self, experiment: str, journal: dict[str, Any]) -> None:
        record = journal.get("aftershock") or {}
        outcome = Outcome(record.get("outcome", Outcome.FAILED))
        dry_run = "true" if record.get("dry_run") else "false"
        self.runs.labels(experiment, outcome, dry_run).inc()
        self.run_duration.labels(experiment).observe(float(journal.get("duration") or 0.0))
        if outcome is Outcome.REFUSED:
            self.guard_refusals.labels(experiment, str(record.get("reason") or "unknown")).inc()
        for check in record.get("hypothesis_checks", []):
            result = "error" if check["errored"] else ("met" if check["met"] else "not_met")
            self.hypothesis_checks.labels(experiment, check["phase"], result).inc()
            self.hypothesis_met.labels(experiment, check["phase"]).set(1 if check["met"] else 0)
        for disrupted in record.get("disrupted", []):
            namespace, _kind, workload = WorkloadKey.parse(disrupted["workload"])
            self.pods_disrupted.labels(namespace, workload, disrupted["method"]).inc()
        for _cordon in record.get("cordoned", []):
            self.nodes_disrupted.labels(experiment).inc()
        for drill in record.get("node_drills", []):
            if drill.get("all_recovered_seconds") is not None:
                self.node_drill_recovery.labels(experiment).set(drill["all_recovered_seconds"])
        for recovery in record.get("recovery", []):
            seconds = recovery.get("recovery_seconds")
            if seconds is None:
                continue
            labels = (experiment, recovery["namespace"], recovery["name"])
            self.recovery.labels(*labels).observe(seconds)
            self.recovery_last.labels(*labels).set(seconds)
