"""The suite's ground truth on a real cluster is what its own watches see; here it is
checked against the simulator's timeline, which records every disruption as the store
changed. If the watch-derived truth drifted, every real-cluster verdict would too."""

from __future__ import annotations

import pytest

from tests.cluster.backend import Backend, NamespaceWatch, wait_for
from tests.cluster.experiments import experiment, run_engine, terminate


@pytest.mark.simulator_only(
    reason="compares with /sim/v1/timeline, the simulator's record of every disruption;"
    " a real cluster has none (this test is what lets the others trust the watch there)"
)
def test_the_watch_sees_what_the_simulators_timeline_records(backend: Backend, shop_ns) -> None:
    with NamespaceWatch(backend, shop_ns) as seen:
        result = run_engine(
            backend.kubeconfig,
            experiment(shop_ns, [terminate(shop_ns, "app=name", qty=2)]),
            aftershock={"recovery": {"timeout": "30s"}},
        )
        assert result.outcome == "passed", result.journal["aftershock"]
        truth = wait_for(
            lambda: (
                (t := backend.timeline(shop_ns))
                and all(d["workload_status_ready_at"] for d in t)
                and t
            ),
            20,
            "the timeline complete",
        )
        watched = seen.disruptions()
        recovered = wait_for(
            lambda: seen.recovered_at("name", watched[0].seen_at - 0.5), 20, "name recovered"
        )
    assert sorted(d.pod for d in watched) == sorted(d["pod"] for d in truth)
    by_pod = {d["pod"]: d for d in truth}
    for disruption in watched:
        assert abs(disruption.seen_at - by_pod[disruption.pod]["requested_at"]) < 0.3
    last_ready = max(d["workload_status_ready_at"] for d in truth)
    assert abs(recovered - last_ready) < 0.3, (recovered, truth)
