"""Recovery time of a disrupted workload, measured from watch events.

The rule is documented in docs/running.md, "Recovery time".

t0 is the moment the disruption call returned. The workload has recovered at the first
event after which its owner reports ready replicas >= desired (for the current
generation) and no pod of it is terminating. Two watches feed one thread: the owner
object and the workload's pods. A 410 re-lists and resumes; a broken stream reconnects;
everything stops at the deadline, which makes the run deviate with `recovery_timeout`.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from daemon import disruptions
from daemon.disruptions import RecoveryView
from daemon.kube.client import Kube
from daemon.kube.errors import Gone, KubeError, TooManyRequests, Unavailable
from daemon.labels import to_string

GROUPED = ""  # pseudo-resource: pods grouped by their owner's uid (operator kinds)
RESOURCES = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
    "ReplicaSet": "replicasets",
}


@dataclass
class RecoveryResult:
    namespace: str
    kind: str
    name: str
    started_at: float
    recovered: bool = False
    recovered_at: float | None = None
    first_replacement_created_at: float | None = None  # first seen by the watch
    first_replacement_ready_at: float | None = None
    timed_out: bool = False
    error: str = ""
    relists: int = 0
    api_errors: int = 0
    measured: bool = True  # False for kinds whose pods nobody recreates
    observed: bool = True  # False when API errors hid the recovery: no verdict on it (I10)

    @property
    def recovery_seconds(self) -> float | None:
        return None if self.recovered_at is None else round(self.recovered_at - self.started_at, 6)

    @property
    def first_replacement_created_seconds(self) -> float | None:
        created = self.first_replacement_created_at
        return None if created is None else round(created - self.started_at, 6)

    @property
    def first_replacement_ready_seconds(self) -> float | None:
        ready = self.first_replacement_ready_at
        return None if ready is None else round(ready - self.started_at, 6)

    def as_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "kind": self.kind,
            "name": self.name,
            "recovered": self.recovered,
            "recovery_seconds": self.recovery_seconds,
            "first_replacement_created_seconds": self.first_replacement_created_seconds,
            "first_replacement_ready_seconds": self.first_replacement_ready_seconds,
            "timed_out": self.timed_out,
            "error": self.error,
            "relists": self.relists,
            "api_errors": self.api_errors,
            "measured": self.measured,
            "observed": self.observed,
        }


def _ready(pod: dict[str, Any]) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def desired_replicas(owner: dict[str, Any]) -> int:
    if owner.get("kind") == "DaemonSet":
        return int((owner.get("status") or {}).get("desiredNumberScheduled", 0))
    return int((owner.get("spec") or {}).get("replicas", 1))


def owner_recovered(owner: dict[str, Any]) -> bool:
    status = owner.get("status") or {}
    if status.get("observedGeneration", 0) < (owner.get("metadata") or {}).get("generation", 0):
        return False
    ready = status.get("numberReady" if owner.get("kind") == "DaemonSet" else "readyReplicas", 0)
    return bool(ready >= desired_replicas(owner))


@dataclass
class _State:
    owner: dict[str, Any] | None = None
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)


class RecoveryTracker:
    """Start right after the disruption call returns; `wait()` gives the result."""

    def __init__(
        self,
        kube: Kube,
        namespace: str,
        kind: str,
        name: str,
        *,
        started_at: float,
        known_uids: set[str],
        killed_uids: set[str],
        timeout: float,
        clock: Callable[[], float] = time.time,
        disruption: str = "delete",
        owner_uids: frozenset[str] = frozenset(),
        expected: int | None = None,
    ):
        self.kube = kube
        # What "recovered" means is the disruption's to say (daemon.disruptions).
        self.disruption = disruptions.get(disruption)
        # A kind aftershock does not know (an operator's): its pods are those whose controller
        # is one of `owner_uids`; recovered = `expected` of them Ready again (as many as were
        # Ready before the kill), the killed ones gone. The owner object is never read.
        self.owner_uids = owner_uids
        self.expected = expected
        self.result = RecoveryResult(namespace, kind, name, started_at)
        self.known = set(known_uids)  # every pod of the workload seen before the disruption
        self.killed = set(killed_uids)
        self.deadline = time.monotonic() + timeout
        self.clock = clock
        # (resource, event type, object, time the event was read off the stream)
        self._events: queue.Queue[tuple[str, str, dict[str, Any], float] | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"recovery-{name}", daemon=True)

    def start(self) -> RecoveryTracker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def running(self) -> bool:
        """Still watching (not yet recovered, timed out or stopped)."""
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> RecoveryResult:
        self._thread.join(
            timeout=max(0.0, self.deadline - time.monotonic() + 1) if timeout is None else timeout
        )
        return self.result

    # ------------------------------------------------------------------ internals

    def _remaining(self) -> float:
        return self.deadline - time.monotonic()

    def _run(self) -> None:
        result = self.result
        resource = RESOURCES.get(result.kind)
        if resource is None and self.owner_uids and self.expected is not None:
            resource = GROUPED
        try:
            if resource is None:
                result.measured = False
                result.error = f"{result.kind} pods are not recreated; recovery is not measured"
                return
            state = _State()
            while not self._stop.is_set() and self._remaining() > 0:
                watchers = self._start_watches_retrying(resource, state)
                if watchers is None:
                    break
                outcome = self._consume(state)
                for stop in watchers:
                    stop.set()
                if outcome != "relist":
                    return
                result.relists += 1
            if not result.recovered:
                result.timed_out = True
        except KubeError as exc:
            result.error = exc.message
        finally:
            if not result.recovered and not result.error and self._remaining() <= 0:
                result.timed_out = True
            if result.timed_out and result.api_errors and resource not in (None, GROUPED):
                self._unobserved(resource)

    def _unobserved(self, resource: str) -> None:
        """Timed out while the API was failing: one last read decides whether the timeout
        is a fact (seen not recovered) or recovery was simply not observable."""
        result = self.result
        try:
            owners, _ = self.kube.list(
                resource, result.namespace, field_selector=f"metadata.name={result.name}"
            )
            owner = owners[0] if owners else None
            recovered = owner is not None and owner_recovered(owner)
        except KubeError as exc:
            result.timed_out, result.measured, result.observed = False, False, False
            result.error = (
                f"recovery could not be observed: the API failed {result.api_errors} time(s)"
                f" and still fails ({exc.message})"
            )
            return
        if recovered:
            result.timed_out, result.measured, result.observed = False, False, False
            result.error = (
                f"recovered, but when could not be observed: the API failed "
                f"{result.api_errors} time(s) during the measurement"
            )

    def _start_watches_retrying(self, resource: str, state: _State) -> list[threading.Event] | None:
        """(Re)list through transient API errors (5xx, 429, outages) until the deadline."""
        delay = 0.1
        while not self._stop.is_set():
            try:
                return self._start_watches(resource, state)
            except (Unavailable, TooManyRequests) as exc:
                self.result.api_errors += 1
                pause = (
                    min(exc.retry_after or delay, 2.0)
                    if isinstance(exc, TooManyRequests)
                    else delay
                )
                if self._remaining() <= pause:
                    return None
                self._stop.wait(pause)
                delay = min(delay * 2, 1.0)
        return None

    def _mine(self, pod: dict[str, Any]) -> bool:
        refs = pod["metadata"].get("ownerReferences") or []
        return any(r.get("controller") and r.get("uid") in self.owner_uids for r in refs)

    def _start_grouped(self, state: _State) -> list[threading.Event]:
        """An operator's pods, grouped by their owner's uid: one watch on the namespace's pods."""
        result = self.result
        pods, pod_rv = self.kube.list("pods", result.namespace)
        expected = int(self.expected or 0)
        state.owner = {
            "kind": result.kind,
            "spec": {"replicas": expected},
            "status": {"readyReplicas": expected},
        }
        state.pods = {p["metadata"]["name"]: p for p in pods if self._mine(p)}
        self._check(state, self.clock())
        stop = threading.Event()
        threading.Thread(target=self._pump, args=("pods", pod_rv, {}, stop), daemon=True).start()
        return [stop]

    def _start_watches(self, resource: str, state: _State) -> list[threading.Event]:
        result = self.result
        if resource == GROUPED:
            return self._start_grouped(state)
        owners, owner_rv = self.kube.list(
            resource, result.namespace, field_selector=f"metadata.name={result.name}"
        )
        if not owners:
            raise KubeError(f"{result.kind} {result.namespace}/{result.name} no longer exists")
        state.owner = owners[0]
        selector = to_string((state.owner.get("spec") or {}).get("selector"))
        pods, pod_rv = self.kube.list("pods", result.namespace, label_selector=selector)
        state.pods = {p["metadata"]["name"]: p for p in pods}
        self._check(state, self.clock())
        stops = []
        for kind, rv, kwargs in (
            (resource, owner_rv, {"field_selector": f"metadata.name={result.name}"}),
            ("pods", pod_rv, {"label_selector": selector}),
        ):
            stop = threading.Event()
            stops.append(stop)
            threading.Thread(target=self._pump, args=(kind, rv, kwargs, stop), daemon=True).start()
        return stops

    def _pump(self, resource: str, rv: str, kwargs: dict[str, Any], stop: threading.Event) -> None:
        """Feed one watch into the queue; reconnect on broken streams; signal a relist on 410."""
        delay = 0.1
        while not stop.is_set() and self._remaining() > 0:
            try:
                timeout = max(1, min(30, int(self._remaining()) + 1))
                for kind, obj in self.kube.watch(
                    resource,
                    self.result.namespace,
                    resource_version=rv,
                    timeout_seconds=timeout,
                    **kwargs,
                ):
                    if stop.is_set():
                        return
                    rv = (obj.get("metadata") or {}).get("resourceVersion", rv)
                    if kind != "BOOKMARK":
                        # Stamped here, not when consumed: the queue hop must not add error.
                        self._events.put((resource, kind, obj, self.clock()))
                    delay = 0.1
            except Gone:
                self._events.put(("relist", "", {}, self.clock()))
                return
            except KubeError:
                self.result.api_errors += 1
                stop.wait(min(delay, max(0.0, self._remaining())))
                delay = min(delay * 2, 2.0)

    def _consume(self, state: _State) -> str:
        while not self._stop.is_set():
            remaining = self._remaining()
            if remaining <= 0:
                return "deadline"
            try:
                item = self._events.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if item is None:
                return "stopped"
            resource, kind, obj, received_at = item
            if resource == "relist":
                with contextlib.suppress(queue.Empty):
                    while True:
                        self._events.get_nowait()
                return "relist"
            if resource == "pods":
                name = obj["metadata"]["name"]
                if self.owner_uids and not self._mine(obj):
                    continue  # another workload's pod (the grouped watch sees the namespace)
                if kind == "DELETED":
                    state.pods.pop(name, None)
                else:
                    state.pods[name] = obj
            else:
                state.owner = obj
            if self._check(state, received_at):
                return "recovered"
        return "stopped"

    def _check(self, state: _State, now: float) -> bool:
        result = self.result
        if result.first_replacement_created_at is None:
            for pod in state.pods.values():
                if (
                    pod["metadata"].get("uid") not in self.known
                    and "deletionTimestamp" not in pod["metadata"]
                    and self._created_after(pod)
                ):
                    result.first_replacement_created_at = now
                    break
        if result.first_replacement_ready_at is None:
            for pod in state.pods.values():
                if (
                    pod["metadata"].get("uid") not in self.known
                    and _ready(pod)
                    and "deletionTimestamp" not in pod["metadata"]
                    and self._created_after(pod)
                ):
                    result.first_replacement_ready_at = now
                    break
        if state.owner is None:
            return False
        # The owner's status can lag the kill (its controller has not seen it yet), so the
        # pods must agree: the killed ones gone, nothing terminating, enough Ready.
        view = RecoveryView(
            desired=desired_replicas(state.owner),
            owner_ready=owner_recovered(state.owner),
            pods=list(state.pods.values()),
            killed=self.killed,
        )
        if self.disruption.recovered(view):
            result.recovered = True
            result.recovered_at = now
            return True
        return False

    def _created_after(self, pod: dict[str, Any]) -> bool:
        from datetime import UTC, datetime

        stamp = pod["metadata"].get("creationTimestamp")
        if not stamp:
            return True
        try:
            created = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
        except ValueError:
            return True
        # creationTimestamp has one-second resolution: a pod created in t0's second counts.
        return created >= int(self.result.started_at) - 1
