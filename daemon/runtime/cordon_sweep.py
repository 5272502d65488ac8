"""Cordons this daemon's own runs left behind, taken back by housekeeping.

A run takes back its cordons when it ends (daemon/engine/cordons.py), retrying for a bounded
time; an API outage longer than that, or a replica killed mid-drill and restarted as a
follower (interrupted-run recovery waits for leadership), can leave a node cordoned. Every
housekeeping pass, on every replica, lifts a cordon whose run is in *this* replica's history
and not live in this process, when that run cannot be live anywhere: its history row says it
ended, or the replica named on the cordon (`aftershock.io/cordoned-by`) is neither this one
nor the current leader (only the leader runs drills), while who leads is known. With one
history shared by replicas (RWX), the leader's drill in progress is therefore left alone by
the followers. An annotation left on a node someone else uncordoned is removed (a cordon an
operator makes there later must not look like ours); a cordon that began (by the node
controller's unschedulable taint) over a minute after its run ended is not the run's either.
Cordons of runs this replica does not know (an `aftershock run`) are left to their owner and
to the start-up report (docs/node-drills.md).
"""

from __future__ import annotations

from collections.abc import Callable

from daemon.engine import cordons
from daemon.engine.claims import MAX_SKEW
from daemon.kube.client import Kube
from daemon.kube.errors import KubeError
from daemon.logging import get_logger
from daemon.store.history import HistoryStore, StoreError

log = get_logger("aftershock.nodes")


def sweep(
    kube: Kube | None,
    store: HistoryStore,
    live_runs: Callable[[], set[str]],
    *,
    leader: Callable[[], str | None] = lambda: None,
    me: str = "",
) -> list[str]:
    """The nodes whose leftover cordon was taken back in this pass (errors: next pass).
    `leader`: who leads now as this replica last saw it (None: unknown, or no election)."""
    if kube is None:
        return []
    try:
        nodes, _ = kube.list("nodes")
        held, stale = cordons.held_in(nodes), cordons.held_in(nodes, stale=True)
    except KubeError as exc:
        log.warning("cordon sweep: cannot list nodes; trying again later", error=exc.message)
        return []
    lifted: list[str] = []
    for h in stale:  # someone else uncordoned these: our annotation claims nothing now, and
        try:  # left there, a cordon an operator makes later would look like ours
            cordons.forget(kube, h.node, h.run_id)
        except KubeError as exc:
            log.warning("cordon sweep: will try again", node=h.node, error=exc.message)
    for h in held:
        if h.run_id in live_runs():
            continue
        try:
            found = store.run(h.run_id)
            if found is None:
                continue  # not this replica's run
            row, _ = found
            if row.state == "running" and h.holder not in (me, "") and leader() in (None, h.holder):
                continue  # the leader's drill, maybe in progress (a history shared by
                # replicas), or who leads is unknown: lift it once it is known not to be
            node = next(n for n in nodes if n["metadata"]["name"] == h.node)
            since = cordons.cordoned_since(node)
            if row.ended_at and since and since > row.ended_at + MAX_SKEW:
                cordons.forget(kube, h.node, h.run_id)  # cordoned after the run ended: by
                continue  # someone else (a `kubectl uncordon` of ours came before it)
            if cordons.uncordon(kube, h.node, h.run_id):
                lifted.append(h.node)
                log.warning(
                    "node cordon left by an ended run taken back",
                    node=h.node,
                    run_id=h.run_id,
                    cordoned_at=h.at,
                )
        except (KubeError, StoreError) as exc:
            log.warning("cordon sweep: will try again", node=h.node, error=str(exc))
    return lifted
