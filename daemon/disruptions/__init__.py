"""Disruptions as a protocol: what aftershock can do to a cluster, each in one module.

A disruption declares its name, the RBAC verbs it needs, what the guard counts for it, how
it is applied, and what "recovered" means after it. The registry below is the only list:
the pod kill providers look their `method` up here, the recovery tracker asks the
disruption whether a workload has recovered, and the RBAC proof reads the verbs.

Adding one: a module with a class that satisfies `Disruption`, and an entry in `REGISTRY`
(plus simulator support and the chart's RBAC). See docs/node-drills.md for the node drain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from daemon.kube.client import Kube

Counts = Literal["pods", "nodes"]


@dataclass(frozen=True)
class Verb:
    """One RBAC rule the disruption needs: (API group, resource, verb)."""

    group: str
    resource: str
    verb: str


@dataclass
class RecoveryView:
    """What the recovery tracker knows when it asks a disruption "recovered yet?"."""

    desired: int  # how many Ready pods the owner wants (or had before, for unknown kinds)
    owner_ready: bool  # the owner's own status says so (True where no status can be read)
    pods: list[dict[str, Any]]  # the workload's pods now
    killed: set[str] = field(default_factory=set)  # uids this disruption hit
    stable_names: set[str] = field(default_factory=set)  # names that must come back


def pod_ready(pod: dict[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def replaced(view: RecoveryView) -> bool:
    """The pod-level meaning of recovered: the owner says ready, the disrupted pods are gone,
    nothing terminates, enough pods are Ready, and pods with stable names are back."""
    if not view.owner_ready:
        return False
    if any(
        "deletionTimestamp" in p["metadata"] or p["metadata"].get("uid") in view.killed
        for p in view.pods
    ):
        return False
    ready = [p for p in view.pods if pod_ready(p)]
    if len(ready) < view.desired:
        return False
    return view.stable_names <= {p["metadata"]["name"] for p in ready}


class Disruption(Protocol):
    """One kind of disruption (see the module docstring)."""

    @property
    def name(self) -> str: ...

    @property
    def verbs(self) -> tuple[Verb, ...]: ...

    @property
    def counts(self) -> Counts:
        """What the guard counts: each disrupted pod, or each cordoned node (and its pods)."""

    @property
    def past_tense(self) -> str:
        """For Events and messages: "deleted", "evicted", "drained"."""

    @property
    def event_action(self) -> str: ...

    def apply(
        self, kube: Kube, namespace: str, name: str, *, uid: str, grace_period: int | None
    ) -> None:
        """Send the disruption; raises daemon.kube.errors.KubeError as the client does."""

    def recovered(self, view: RecoveryView) -> bool:
        """Whether the disrupted workload counts as recovered in this state."""


def registry() -> dict[str, Disruption]:
    from daemon.disruptions.nodes import NodeDrain
    from daemon.disruptions.pods import PodDelete, PodEvict

    entries: list[Disruption] = [PodDelete(), PodEvict(), NodeDrain()]
    return {d.name: d for d in entries}


REGISTRY: dict[str, Disruption] = {}


def get(name: str) -> Disruption:
    """The disruption called `name`; KeyError names the known ones."""
    if not REGISTRY:
        REGISTRY.update(registry())
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown disruption {name!r}; known: {sorted(REGISTRY)}") from None


def verbs(names: list[str] | None = None) -> set[Verb]:
    """The RBAC rules the named disruptions (default: all) need together."""
    if not REGISTRY:
        REGISTRY.update(registry())
    return {v for n, d in REGISTRY.items() if names is None or n in names for v in d.verbs}
