"""Cordons in flight, claimed on the node itself first: `max_nodes` and the floor across
processes (docs/node-drills.md, "One cordon at a time").

Counting aftershock's cordons and then cordoning is check-then-act: two processes (a daemon
and an `aftershock run`, two daemons without leader election) could each count a free slot,
and a cordon request slow on the wire is invisible to the other's count until it lands. So
a cordon goes in two writes to the Node, both conditional on its resourceVersion:

1. the *claim*: annotation `aftershock.io/cordon-claim` (run, time) on the node; then the
   claimer lists every node and counts the cordons of aftershock plus every claim in flight,
   its own included. Over `max_nodes`, or under the floor once they all land, it withdraws
   and tries again after a random pause (or is refused). Of any set of claims that all go
   ahead, the last one written would have seen all the others: so they never exceed a limit.
2. the *cordon*: one patch, conditional on the resourceVersion its claim's write returned,
   that sets `spec.unschedulable` and the run's annotations and removes the claim.

The resourceVersion is also the fence: a cordon request can only land on the node exactly
as its claim left it. Withdrawing a claim (the end of the run, a restarted daemon's recovery)
or clearing an expired one (any claimer, before it may ignore it) is a write to that node,
so a cordon request still on the wire, of a paused or dead process, gets a 409. A claim
expires after CLAIM_TTL (a process that died between claim and cordon); claim times are
wall-clock seconds, so clocks are assumed to agree within a minute. Nodes are cluster-scoped:
every aftershock that may patch nodes sees the same claims, whatever its namespace.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from daemon.kube.errors import Conflict, NotFound

if TYPE_CHECKING:
    from daemon.kube.client import Kube

CLAIM_ANNOTATION = "aftershock.io/cordon-claim"
CLAIM_TTL = 180.0  # seconds a claim counts without becoming a cordon (nodes.claim_ttl)
CLAIM_WINDOW = 10.0  # seconds a claimer keeps trying while other claims are in flight
MAX_SKEW = 60.0  # a claim dated further ahead than this is no live claimer's: expired
Node = dict[str, Any]


@dataclass(frozen=True)
class Claim:
    node: str
    run_id: str
    at: float  # wall-clock seconds when claimed


class ClaimRefusedError(Exception):
    """No claim stands (nothing may be cordoned); the message says why. `retry`: only other
    claims in flight stood in the way, which may be withdrawn in a moment."""

    def __init__(self, message: str, *, retry: bool = False):
        super().__init__(message)
        self.retry = retry


def read_claim(node: Node) -> Claim | None:
    """The node's claim; one that cannot be read fails closed, naming node and annotation."""
    name = str(node["metadata"]["name"])
    text = (node["metadata"].get("annotations") or {}).get(CLAIM_ANNOTATION)
    if text is None:
        return None
    try:
        raw = json.loads(text)
        run, at = raw["run"], raw["at"]
        if not isinstance(run, str) or not run or isinstance(at, bool):
            raise TypeError("run must be a non-empty string and at a number")  # noqa: TRY301
        moment = float(at)
        if not math.isfinite(moment):
            raise ValueError(f"at is {at}")  # noqa: TRY301
    except Exception as exc:  # noqa: BLE001 - whatever is there (deep nesting, huge numbers)
        raise ClaimRefusedError(
            f"node {name}: annotation {CLAIM_ANNOTATION} cannot be read "
            f"({type(exc).__name__}: {str(exc)[:120]}); no cordon is claimed while it is there "
            f"(remove it once nothing is being cordoned: "
            f"kubectl annotate node {name} {CLAIM_ANNOTATION}-)"
        ) from None
    return Claim(name, run, moment)


def encode(run_id: str, at: float) -> str:
    return json.dumps({"run": run_id, "at": round(at, 6)})


@dataclass(frozen=True)
class NodesNow:
    """The nodes as a claim is judged: listed after the claim was written."""

    held: dict[str, str]  # node -> run that cordoned it (aftershock's annotation)
    claims: list[Claim]  # every readable claim, fresh or expired
    schedulable: frozenset[str]  # nodes an ordinary pod can land on now
    total: int
    floor: int  # min_schedulable_nodes as a count of these nodes


def expired(claims: list[Claim], now: float, ttl: float = CLAIM_TTL) -> list[Claim]:
    """Claims that no longer count once cleared: older than the TTL, or dated further ahead
    than any clock we assume (a clock up to MAX_SKEW ahead of ours makes a claim younger)."""
    return [c for c in claims if now - c.at >= ttl or c.at - now > MAX_SKEW]


