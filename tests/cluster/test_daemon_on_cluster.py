"""The daemon on the suite's cluster: API, metrics and Events for a triggered run, and
Lease leader election between two replicas, read back from the cluster's own Lease."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.cluster.backend import Backend, NamespaceWatch, wait_for
from tests.cluster.daemons import Daemon
from tests.cluster.experiments import experiment, terminate


def test_trigger_a_run_read_the_journal_metrics_and_events(
    backend: Backend, shop_ns, make_namespace, tmp_path
) -> None:
    home = make_namespace()
    catalog = {
        "kill-name": experiment(
            shop_ns,
            [terminate(shop_ns, "app=name")],
            {"recovery": {"timeout": f"{60 * backend.slow:.0f}s"}},
        )
    }
    daemon = Daemon(tmp_path, backend.kubeconfig, home, catalog)
    try:
        wait_for(daemon.leading, 15 * backend.slow, "the lease")
        with NamespaceWatch(backend, shop_ns) as seen:
            run = daemon.run("kill-name", 90 * backend.slow)
        assert run["outcome"] == "passed", run["journal"]["aftershock"]
        (disruption,) = seen.disruptions()
        assert run["journal"]["aftershock"]["plans"][0]["targets"] == [
            f"{shop_ns}/{disruption.pod}"
        ]
        families = {
            f.name: f for f in text_string_to_metric_families(daemon.api.get("/metrics").text)
        }
        assert any(
            s.labels == {"experiment": "kill-name", "outcome": "passed", "dry_run": "false"}
            and s.value == 1
            for s in families["aftershock_experiment_runs"].samples
            if s.name.endswith("_total")
        )
        assert families["aftershock_pods_disrupted"].samples[0].labels == {
            "namespace": shop_ns,
            "workload": "name",
            "method": "delete",
        }
        assert any(
            s.name.endswith("_count") and s.value == 1
            for s in families["aftershock_recovery_seconds"].samples
        )
        assert families["aftershock_leader"].samples[0].value == 1
        killed = backend.events(shop_ns, "AftershockPodKilled")
        assert {e.involved_object.name for e in killed} == {disruption.pod, "name"}
        assert all(run["id"] in e.message for e in killed)
    finally:
        daemon.stop()


def holder(backend: Backend, namespace: str) -> str | None:
    lease = backend.coordination.read_namespaced_lease("aftershock-leader", namespace)
    return lease.spec.holder_identity


def test_one_leader_of_two_and_the_other_takes_over(
    backend: Backend, make_namespace, tmp_path
) -> None:
    home = make_namespace()
    daemons = {name: Daemon(tmp_path, backend.kubeconfig, home, {}, identity=name) for name in "ab"}
    try:
        leaders = wait_for(
            lambda: [n for n, d in daemons.items() if d.leading()] or None,
            20 * backend.slow,
            "a leader",
        )
        assert len(leaders) == 1
        (first,) = leaders
        assert holder(backend, home) == first
        other = next(n for n in daemons if n != first)
        for _ in range(5):  # the follower stays a follower while the leader renews
            assert not daemons[other].leading()
        daemons.pop(first).stop()
        wait_for(daemons[other].leading, 20 * backend.slow, f"{other} to take over")
        assert holder(backend, home) == other
    finally:
        for daemon in daemons.values():
            daemon.stop()
