"""Node drills never hold more than max_nodes cordoned and never leave one cordoned.

Hypothesis generates one to three drills run at the same time (aftershock.nodes.drain by
count, percent, names or zone; chaosk8s cordon_node/drain_nodes by label), with generated
max_nodes, min_schedulable_nodes, a PDB that may block, short deadlines and halts in the
middle. A watch on the Nodes (the real client) records every state each node passed
through: that, not aftershock's journal, is what the property is checked against.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from kubernetes import watch

from daemon.engine.cordons import RUN_ANNOTATION
from daemon.simulator.cluster_file import ClusterFile
from daemon.simulator.runner import SimulatedCluster
from tests.integration.conftest import Sim
from tests.integration.test_node_drills import drill_cluster, experiment, ready, run_drill
from tests.property.test_safety_properties import PROPERTY, examples


def _drain(**arguments: Any) -> dict[str, Any]:
    return {
        "type": "action",
        "name": "drill",
        "provider": {
            "type": "python",
            "module": "aftershock.nodes",
            "func": "drain",
            "arguments": arguments,
        },
    }


def _chaosk8s(func: str, **arguments: Any) -> dict[str, Any]:
    return {
        "type": "action",
        "name": "drill",
        "provider": {
            "type": "python",
            "module": "chaosk8s.node.actions",
            "func": func,
            "arguments": arguments,
        },
    }


ACTIONS = st.one_of(
    st.builds(lambda n: _drain(count=n, timeout="3s"), st.integers(1, 3)),
    st.builds(lambda p: _drain(percent=p, timeout="3s"), st.sampled_from([25, 50, 100])),
    st.builds(
        lambda names: _drain(names=names, timeout="3s"),
        st.lists(
            st.sampled_from(["node-1", "node-2", "node-3", "node-4"]),
            min_size=1,
            max_size=2,
            unique=True,
        ),
    ),
    st.builds(
        lambda zone: _drain(
            topology_key="topology.kubernetes.io/zone", topology_value=zone, count=1, timeout="3s"
        ),
        st.sampled_from(["zone-0", "zone-1"]),
    ),
    st.builds(
        lambda zone: _chaosk8s("cordon_node", label_selector=f"topology.kubernetes.io/zone={zone}"),
        st.sampled_from(["zone-0", "zone-1"]),
    ),
    st.builds(
        lambda n: _chaosk8s("drain_nodes", name=n, timeout=3), st.sampled_from(["node-1", "node-3"])
    ),
)

DRILL = st.fixed_dictionaries(
    {
        "action": ACTIONS,
        "pause": st.sampled_from([0, 0.5, 1.5]),
        "halt_after": st.one_of(st.none(), st.sampled_from([0.3, 1.0])),
    }
)


class NodeWatch:
    """Every state of every node, from a watch: (cordoned by aftershock, unschedulable)."""

    def __init__(self, sim: Sim):
        self.sim = sim
        self.peak_held = 0
        self.peak_cordoned = 0
        self.state: dict[str, tuple[bool, bool]] = {}
        self._stop = threading.Event()
        listing = sim.core.list_node()
        for node in listing.items:
            self._see(node)
        self._rv = listing.metadata.resource_version
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _see(self, node: Any) -> None:
        held = RUN_ANNOTATION in (node.metadata.annotations or {})
        self.state[node.metadata.name] = (held, bool(node.spec.unschedulable))
        self.peak_held = max(self.peak_held, sum(1 for h, _ in self.state.values() if h))
        self.peak_cordoned = max(self.peak_cordoned, sum(1 for _, u in self.state.values() if u))

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                for event in watch.Watch().stream(
                    self.sim.core.list_node, resource_version=self._rv, timeout_seconds=1
                ):
                    self._rv = event["object"].metadata.resource_version
                    self._see(event["object"])
                    if self._stop.is_set():
                        return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


@settings(PROPERTY, max_examples=examples(6))
@given(
    drills=st.lists(DRILL, min_size=1, max_size=3),
    max_nodes=st.integers(1, 2),
    min_schedulable=st.sampled_from([1, 2, "50%"]),
    blocking_pdb=st.booleans(),
)
def test_no_drill_exceeds_max_nodes_or_leaves_a_node_cordoned(
    drills: list[dict[str, Any]], max_nodes: int, min_schedulable: int | str, blocking_pdb: bool
) -> None:
    directory = Path(tempfile.mkdtemp(prefix="aftershock-nodes-"))
    cluster = SimulatedCluster(
        ClusterFile.model_validate(drill_cluster()), kubeconfig=directory / "kubeconfig"
    )
    cluster.start()
    sim = Sim(cluster)
    try:
        ready(sim)
        if blocking_pdb:
            sim.policy.patch_namespaced_pod_disruption_budget(
                "webapp", "shop", {"spec": {"minAvailable": 4}}
            )
        nodes = {"max_nodes": max_nodes, "min_schedulable_nodes": min_schedulable}
        observed = NodeWatch(sim)
        threads = []
        for index, drill in enumerate(drills):
            action = dict(drill["action"])
            if drill["pause"]:
                action["pauses"] = {"after": drill["pause"]}
            stop = None
            if drill["halt_after"] is not None:
                stop = threading.Event()
                threading.Timer(drill["halt_after"], stop.set).start()
            threads.append(
                threading.Thread(
                    target=run_drill,
                    args=(sim, experiment([action])),
                    kwargs={"nodes": nodes, "run_id": f"run-{index}", "stop": stop},
                )
            )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(t.is_alive() for t in threads)
        final = {n.metadata.name: n for n in sim.core.list_node().items}
        observed.close()
        assert observed.peak_held <= max_nodes, observed.peak_held
        assert observed.peak_cordoned <= max_nodes, observed.peak_cordoned  # nobody else cordons
        assert [n for n, obj in final.items() if obj.spec.unschedulable] == []
        assert [
            n for n, obj in final.items() if RUN_ANNOTATION in (obj.metadata.annotations or {})
        ] == []
    finally:
        sim.api_client.close()
        cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
