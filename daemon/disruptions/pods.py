"""Pod disruptions: a plain delete, and an eviction that the API server checks against PDBs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from daemon.disruptions import Counts, RecoveryView, Verb, replaced

if TYPE_CHECKING:
    from daemon.kube.client import Kube


@dataclass(frozen=True)
class PodDelete:
    name: str = "delete"
    verbs: tuple[Verb, ...] = (Verb("", "pods", "delete"),)
    counts: Counts = "pods"
    past_tense: str = "deleted"
    event_action: str = "Delete"

    def apply(
        self, kube: Kube, namespace: str, name: str, *, uid: str, grace_period: int | None
    ) -> None:
        kube.delete_pod(namespace, name, grace_period=grace_period, uid=uid or None)

    def recovered(self, view: RecoveryView) -> bool:
        return replaced(view)


@dataclass(frozen=True)
class PodEvict:
    name: str = "evict"
    verbs: tuple[Verb, ...] = (Verb("", "pods/eviction", "create"),)
    counts: Counts = "pods"
    past_tense: str = "evicted"
    event_action: str = "Evict"

    def apply(
        self, kube: Kube, namespace: str, name: str, *, uid: str, grace_period: int | None
    ) -> None:
        kube.evict_pod(namespace, name, grace_period=grace_period, uid=uid or None)

    def recovered(self, view: RecoveryView) -> bool:
        return replaced(view)
