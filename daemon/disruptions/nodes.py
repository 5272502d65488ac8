"""A node drain: cordon the node, then evict its pods through the Eviction API (PDBs hold).

The guard counts nodes (`max_nodes`, `min_schedulable_nodes`, see daemon.safety.nodes) and
every evicted pod against the run's pod budget. Applied to one pod, it is that pod's
eviction; the cordon itself is daemon.engine.cordons (intent first, always taken back).
Recovered: each displaced workload as for a pod eviction; the drill adds its own "all
displaced workloads recovered" time.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.disruptions import Counts, Verb
from daemon.disruptions.pods import PodEvict


@dataclass(frozen=True)
class NodeDrain(PodEvict):
    """Applied to one pod, a drain is that pod's eviction (apply and recovered: PodEvict's)."""

    name: str = "drain"
    verbs: tuple[Verb, ...] = (
        Verb("", "nodes", "get"),
        Verb("", "nodes", "list"),
        Verb("", "nodes", "patch"),
        Verb("", "nodes", "watch"),  # is the cordon still ours? (cordons.watch_ownership)
        Verb("", "pods", "list"),
        Verb("", "pods/eviction", "create"),
    )
    counts: Counts = "nodes"
    past_tense: str = "evicted (node drain)"
    event_action: str = "Drain"
