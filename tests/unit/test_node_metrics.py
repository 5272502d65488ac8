"""Node drill metrics come from the journal: one per cordon, the drill's all-recovered time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from daemon.observability.metrics import DaemonState, Metrics


def test_nodes_disrupted_and_the_drills_recovery_time() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry, lambda: DaemonState(experiments={}, catalog={}))
    metrics.run_finished(
        "drill",
        {
            "duration": 3.0,
            "aftershock": {
                "outcome": "passed",
                "cordoned": [{"node": "a", "at": 1.0}, {"node": "b", "at": 1.1}],
                "node_drills": [{"nodes": ["a", "b"], "all_recovered_seconds": 2.5}],
            },
        },
    )
    value = registry.get_sample_value
    assert value("aftershock_nodes_disrupted_total", {"experiment": "drill"}) == 2
    assert value("aftershock_node_drill_recovery_last_seconds", {"experiment": "drill"}) == 2.5
