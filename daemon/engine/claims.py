"""Cordons in flight, claimed on one shared Lease first: `max_nodes` across processes.

Counting aftershock's annotated nodes and then patching one is check-then-act: two processes
(a daemon and an `aftershock run`, two daemons without leader election) could both count
one free slot and both cordon, and a cordon whose PATCH is slow on the wire is invisible to
the other's count until it lands. So every cordon is first *claimed* on one Lease in
aftershock's namespace (`kube.namespace`, named `aftershock-node-cordons`; the chart's Role
already grants leases there): the claimer reads the Lease, *then* lists the nodes, counts the
nodes annotated by aftershock plus the claims still in flight, and writes its claim with the
Lease's resourceVersion. A concurrent claimer gets 409 and counts again, so the count and
the claim are one atomic step on the API server.

A claim only covers the flight: it is dropped once the cordon PATCH has answered (the
node's annotation counts from then on, or nothing was cordoned). Because the Lease is read
before the nodes are listed, a reader who no longer sees a dropped claim sees its
annotation. A PATCH without answer keeps its claim until the end of the run sees the
cordon, or until CLAIM_TTL has passed: well over the API server's own request timeout (60 s
by default), after which that PATCH can no longer land. A claimer that was paused for over
half the TTL between claiming and patching does not patch (its claim may have expired).
Claim times are wall-clock seconds: the TTL assumes clocks within a minute of each other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from daemon.kube.errors import Conflict, Forbidden, KubeError, NotFound

if TYPE_CHECKING:
    from daemon.kube.client import Kube

LEASE = "aftershock-node-cordons"
CLAIMS_ANNOTATION = "aftershock.io/cordon-claims"
CLAIM_TTL = 180.0  # seconds a claim counts without its cordon showing on the node
WRITE_ATTEMPTS = 20


@dataclass(frozen=True)
class Claim:
    node: str
    run_id: str
    at: float  # wall-clock seconds when claimed


class ClaimRefusedError(Exception):
    """No claim was written (so nothing may be cordoned); the message says why."""


def parse(lease: dict[str, Any] | None) -> list[Claim]:
    """The claims on the Lease; a Lease whose claims cannot be read fails closed."""
    if lease is None:
        return []
    text = ((lease.get("metadata") or {}).get("annotations") or {}).get(CLAIMS_ANNOTATION)
    if not text:
        return []
    try:
        raw = json.loads(text)
        return [Claim(str(node), str(c["run"]), float(c["at"])) for node, c in raw.items()]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ClaimRefusedError(
            f"the annotation {CLAIMS_ANNOTATION} of Lease {LEASE} cannot be read ({exc}); "
            "no cordon is claimed until it is fixed or the Lease deleted (it holds only "
            "cordons in flight)"
        ) from None


def fresh(claims: list[Claim], now: float, ttl: float = CLAIM_TTL) -> list[Claim]:
    """Claims that still count: younger than the TTL (a clock ahead of ours is younger)."""
    return [c for c in claims if now - c.at < ttl]


@dataclass(frozen=True)
class NodesNow:
    """What a claim is judged against, listed after the Lease was read."""

    held: dict[str, str]  # node -> run that cordoned it (aftershock's annotation)
    schedulable: frozenset[str]  # nodes an ordinary pod can land on now
    total: int
    floor: int  # min_schedulable_nodes as a count of these nodes


def busy(claims: list[Claim], held: dict[str, str], now: float) -> dict[str, str]:
    """node -> what holds it: cordoned by aftershock (annotation) or a claim in flight."""
    out = {node: f"cordoned by run {run}" for node, run in held.items()}
    for c in fresh(claims, now):
        out.setdefault(c.node, f"cordon in flight for run {c.run_id}")
    return out


def admit(
    claims: list[Claim],
    nodes: NodesNow,
    node: str,
    run_id: str,
    *,
    max_nodes: int,
    now: float,
) -> list[Claim]:
    """The claims to write with `node` added, or ClaimRefusedError naming what holds the
    slots. Pure. The rules: the nodes cordoned by aftershock or in flight stay under
    `max_nodes`, and the
    schedulable nodes left once every claim in flight and this one have landed stay at or
    above the floor (min_schedulable_nodes)."""
    live = fresh(claims, now)
    taken = busy(live, nodes.held, now)
    if node in taken:
        raise ClaimRefusedError(f"node {node} is already taken: {taken[node]}")
    if len(taken) >= max_nodes:
        holders = "; ".join(f"{n}: {why}" for n, why in sorted(taken.items()))
        raise ClaimRefusedError(
            f"max_nodes {max_nodes}: {len(taken)} node(s) already held by aftershock ({holders})"
        )
    left = nodes.schedulable - {c.node for c in live} - {node}
    if len(left) < nodes.floor:
        in_flight = sorted(c.node for c in live)
        raise ClaimRefusedError(
            f"min_schedulable_nodes {nodes.floor}: cordoning {node} would leave {len(left)} "
            f"schedulable node(s) of {nodes.total}"
            + (f" (cordons in flight: {', '.join(in_flight)})" if in_flight else "")
        )
    return [*live, Claim(node, run_id, now)]


def encode(claims: list[Claim]) -> str:
    return json.dumps(
        {
            c.node: {"run": c.run_id, "at": round(c.at, 6)}
            for c in sorted(claims, key=lambda c: c.node)
        },
        sort_keys=True,
    )


class Ledger:
    """The claims Lease of one namespace, read and written with compare-and-swap."""

    def __init__(self, kube: Kube, namespace: str, *, clock: Callable[[], float] = time.time):
        self.kube = kube
        self.namespace = namespace
        self.clock = clock

    @property
    def where(self) -> str:
        return f"Lease {self.namespace}/{LEASE}"

    def claim(
        self,
        node: str,
        run_id: str,
        look: Callable[[], NodesNow],
        *,
        max_nodes: int,
    ) -> None:
        """Write the claim for `node`, or raise ClaimRefusedError (nothing written)."""
        self._update(
            lambda claims: admit(
                claims,
                look(),
                node,
                run_id,
                max_nodes=max_nodes,
                now=self.clock(),
            )
        )

    def drop(self, run_id: str, nodes: set[str] | None = None) -> None:
        """Remove this run's claims (of `nodes`, or all); raises KubeError (they then expire)."""

        def without(claims: list[Claim]) -> list[Claim] | None:
            keep = [
                c for c in claims if not (c.run_id == run_id and (nodes is None or c.node in nodes))
            ]
            return None if len(keep) == len(claims) else keep

        try:
            self._update(without)
        except ClaimRefusedError as exc:
            raise KubeError(str(exc)) from None

    def claims(self) -> list[Claim]:
        return parse(self._read())

    def _read(self) -> dict[str, Any] | None:
        try:
            return self.kube.get("leases", self.namespace, LEASE)
        except NotFound:
            return None

    def _update(self, change: Callable[[list[Claim]], list[Claim] | None]) -> None:
        """Read, change, write with the read's resourceVersion; again on 409."""
        for _ in range(WRITE_ATTEMPTS):
            try:
                lease = self._read()
                new = change(parse(lease))  # reads the nodes after the Lease (see module doc)
                if new is None:
                    return
                if lease is None:
                    self.kube.create_lease(self.namespace, self._body(new))
                else:
                    meta = lease["metadata"]
                    meta["annotations"] = {
                        **(meta.get("annotations") or {}),
                        CLAIMS_ANNOTATION: encode(new),
                    }
                    self.kube.replace_lease(self.namespace, LEASE, lease)
            except Conflict:
                continue  # another claimer wrote first: count again
            except Forbidden as exc:
                raise ClaimRefusedError(
                    f"{self.where} cannot be written ({exc.message}): node drills need leases "
                    f"get, create and update in namespace {self.namespace}"
                ) from None
            except NotFound as exc:
                raise ClaimRefusedError(
                    f"{self.where} cannot be created ({exc.message}): node drills keep their "
                    "cordons in flight there; kube.namespace must name aftershock's namespace"
                ) from None
            except KubeError as exc:
                raise ClaimRefusedError(f"{self.where}: {exc.message}") from None
            else:
                return
        raise ClaimRefusedError(f"{self.where} kept changing ({WRITE_ATTEMPTS} attempts)")

    def _body(self, claims: list[Claim]) -> dict[str, Any]:
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": LEASE,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "aftershock"},
                "annotations": {CLAIMS_ANNOTATION: encode(claims)},
            },
            "spec": {},
        }
