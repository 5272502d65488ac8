"""Housekeeping's cordon sweep: a cordon left by one of this replica's ended runs is taken
back, whatever else holds a node (ground truth: the Node objects through the real client)."""

from __future__ import annotations

import time
from datetime import timedelta

from daemon.engine.cordons import AT_ANNOTATION, RUN_ANNOTATION
from daemon.kube.client import Connection, Kube
from daemon.runtime.cordon_sweep import sweep
from daemon.store.history import HistoryStore
from tests.integration.test_node_drills import annotated, cordoned, drill_cluster, ready


def _cordon(sim, node: str, run_id: str) -> None:
    sim.core.patch_node(
        node,
        {
            "metadata": {
                "annotations": {RUN_ANNOTATION: run_id, AT_ANNOTATION: "2026-11-30T00:00:00Z"}
            },
            "spec": {"unschedulable": True},
        },
    )


def history(path) -> HistoryStore:
    return HistoryStore(path, retention=timedelta(days=1), max_runs_per_experiment=10).open()


def started(store: HistoryStore, run_id: str, at: float | None = None) -> None:
    """A drill run's row, as the executor writes it when the run starts."""
    store.start_run(
        run_id,
        "drill",
        trigger="schedule",
        dry_run=False,
        experiment_doc={},
        started_at=time.time() if at is None else at,
        settings={},
    )


def test_the_sweep_lifts_only_cordons_of_this_replicas_ended_runs(make_sim, tmp_path) -> None:
    sim = make_sim(drill_cluster())
    ready(sim)
    store = history(tmp_path / "history.db")
    for run_id in ("ended", "live"):
        started(store, run_id)
    store.finish_run("ended", outcome="failed", reason="x", journal={}, ended_at=time.time())
    nodes = sorted(n.metadata.name for n in sim.core.list_node().items)
    _cordon(sim, nodes[0], "ended")  # ours, over: the API was down when the run ended
    _cordon(sim, nodes[1], "live")  # ours, still running in this process: keep
    _cordon(sim, nodes[2], "another-replicas-run")  # not in this history: its owner's
    sim.core.patch_node(nodes[3], {"spec": {"unschedulable": True}})  # a person's cordon
    kube = Kube.connect(Connection(mode="kubeconfig", kubeconfig=sim.sim.kubeconfig))
    try:
        assert sweep(kube, store, lambda: {"live"}) == [nodes[0]]
        assert cordoned(sim) == nodes[1:4]
        assert annotated(sim) == nodes[1:3]
        assert sweep(kube, store, lambda: {"live"}) == []  # idempotent
        assert sweep(kube, store, set) == [nodes[1]]  # the run is over now
    finally:
        kube.close()
        store.close()
