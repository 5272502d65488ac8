"""Ground truth for every pod disruption, stamped at the moment the store changed.

Tests and benchmarks compare aftershock's recovery measurements with these timestamps:
the delete/evict request, the pod turning NotReady (already at the request if it was not
Ready; at removal if it was removed without a last status), pod removal, the replacement's creation and readiness, the
workload becoming fully ready at pod level, and the owner's status first saying so.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass
from typing import Any

from daemon.simulator.store import now_micro


@dataclass
class Disruption:
    id: int
    namespace: str
    pod: str
    pod_uid: str
    method: str  # delete | evict
    workload_kind: str
    workload_name: str
    requested_at: float
    pod_not_ready_at: float | None = None  # the kubelet's last status (Ready False)
    pod_removed_at: float | None = None
    replacement: str | None = None
    replacement_created_at: float | None = None
    replacement_ready_at: float | None = None
    workload_ready_at: float | None = None
    workload_status_ready_at: float | None = None

    @property
    def workload(self) -> tuple[str, str, str]:
        return (self.namespace, self.workload_kind, self.workload_name)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in list(data.items()):
            if key.endswith("_at") and value is not None:
                data[key.removesuffix("_at") + "_time"] = now_micro(value)
        if self.workload_ready_at is not None:
            data["recovery_seconds"] = round(self.workload_ready_at - self.requested_at, 6)
        return data


class Timeline:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._items: list[Disruption] = []

    def record(self, **fields: Any) -> Disruption:
        with self._lock:
            item = Disruption(id=next(self._ids), **fields)
            self._items.append(item)
            return item

    def open_for(self, workload: tuple[str, str, str]) -> list[Disruption]:
        with self._lock:
            return [
                d
                for d in self._items
                if d.workload == workload and d.workload_status_ready_at is None
            ]

    def by_pod_uid(self, uid: str) -> list[Disruption]:
        with self._lock:
            return [d for d in self._items if d.pod_uid == uid]

    def by_replacement(self, namespace: str, name: str) -> list[Disruption]:
        with self._lock:
            return [d for d in self._items if d.namespace == namespace and d.replacement == name]

    def all(self) -> list[Disruption]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


@dataclass(frozen=True)
class Cordon:
    """One change of a node's `spec.unschedulable`, stamped when the store applied it."""

    node: str
    cordoned: bool
    at: float
    by_run: str | None  # aftershock's `aftershock.io/cordoned-by-run` annotation, if any

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "time": now_micro(self.at)}


class NodeTimeline:
    """Ground truth for cordons: `peak()` is the most nodes ever cordoned at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Cordon] = []

    def record(self, node: str, cordoned: bool, at: float, by_run: str | None) -> None:
        with self._lock:
            self._items.append(Cordon(node, cordoned, at, by_run))

    def all(self) -> list[Cordon]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def peak(changes: list[Cordon], start: set[str] | None = None) -> int:
    """The most nodes cordoned at the same moment over these changes (in store order)."""
    now = set(start or ())
    most = len(now)
    for change in changes:
        if change.cordoned:
            now.add(change.node)
        else:
            now.discard(change.node)
        most = max(most, len(now))
    return most