def admit(
    nodes: NodesNow, node: str, run_id: str, *, max_nodes: int, now: float, ttl: float = CLAIM_TTL
) -> None:
    """Pure: may `run_id` go ahead with its claim of `node`? Counted: aftershock's cordons,
    every fresh claim (this one too, whether written yet or not). Raises ClaimRefusedError,
    with `retry` when only claims in flight made the difference."""
    gone = expired(nodes.claims, now, ttl)
    others = [
        c for c in nodes.claims if c not in gone and not (c.node == node and c.run_id == run_id)
    ]
    if node in nodes.held:
        raise ClaimRefusedError(f"node {node} is already cordoned by run {nodes.held[node]}")
    if node not in nodes.schedulable:
        raise ClaimRefusedError(f"node {node} is no longer schedulable (cordoned, or not Ready)")
    same = [c for c in others if c.node == node]
    if same:
        raise ClaimRefusedError(
            f"node {node} is being cordoned by run {same[0].run_id}", retry=True
        )
    flying = {c.node: c.run_id for c in others}
    taken = {**{n: f"cordoned by run {r}" for n, r in nodes.held.items()}}
    taken.update({n: f"cordon in flight for run {r}" for n, r in flying.items()})
    if len(taken) + 1 > max_nodes:
        holders = "; ".join(f"{n}: {why}" for n, why in sorted(taken.items()))
        raise ClaimRefusedError(
            f"max_nodes {max_nodes}: {len(taken)} node(s) already held by aftershock ({holders})",
            retry=len(nodes.held) + 1 <= max_nodes,
        )
    left = nodes.schedulable - set(flying) - {node}
    if len(left) < nodes.floor:
        raise ClaimRefusedError(
            f"min_schedulable_nodes {nodes.floor}: cordoning {node} would leave {len(left)} "
            f"schedulable node(s) of {nodes.total}"
            + (f" (cordons in flight: {', '.join(sorted(flying))})" if flying else ""),
            retry=len(nodes.schedulable - {node}) >= nodes.floor,
        )


class NodeClaims:
    """Writes of claims on Nodes, each conditional on the node's resourceVersion."""

    def __init__(
        self, kube: Kube, *, ttl: float = CLAIM_TTL, clock: Callable[[], float] = time.time
    ):
        self.kube = kube
        self.ttl = ttl
        self.clock = clock

    def write(self, node: Node, run_id: str) -> str:
        """Claim `node` as read (409 if it changed since); returns the new resourceVersion."""
        body = {
            "metadata": {
                "resourceVersion": node["metadata"].get("resourceVersion"),
                "annotations": {CLAIM_ANNOTATION: encode(run_id, self.clock())},
            }
        }
        written = self.kube.patch_node(node["metadata"]["name"], body)
        return str(written["metadata"]["resourceVersion"])

    def clear(self, node: Node, claim: Claim) -> None:
        """Remove this exact claim from the node as read (409 if the node changed since)."""
        if read_claim(node) != claim:
            return
        self.kube.patch_node(
            claim.node,
            {
                "metadata": {
                    "resourceVersion": node["metadata"].get("resourceVersion"),
                    "annotations": {CLAIM_ANNOTATION: None},
                }
            },
        )

    def clear_expired(self, nodes: list[Node], now: float) -> bool:
        """Clear every claim expired at `now` (a write, so a late cordon of it gets a 409);
        True if any was there: list again, and judge with this same `now` (a claim expiring
        between the clearing and the judgement would be neither cleared nor counted).
        Unreadable claims raise."""
        found = False
        for node in nodes:
            claim = read_claim(node)
            if claim is not None and expired([claim], now, self.ttl):
                found = True
                with contextlib.suppress(Conflict, NotFound):  # changed under us: the next
                    self.clear(node, claim)  # listing shows what it is now
        return found

    def withdraw(self, name: str, run_id: str, attempts: int = 5) -> bool:
        """Remove `run_id`'s claim from node `name`, if it is there; True once it is not.
        Also the fence for this run's own cordon request still on the wire."""
        for _ in range(attempts):
            node = read_node(self.kube, name)
            if node is None:
                return True
            claim = read_claim(node)
            if claim is None or claim.run_id != run_id:
                return True
            try:
                self.clear(node, claim)
            except Conflict:
                continue
            return True
        return False


def read_node(kube: Kube, name: str) -> Node | None:
    """One node, read with `list` and a field selector: drills need `list`, `watch` and
    `patch` on nodes, not `get`, so no read that takes a cordon back can be forbidden where
    the cordon itself was allowed. None: the node is gone."""
    nodes, _ = kube.list("nodes", None, field_selector=f"metadata.name={name}")
    return nodes[0] if nodes else None


def backoff(rng: random.Random, attempt: int) -> float:
    """A random pause before claiming again, so claimers that saw each other do not meet
    again in lockstep."""
    return rng.uniform(0.05, min(1.0, 0.15 * (attempt + 1)))


def is_ours(node: Node, run_id: str) -> bool:
    try:
        claim = read_claim(node)
    except ClaimRefusedError:
        return False
    return claim is not None and claim.run_id == run_id


def claimed_by(nodes: list[Node], run_id: str) -> list[str]:
    """Nodes carrying a claim of `run_id` (unreadable claims are nobody's)."""
    return sorted(n["metadata"]["name"] for n in nodes if is_ours(n, run_id))
