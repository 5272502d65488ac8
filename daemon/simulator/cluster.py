"""What makes the simulator a cluster: controllers, scheduler and kubelet, on one thread.

Store changes mark their namespace dirty; one controller thread reconciles dirty
namespaces level-triggered (like real controllers, it compares desired with observed and
writes only differences) and runs the per-pod timers of the kubelet emulation. Everything
runs under the store lock, so controllers never race each other or half-see a write.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import heapq
import itertools
import json
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from daemon.durations import parse_duration
from daemon.labels import from_label_selector
from daemon.simulator.cluster_file import DEFAULT_TIMING, ClusterFile
from daemon.simulator.errors import ApiError
from daemon.simulator.store import Event, Obj, Store, now_rfc3339
from daemon.simulator.timeline import NodeTimeline, Timeline

ANNOTATION = "sim.aftershock.io/"
PODS = "pods"
RS = "replicasets.apps"
DEPLOY = "deployments.apps"
STS = "statefulsets.apps"
DS = "daemonsets.apps"
PDB = "poddisruptionbudgets.policy"
REVISION = "deployment.kubernetes.io/revision"
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
PDB_DISRUPTION_TIMEOUT = 120.0  # seconds a disrupted pod counts against its budget


def meta(obj: Obj) -> dict[str, Any]:
    result: dict[str, Any] = obj["metadata"]
    return result


def deleting(obj: Obj) -> bool:
    return "deletionTimestamp" in obj["metadata"]


def pod_ready(pod: Obj) -> bool:
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def controller_of(obj: Obj) -> dict[str, Any] | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def condition(
    old_status: dict[str, Any] | None,
    kind: str,
    ok: bool,
    *,
    stamp: str | None = None,
    updated: bool = False,
    **fields: Any,
) -> dict[str, Any]:
    """A status condition that keeps its lastTransitionTime until its status flips."""
    value = "True" if ok else "False"
    previous = next(
        (c for c in (old_status or {}).get("conditions") or [] if c.get("type") == kind), None
    )
    same = previous is not None and previous.get("status") == value
    since = previous["lastTransitionTime"] if same and previous else stamp or now_rfc3339()
    result = {"type": kind, "status": value, **fields, "lastTransitionTime": since}
    if updated:
        result["lastUpdateTime"] = since
    return result


def template_hash(template: Any) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    number = int.from_bytes(digest[:8], "big")
    out = ""
    for _ in range(10):
        number, index = divmod(number, len(alphabet))
        out += alphabet[index]
    return out


STATUS_KINDS = {"Deployment": DEPLOY, "StatefulSet": STS, "DaemonSet": DS}


def status_says_ready(obj: Obj) -> bool:
    """The workload's own status reports every replica ready."""
    status = obj.get("status") or {}
    if obj.get("kind") == "DaemonSet":
        return bool(status.get("numberReady", 0) >= status.get("desiredNumberScheduled", 1))
    return bool(status.get("readyReplicas", 0) >= int((obj.get("spec") or {}).get("replicas", 1)))


def scaled(value: int | str, total: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        fraction = float(text[:-1]) / 100 * total
        return math.ceil(fraction) if round_up else math.floor(fraction)
    return int(text)


@dataclass
class PodLog:
    current: list[tuple[float, str]] = field(default_factory=list)
    previous: list[tuple[float, str]] | None = None


@dataclass
class UserInfo:
    username: str
    groups: list[str]
    uid: str = ""


class Cluster:
    """The simulated cluster's state and behaviour; the HTTP layer calls into it."""

    def __init__(self, spec: ClusterFile, seed: int | None = None):
        self.spec = spec
        self.seed = spec.seed if seed is None else seed
        self.rng = random.Random(self.seed)
        self.store = Store(history=spec.watch.history, seed=self.seed)
        self.timeline = Timeline()
        self.node_timeline = NodeTimeline()
        self.logs: dict[str, dict[str, PodLog]] = {}  # pod uid -> container -> log
        self.tokens: dict[str, UserInfo] = {
            spec.admin_token: UserInfo("admin", ["system:masters", "system:authenticated"])
        }
        for user in spec.rbac.users:
            self.tokens[user.token] = UserInfo(user.name, [*user.groups, "system:authenticated"])
        self._wake = threading.Condition(threading.Lock())
        self._dirty: set[str] = set()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._tracked: set[str] = set()
        self._terminating: set[str] = set()
        self._ip_counter = itertools.count(2)
        self._cluster_ips = itertools.count(10)  # 10.96.0.1 is the `kubernetes` Service
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.store.add_listener(self._on_event)
        from daemon.simulator.bootstrap import operator_resources

        # Custom kinds whose objects own pods directly, as operators' do (StrimziPodSet, ...).
        self.operator_keys = tuple(r.key for r in operator_resources(spec))
        self._operator_pending: dict[str, int] = {}

    # ------------------------------------------------------------------ lifecycle

    def bootstrap(self) -> None:
        """Create the objects of the cluster file, as `kubectl apply` of it would."""
        from daemon.simulator import bootstrap

        with self.store.lock:
            bootstrap.populate(self)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sim-controllers", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def settle(self, timeout: float = 5.0) -> bool:
        """Wait until no reconcile is pending (timers may still be scheduled)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._wake:
                if not self._dirty:
                    return True
            time.sleep(0.005)
        return False

    # ------------------------------------------------------------------ work queue

    def _on_event(self, event: Event) -> None:
        namespace = event.obj["metadata"].get("namespace")
        with self._wake:
            self._dirty.add(namespace or "*")
            self._wake.notify()
        if event.key == PODS:
            self._timeline_pod_event(event)
        elif event.key in (DEPLOY, STS, DS):
            self._timeline_status_event(event)
        elif event.key == "nodes":
            self._timeline_node_event(event)

    def _timeline_node_event(self, event: Event) -> None:
        """Every cordon and uncordon, stamped under the store lock (so in apply order)."""

        def cordoned(obj: Obj | None) -> bool:
            return bool(((obj or {}).get("spec") or {}).get("unschedulable"))

        now = cordoned(event.obj) and event.type != "DELETED"
        if now != cordoned(event.old):
            annotations = event.obj["metadata"].get("annotations") or {}
            self.node_timeline.record(
                event.obj["metadata"]["name"],
                now,
                time.time(),
                annotations.get("aftershock.io/cordoned-by-run"),
            )

    def after(self, delay: float, action: Callable[[], None]) -> None:
        with self._wake:
            heapq.heappush(
                self._timers, (time.monotonic() + max(0.0, delay), next(self._seq), action)
            )
            self._wake.notify()

    def _run(self) -> None:
        while not self._stopped.is_set():
            with self._wake:
                while not self._dirty and not self._stopped.is_set():
                    if self._timers and self._timers[0][0] <= time.monotonic():
                        break
                    timeout = self._timers[0][0] - time.monotonic() if self._timers else 0.5
                    self._wake.wait(timeout=max(0.0, min(timeout, 0.5)))
                dirty, self._dirty = self._dirty, set()
                due: list[Callable[[], None]] = []
                now = time.monotonic()
                while self._timers and self._timers[0][0] <= now:
                    due.append(heapq.heappop(self._timers)[2])
            if self._stopped.is_set():
                return
            with self.store.lock:
                for action in due:
                    self._guard(action)
                if "*" in dirty:
                    self._guard(self._node_lifecycle)
                namespaces = self._all_namespaces() if "*" in dirty else sorted(dirty)
                for namespace in namespaces:
                    self._guard(functools.partial(self.reconcile, namespace))

    def _guard(self, action: Callable[[], None]) -> None:
        try:
            action()
        except ApiError:
            pass  # e.g. a conflict with a concurrent API write: the next pass retries
        except Exception:
            import logging

            logging.getLogger("aftershock.simulator").exception("controller step failed")

    def _all_namespaces(self) -> list[str]:
        return sorted(meta(n)["name"] for n in self.store.items("namespaces"))

    # ------------------------------------------------------------------ helpers

    def event(
        self,
        obj: Obj,
        reason: str,
        message: str,
        *,
        type_: str = "Normal",
        component: str = "kubelet",
        host: str = "",
    ) -> None:
        """Record a core/v1 Event about `obj`, folding repeats into `count` like the recorder."""
        namespace = meta(obj).get("namespace") or "default"
        stamp = now_rfc3339()
        involved = {
            "kind": obj.get("kind"),
            "namespace": meta(obj).get("namespace", ""),
            "name": meta(obj)["name"],
            "uid": meta(obj).get("uid"),
            "apiVersion": obj.get("apiVersion"),
            "resourceVersion": meta(obj).get("resourceVersion"),
        }
        key = hashlib.sha1(  # noqa: S324 - a name, not security
            f"{involved['uid']}{reason}{message}".encode()
        ).hexdigest()[:16]
        name = f"{meta(obj)['name']}.{key}"
        existing = self.store.get("events", namespace, name)
        if existing is not None:
            updated = copy.deepcopy(existing)
            updated["count"] = existing.get("count", 1) + 1
            updated["lastTimestamp"] = stamp
            self.store.replace("events", "events", updated)
            return
        self.store.create(
            "events",
            "events",
            {
                "kind": "Event",
                "apiVersion": "v1",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": involved,
                "reason": reason,
                "message": message,
                "type": type_,
                "source": {"component": component, **({"host": host} if host else {})},
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "eventTime": None,
                "count": 1,
                "reportingComponent": component,
                "reportingInstance": host,
            },
        )

    def timing(self, pod: Obj, name: str) -> Any:
        raw = (meta(pod).get("annotations") or {}).get(ANNOTATION + name.replace("_", "-"))
        if raw is not None:
            if name in ("spread", "crash_probability"):
                return float(raw)
            return parse_duration(raw)
        value = getattr(self.spec.timing, name)
        return DEFAULT_TIMING[name] if value is None else value

    def delay(self, pod: Obj, name: str) -> float:
        value = self.timing(pod, name)
        seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
        spread = float(self.timing(pod, "spread"))
        if spread:
            seconds *= self.rng.uniform(1 - spread, 1 + spread)
        return max(0.0, seconds)

    def log(self, pod: Obj, line: str, container: str | None = None) -> None:
        containers = pod.get("spec", {}).get("containers") or [{"name": "app"}]
        name = container or containers[0].get("name", "app")
        entry = self.logs.setdefault(meta(pod)["uid"], {}).setdefault(name, PodLog())
        entry.current.append((time.time(), line))
        if len(entry.current) > 5000:
            del entry.current[:1000]

    def _update(self, key: str, obj: Obj, mutate: Callable[[Obj], None]) -> Obj:
        updated = copy.deepcopy(obj)
        mutate(updated)
        if updated == obj:
            return obj
        return self.store.replace(key, key, updated)

    def _set_status(self, key: str, obj: Obj, status: dict[str, Any]) -> None:
        if obj.get("status") == status:
            return
        updated = dict(obj)
        updated["metadata"] = dict(obj["metadata"])
        updated["status"] = status
        self.store.replace(key, key, updated)

    # ------------------------------------------------------------------ reconcile

    def reconcile(self, namespace: str) -> None:
        store = self.store
        if store.get("namespaces", None, namespace) is None:
            return
        pods = store.items(PODS, namespace)
        by_owner: dict[str, list[Obj]] = {}
        for pod in pods:
            owner = controller_of(pod)
            if owner:
                by_owner.setdefault(owner["uid"], []).append(pod)
        replicasets = store.items(RS, namespace)
        rs_by_owner: dict[str, list[Obj]] = {}
        for rs in replicasets:
            owner = controller_of(rs)
            if owner:
                rs_by_owner.setdefault(owner["uid"], []).append(rs)
        for deployment in store.items(DEPLOY, namespace):
            if not deleting(deployment):
                self._deployment(deployment, rs_by_owner.get(meta(deployment)["uid"], []), by_owner)
        for rs in store.items(RS, namespace):
            if not deleting(rs):
                self._replicaset(rs, by_owner.get(meta(rs)["uid"], []))
        for sts in store.items(STS, namespace):
            if not deleting(sts):
                self._statefulset(sts, by_owner.get(meta(sts)["uid"], []))
        for ds in store.items(DS, namespace):
            if not deleting(ds):
                self._daemonset(ds, by_owner.get(meta(ds)["uid"], []))
        for key in self.operator_keys:
            for custom in store.items(key, namespace):
                if not deleting(custom):
                    self._operator(key, custom, by_owner.get(meta(custom)["uid"], []))
        for pod in store.items(PODS, namespace):
            self._kubelet(pod)
        self._garbage_collect(namespace)
        self._pdbs(namespace)
        self._endpoints(namespace)

    # ------------------------------------------------------------------ workloads

    def _new_pod(
        self,
        template: dict[str, Any],
        namespace: str,
        owner: Obj,
        *,
        name: str | None = None,
        node: str | None = None,
        extra_labels: dict[str, str] | None = None,
    ) -> Obj:
        template_meta = template.get("metadata") or {}
        spec = copy.deepcopy(template.get("spec") or {})
        spec.setdefault("containers", [{"name": "app", "image": "registry.local/app:1.0"}])
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("serviceAccountName", "default")
        if node:
            spec["nodeName"] = node
        pod_meta: dict[str, Any] = {
            "namespace": namespace,
            "labels": {**(template_meta.get("labels") or {}), **(extra_labels or {})},
            "annotations": dict(template_meta.get("annotations") or {}),
            "ownerReferences": [
                {
                    "apiVersion": owner["apiVersion"],
                    "kind": owner["kind"],
                    "name": meta(owner)["name"],
                    "uid": meta(owner)["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        }
        if name:
            pod_meta["name"] = name
        else:
            pod_meta["generateName"] = meta(owner)["name"] + "-"
        pod = {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": pod_meta,
            "spec": spec,
            "status": {"phase": "Pending", "qosClass": "BestEffort"},
        }
        created = self.store.create(PODS, PODS, pod)
        self.event(
            owner,
            "SuccessfulCreate",
            f"Created pod: {meta(created)['name']}",
            component=f"{owner['kind'].lower()}-controller",
        )
        return created

    def _deployment(
        self, deployment: Obj, owned_rs: list[Obj], by_owner: dict[str, list[Obj]]
    ) -> None:
        spec = deployment.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        pod_hash = template_hash(template)
        name = f"{meta(deployment)['name']}-{pod_hash}"
        current = next((rs for rs in owned_rs if meta(rs)["name"] == name), None)
        selector = copy.deepcopy(
            spec.get("selector")
            or {"matchLabels": (template.get("metadata") or {}).get("labels", {})}
        )
        if current is None:
            labels = {
                **((template.get("metadata") or {}).get("labels") or {}),
                "pod-template-hash": pod_hash,
            }
            rs_template = copy.deepcopy(template)
            rs_template.setdefault("metadata", {})["labels"] = labels
            selector.setdefault("matchLabels", {})["pod-template-hash"] = pod_hash
            current = self.store.create(
                RS,
                RS,
                {
                    "kind": "ReplicaSet",
                    "apiVersion": "apps/v1",
                    "metadata": {
                        "name": name,
                        "namespace": meta(deployment)["namespace"],
                        "labels": labels,
                        "annotations": {
                            "deployment.kubernetes.io/desired-replicas": str(desired),
                            REVISION: str(_next_revision(owned_rs)),
                        },
                        "ownerReferences": [
                            {
                                "apiVersion": "apps/v1",
                                "kind": "Deployment",
                                "name": meta(deployment)["name"],
                                "uid": meta(deployment)["uid"],
                                "controller": True,
                                "blockOwnerDeletion": True,
                            }
                        ],
                    },
                    "spec": {"replicas": desired, "selector": selector, "template": rs_template},
                    "status": {"replicas": 0},
                },
            )
            self.event(
                deployment,
                "ScalingReplicaSet",
                f"Scaled up replica set {name} to {desired}",
                component="deployment-controller",
            )
        elif current["spec"].get("replicas") != desired:
            before = current["spec"].get("replicas")
            current = self._update(
                RS, current, lambda o: o["spec"].__setitem__("replicas", desired)
            )
            direction = "up" if desired > (before or 0) else "down"
            self.event(
                deployment,
                "ScalingReplicaSet",
                f"Scaled {direction} replica set {name} to {desired}",
                component="deployment-controller",
            )
        revision = (meta(current).get("annotations") or {}).get(REVISION)
        if revision and (meta(deployment).get("annotations") or {}).get(REVISION) != revision:
            deployment = self._update(
                DEPLOY, deployment, functools.partial(_set_annotation, REVISION, revision)
            )
        for old in owned_rs:
            if meta(old)["name"] != name and old["spec"].get("replicas", 0) != 0:
                self._update(RS, old, lambda o: o["spec"].__setitem__("replicas", 0))
        pods = [p for rs in owned_rs for p in by_owner.get(meta(rs)["uid"], []) if not deleting(p)]
        current_pods = [p for p in by_owner.get(meta(current)["uid"], []) if not deleting(p)]
        ready = sum(1 for p in pods if pod_ready(p))
        max_unavailable = scaled(
            ((spec.get("strategy") or {}).get("rollingUpdate") or {}).get("maxUnavailable", "25%"),
            desired,
            False,
        )
        available = ready >= desired - max_unavailable
        previous_status = deployment.get("status")
        status: dict[str, Any] = {
            "observedGeneration": meta(deployment).get("generation", 1),
            "replicas": len(pods),
            "updatedReplicas": len(current_pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": max(0, desired - ready),
            "conditions": [
                condition(
                    previous_status,
                    "Available",
                    available,
                    reason="MinimumReplicasAvailable"
                    if available
                    else "MinimumReplicasUnavailable",
                    message="Deployment has minimum availability."
                    if available
                    else "Deployment does not have minimum availability.",
                    updated=True,
                ),
                condition(
                    previous_status,
                    "Progressing",
                    True,
                    reason="NewReplicaSetAvailable",
                    message=f'ReplicaSet "{name}" has successfully progressed.',
                    updated=True,
                ),
            ],
        }
        for zero in ("readyReplicas", "availableReplicas", "unavailableReplicas"):
            if status[zero] == 0:
                del status[zero]  # the API omits zero counts
        self._set_status(DEPLOY, deployment, status)

    def _replicaset(self, rs: Obj, pods: list[Obj]) -> None:
        desired = int((rs.get("spec") or {}).get("replicas", 1))
        active = [
            p
            for p in pods
            if not deleting(p) and p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
        ]
        template = (rs.get("spec") or {}).get("template") or {}
        active.extend(
            self._new_pod(template, meta(rs)["namespace"], rs) for _ in range(desired - len(active))
        )
        if len(active) > desired:
            ranked = sorted(active, key=functools.partial(_deletion_rank, active))
            for pod in ranked[: len(active) - desired]:
                self.delete_pod(pod, None)
                active.remove(pod)
        ready = sum(1 for p in active if pod_ready(p))
        status: dict[str, Any] = {
            "replicas": len(active),
            "fullyLabeledReplicas": len(active),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": meta(rs).get("generation", 1),
        }
        for zero in ("readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
            if status[zero] == 0:
                del status[zero]
        self._set_status(RS, rs, status)

    def _statefulset(self, sts: Obj, pods: list[Obj]) -> None:
        spec = sts.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        name = meta(sts)["name"]
        by_name = {meta(p)["name"]: p for p in pods}
        parallel = spec.get("podManagementPolicy") == "Parallel"
        revision = f"{name}-{template_hash(spec.get('template'))}"
        for ordinal in range(desired):
            pod_name = f"{name}-{ordinal}"
            if pod_name in by_name:
                if not parallel and not pod_ready(by_name[pod_name]):
                    break
                continue
            template = copy.deepcopy(spec.get("template") or {})
            template.setdefault("spec", {}).update(
                {"hostname": pod_name, "subdomain": spec.get("serviceName", "")}
            )
            created = self._new_pod(
                template,
                meta(sts)["namespace"],
                sts,
                name=pod_name,
                extra_labels={
                    "statefulset.kubernetes.io/pod-name": pod_name,
                    "controller-revision-hash": revision,
                    "apps.kubernetes.io/pod-index": str(ordinal),
                },
            )
            by_name[pod_name] = created
            if not parallel:
                break
        for pod_name, pod in sorted(by_name.items(), reverse=True):
            ordinal = (
                int(pod_name.rsplit("-", 1)[1]) if pod_name.rsplit("-", 1)[1].isdigit() else -1
            )
            if ordinal >= desired and not deleting(pod):
                self.delete_pod(pod, None)
        live = [p for p in by_name.values() if not deleting(p)]
        ready = sum(1 for p in live if pod_ready(p))
        status = {
            "observedGeneration": meta(sts).get("generation", 1),
            "replicas": len(live),
            "readyReplicas": ready,
            "currentReplicas": len(live),
            "updatedReplicas": len(live),
            "availableReplicas": ready,
            "currentRevision": revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        self._set_status(STS, sts, status)

    def _operator(self, key: str, owner: Obj, pods: list[Obj]) -> None:
        """An operator's loop: recreate missing pods after its delay, same names or new ones."""
        spec = owner.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        uid = meta(owner)["uid"]
        if spec.get("podsVia") == "ReplicaSet":
            self._operator_replicaset(key, owner, desired)
            return
        live = [
            p
            for p in pods
            if not deleting(p) and p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
        ]
        missing = desired - len(live) - self._operator_pending.get(uid, 0)
        delay = parse_duration(str(spec.get("recreateDelay") or "0s")).total_seconds()
        for _ in range(max(0, missing)):
            self._operator_pending[uid] = self._operator_pending.get(uid, 0) + 1
            self.after(
                delay,
                functools.partial(self._operator_create, key, meta(owner)["namespace"], uid),
            )
        ready = sum(1 for p in live if pod_ready(p))
        self._set_status(
            key,
            owner,
            {
                "replicas": len(live),
                "readyReplicas": ready,
                "observedGeneration": meta(owner).get("generation", 1),
            },
        )

    def _operator_replicaset(self, key: str, owner: Obj, desired: int) -> None:
        """Argo Rollouts' shape: the custom object owns one ReplicaSet, which owns the pods."""
        namespace, uid = meta(owner)["namespace"], meta(owner)["uid"]
        spec = owner.get("spec") or {}
        mine = [
            rs
            for rs in self.store.items(RS, namespace)
            if (controller_of(rs) or {}).get("uid") == uid
        ]
        if not mine:
            template = copy.deepcopy(spec.get("template") or {})
            rs_hash = template_hash(template)[:10]
            template.setdefault("metadata", {}).setdefault("labels", {})[
                "rollouts-pod-template-hash"
            ] = rs_hash
            self.store.create(
                RS,
                RS,
                {
                    "kind": "ReplicaSet",
                    "apiVersion": "apps/v1",
                    "metadata": {
                        "name": f"{meta(owner)['name']}-{rs_hash}",
                        "namespace": namespace,
                        "labels": dict(template["metadata"]["labels"]),
                        "ownerReferences": [
                            {
                                "apiVersion": owner["apiVersion"],
                                "kind": owner["kind"],
                                "name": meta(owner)["name"],
                                "uid": uid,
                                "controller": True,
                                "blockOwnerDeletion": True,
                            }
                        ],
                    },
                    "spec": {
                        "replicas": desired,
                        "selector": spec.get("selector") or {},
                        "template": template,
                    },
                },
            )
            return
        status = mine[0].get("status") or {}
        self._set_status(
            key,
            owner,
            {
                "replicas": status.get("replicas", 0),
                "readyReplicas": status.get("readyReplicas", 0),
                "observedGeneration": meta(owner).get("generation", 1),
            },
        )

    def _operator_create(self, key: str, namespace: str, uid: str) -> None:
        self._operator_pending[uid] = max(0, self._operator_pending.get(uid, 0) - 1)
        owner = next((o for o in self.store.items(key, namespace) if meta(o)["uid"] == uid), None)
        if owner is None or deleting(owner):
            return
        spec = owner.get("spec") or {}
        mine = [
            p
            for p in self.store.items(PODS, namespace)
            if (controller_of(p) or {}).get("uid") == uid
        ]
        live = [p for p in mine if not deleting(p)]
        if len(live) >= int(spec.get("replicas", 1)):
            return
        template = spec.get("template") or {}
        if spec.get("podNaming") == "generated":
            self._new_pod(template, namespace, owner)
            return
        taken = {meta(p)["name"] for p in mine}
        base = meta(owner)["name"]
        free = [
            f"{base}-{i}" for i in range(int(spec.get("replicas", 1))) if f"{base}-{i}" not in taken
        ]
        if free:
            self._new_pod(template, namespace, owner, name=free[0])
        else:  # the old pod of that name is still terminating: the operator waits for it
            self._operator_pending[uid] = self._operator_pending.get(uid, 0) + 1
            self.after(0.05, functools.partial(self._operator_create, key, namespace, uid))

    def _node_lifecycle(self) -> None:
        """The node controller: a cordoned node carries the unschedulable taint, as in 1.12+."""
        for node in self.store.items("nodes"):
            spec = node.get("spec") or {}
            taints = spec.get("taints") or []
            has = any(t.get("key") == UNSCHEDULABLE_TAINT for t in taints)
            if bool(spec.get("unschedulable")) == has:
                continue
            if has:
                kept = [t for t in taints if t.get("key") != UNSCHEDULABLE_TAINT]
            else:
                kept = [
                    *taints,
                    {
                        "key": UNSCHEDULABLE_TAINT,
                        "effect": "NoSchedule",
                        "timeAdded": now_rfc3339(),
                    },
                ]

            def set_taints(o: Obj, kept: list[dict[str, Any]] = kept) -> None:
                o.setdefault("spec", {})["taints"] = kept
                if not kept:
                    del o["spec"]["taints"]

            self._update("nodes", node, set_taints)

    def daemon_nodes(self, template: dict[str, Any]) -> list[Obj]:
        """Nodes a DaemonSet runs on: cordoned ones too (it tolerates that taint), as in 1.12+."""
        tolerations = [
            *((template.get("spec") or {}).get("tolerations") or []),
            {"key": UNSCHEDULABLE_TAINT, "operator": "Exists", "effect": "NoSchedule"},
        ]
        return [
            n
            for n in self.store.items("nodes")
            if tolerates(tolerations, node_taints(n), ignore_unschedulable=True)
        ]

    def _daemonset(self, ds: Obj, pods: list[Obj]) -> None:
        nodes = self.daemon_nodes((ds.get("spec") or {}).get("template") or {})
        template = (ds.get("spec") or {}).get("template") or {}
        on_node: dict[str, list[Obj]] = {}
        for pod in pods:
            if not deleting(pod):
                on_node.setdefault(pod["spec"].get("nodeName", ""), []).append(pod)
        for node in nodes:
            node_name = meta(node)["name"]
            if not on_node.get(node_name):
                on_node[node_name] = [
                    self._new_pod(template, meta(ds)["namespace"], ds, node=node_name)
                ]
        live = [p for group in on_node.values() for p in group]
        ready = sum(1 for p in live if pod_ready(p))
        status = {
            "observedGeneration": meta(ds).get("generation", 1),
            "desiredNumberScheduled": len(nodes),
            "currentNumberScheduled": len([n for n in nodes if on_node.get(meta(n)["name"])]),
            "numberReady": ready,
            "numberAvailable": ready,
            "updatedNumberScheduled": len(live),
            "numberMisscheduled": 0,
        }
        self._set_status(DS, ds, status)

    # ------------------------------------------------------------------ kubelet

    def _kubelet(self, pod: Obj) -> None:
        uid = meta(pod)["uid"]
        if deleting(pod):
            if uid not in self._terminating:
                self._terminating.add(uid)
                self._start_termination(pod)
            return
        if uid in self._tracked:
            return
        self._tracked.add(uid)
        if pod["spec"].get("nodeName"):
            self.after(
                self.delay(pod, "start_delay"),
                lambda: self._start(meta(pod)["namespace"], meta(pod)["name"], uid),
            )
        else:
            self.after(
                self.delay(pod, "schedule_delay"),
                lambda: self._bind(meta(pod)["namespace"], meta(pod)["name"], uid),
            )

    def _current(self, namespace: str, name: str, uid: str) -> Obj | None:
        pod = self.store.get(PODS, namespace, name)
        if pod is None or meta(pod)["uid"] != uid or deleting(pod):
            return None
        return pod

    def _bind(self, namespace: str, name: str, uid: str) -> None:
        pod = self._current(namespace, name, uid)
        if pod is None or pod["spec"].get("nodeName"):
            return
        every = self.store.items("nodes")
        tolerations = pod["spec"].get("tolerations") or []
        nodes = [n for n in every if tolerates(tolerations, node_taints(n))]
        if not nodes:
            self.event(
                pod,
                "FailedScheduling",
                f"0/{len(every)} nodes are available: {len(every)} node(s) were unschedulable"
                " or had untolerated taints.",
                type_="Warning",
                component="default-scheduler",
            )
            self.after(1.0, lambda: self._bind(namespace, name, uid))
            return
        load = {meta(n)["name"]: 0 for n in nodes}
        for other in self.store.items(PODS):
            node_name = other["spec"].get("nodeName")
            if node_name in load:
                load[node_name] += 1
        lightest = min(load.values())
        node = self.rng.choice(sorted(n for n, c in load.items() if c == lightest))
        stamp = now_rfc3339()

        def bind(o: Obj) -> None:
            o["spec"]["nodeName"] = node
            o["status"]["conditions"] = [
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": stamp,
                }
            ]

        bound = self._update(PODS, pod, bind)
        self.event(
            bound,
            "Scheduled",
            f"Successfully assigned {namespace}/{name} to {node}",
            component="default-scheduler",
        )
        self.after(self.delay(bound, "start_delay"), lambda: self._start(namespace, name, uid))

    def _start(self, namespace: str, name: str, uid: str) -> None:
        pod = self._current(namespace, name, uid)
        if pod is None:
            return
        node = pod["spec"].get("nodeName", "")
        containers = pod["spec"].get("containers") or [{"name": "app", "image": "app"}]
        statuses = {c["name"]: c for c in pod.get("status", {}).get("containerStatuses") or []}
        first_start = not statuses
        stamp = now_rfc3339()
        crash = self.rng.random() < float(self.timing(pod, "crash_probability"))
        for container in containers:
            if first_start:
                self.event(
                    pod,
                    "Pulled",
                    f'Container image "{container.get("image", "app")}" already present on machine',
                    host=node,
                )
            self.event(pod, "Created", f"Created container {container['name']}", host=node)
            self.event(pod, "Started", f"Started container {container['name']}", host=node)
        for line in self._start_lines(pod):
            self.log(pod, line)
        restarts = max((s.get("restartCount", 0) for s in statuses.values()), default=0)

        def running(o: Obj) -> None:
            status = o["status"]
            status["phase"] = "Running"
            status.setdefault("hostIP", self._node_ip(node))
            if "podIP" not in status:
                ip = self._pod_ip()
                status["podIP"] = ip
                status["podIPs"] = [{"ip": ip}]
            status.setdefault("startTime", stamp)
            status["containerStatuses"] = []
            for container in containers:
                entry: dict[str, Any] = {
                    "name": container["name"],
                    "image": container.get("image", "app"),
                    "imageID": "sim://" + container.get("image", "app"),
                    "containerID": f"sim://{self.store.random_suffix(12)}",
                    "ready": False,
                    "started": not crash,
                    "restartCount": restarts,
                }
                if crash:
                    entry["state"] = {
                        "waiting": {
                            "reason": "CrashLoopBackOff",
                            "message": f"back-off restarting failed container {container['name']}",
                        }
                    }
                    entry["lastState"] = {
                        "terminated": {
                            "exitCode": 1,
                            "reason": "Error",
                            "startedAt": stamp,
                            "finishedAt": stamp,
                        }
                    }
                    entry["restartCount"] = restarts + 1
                else:
                    entry["state"] = {"running": {"startedAt": stamp}}
                    previous = statuses.get(container["name"], {}).get("lastState")
                    if previous:
                        entry["lastState"] = previous
                status["containerStatuses"].append(entry)
            status["conditions"] = self._conditions(o, ready=False, stamp=stamp)

        started = self._update(PODS, pod, running)
        if crash:
            self.log(started, "fatal: crashed on start")
            for entry in self.logs.get(uid, {}).values():
                entry.previous, entry.current = entry.current, []
            base = self.timing(pod, "backoff_base").total_seconds()
            cap = self.timing(pod, "backoff_cap").total_seconds()
            backoff = min(cap, base * (2**restarts))
            self.event(
                started,
                "BackOff",
                "Back-off restarting failed container",
                type_="Warning",
                host=node,
            )
            self.after(backoff, lambda: self._start(namespace, name, uid))
            return
        ready_delay = self.delay(pod, "ready_delay")
        if ready_delay >= 1.0:
            self.after(ready_delay / 2, lambda: self._unhealthy(namespace, name, uid))
        self.after(ready_delay, lambda: self._ready(namespace, name, uid))

    def _start_lines(self, pod: Obj) -> list[str]:
        raw = (meta(pod).get("annotations") or {}).get(ANNOTATION + "logs")
        lines = json.loads(raw) if raw else ["starting {pod}", "listening on :8080"]
        return [str(line).replace("{pod}", meta(pod)["name"]) for line in lines]

    def _unhealthy(self, namespace: str, name: str, uid: str) -> None:
        pod = self._current(namespace, name, uid)
        if pod is not None and not pod_ready(pod) and pod["status"].get("phase") == "Running":
            self.event(
                pod,
                "Unhealthy",
                "Readiness probe failed: HTTP probe failed with statuscode: 503",
                type_="Warning",
                host=pod["spec"].get("nodeName", ""),
            )

    def _ready(self, namespace: str, name: str, uid: str) -> None:
        pod = self._current(namespace, name, uid)
        if pod is None or pod_ready(pod):
            return
        statuses = pod["status"].get("containerStatuses") or []
        if any("running" not in (s.get("state") or {}) for s in statuses):
            return  # crashed since; the next start schedules readiness again
        stamp = now_rfc3339()

        def ready(o: Obj) -> None:
            for entry in o["status"].get("containerStatuses") or []:
                entry["ready"] = True
                entry["started"] = True
            o["status"]["conditions"] = self._conditions(o, ready=True, stamp=stamp)

        updated = self._update(PODS, pod, ready)
        self.log(updated, "readiness probe succeeded")

    def _conditions(self, pod: Obj, *, ready: bool, stamp: str) -> list[dict[str, Any]]:
        old = pod["status"]
        return [
            condition(old, kind, ok, stamp=stamp, lastProbeTime=None)
            for kind, ok in (
                ("Initialized", True),
                ("Ready", ready),
                ("ContainersReady", ready),
                ("PodScheduled", True),
            )
        ]

    def _node_ip(self, node: str) -> str:
        names = sorted(meta(n)["name"] for n in self.store.items("nodes"))
        index = names.index(node) + 1 if node in names else 0
        return f"10.0.0.{index + 10}"

    def allocate_cluster_ip(self) -> str:
        n = next(self._cluster_ips)
        return f"10.96.{(n // 250) % 250}.{n % 250}"

    def _pod_ip(self) -> str:
        n = next(self._ip_counter)
        return f"10.244.{(n // 250) % 250}.{n % 250 + 2}"

    def _start_termination(self, pod: Obj) -> None:
        namespace, name, uid = meta(pod)["namespace"], meta(pod)["name"], meta(pod)["uid"]
        if not pod.get("status", {}).get("containerStatuses"):
            # Never started (bound, still Pending): the kubelet has no container to stop and
            # removes the pod at once rather than waiting out the grace period.
            self.after(0.0, lambda: self._finish_termination(namespace, name, uid))
            return
        node = pod["spec"].get("nodeName", "")
        for container in pod["spec"].get("containers") or []:
            self.event(pod, "Killing", f"Stopping container {container['name']}", host=node)
        self.log(pod, "received SIGTERM, shutting down")
        grace = float(meta(pod).get("deletionGracePeriodSeconds", 30))
        shutdown = self.timing(pod, "shutdown_delay")
        delay = grace if shutdown is None else min(grace, shutdown.total_seconds())
        self.after(delay, lambda: self._finish_termination(namespace, name, uid))

    def _finish_termination(self, namespace: str, name: str, uid: str) -> None:
        """The containers exited: the kubelet reports its last status, then removes the pod.

        Like a real kubelet, the pod turns Ready/ContainersReady False with its containers
        terminated before it disappears, so clients waiting for NotReady see it.
        """
        pod = self.store.get(PODS, namespace, name)
        if pod is None or meta(pod)["uid"] != uid:
            return
        if pod.get("status", {}).get("containerStatuses"):
            pod = self._update(PODS, pod, _terminated)
        self.store.remove(PODS, namespace, name)

    # ------------------------------------------------------------------ deletion, eviction

    def delete_pod(self, pod: Obj, grace: int | None, *, dry_run: bool = False) -> Obj:
        """Graceful deletion as the API does it; returns the object as the DELETE answer shows."""
        if grace is None:
            grace = int(pod["spec"].get("terminationGracePeriodSeconds", 30))
        grace = max(0, grace)
        if dry_run:
            return pod
        if grace == 0 or not pod["spec"].get("nodeName"):
            removed = self.store.remove(PODS, meta(pod)["namespace"], meta(pod)["name"])
            return removed or pod
        if deleting(pod):
            current = meta(pod).get("deletionGracePeriodSeconds", grace)
            if grace >= current:
                return pod
        deadline = now_rfc3339(time.time() + grace)
        return self.store.mark_deleting(PODS, pod, deadline, grace)

    def workload_of(self, pod: Obj) -> tuple[str, str]:
        """The top-level controller (Deployment or Rollout for ReplicaSet pods), or the pod."""
        owner = controller_of(pod)
        if owner is None:
            return ("Pod", meta(pod)["name"])
        if owner["kind"] == "ReplicaSet":
            rs = self.store.get(RS, meta(pod)["namespace"], owner["name"])
            parent = controller_of(rs) if rs else None
            if parent:
                return (parent["kind"], parent["name"])
        return (owner["kind"], owner["name"])

    def disrupt(self, pod: Obj, grace: int | None, method: str, *, dry_run: bool = False) -> Obj:
        """Delete or evict a pod on behalf of an API client, recording ground truth."""
        if dry_run:
            return pod
        kind, name = self.workload_of(pod)
        requested = time.time()
        if not deleting(pod):
            self.timeline.record(
                namespace=meta(pod)["namespace"],
                pod=meta(pod)["name"],
                pod_uid=meta(pod)["uid"],
                method=method,
                workload_kind=kind,
                workload_name=name,
                requested_at=requested,
                pod_not_ready_at=None if pod_ready(pod) else requested,
            )
        return self.delete_pod(pod, grace)

    def pdbs_for(self, pod: Obj) -> list[Obj]:
        labels = meta(pod).get("labels") or {}
        out = []
        for pdb in self.store.items(PDB, meta(pod)["namespace"]):
            try:
                selector = from_label_selector((pdb.get("spec") or {}).get("selector"))
            except ValueError:
                continue
            if not selector.empty and selector.matches(labels):
                out.append(pdb)
        return out

    def evict(self, pod: Obj, grace: int | None, *, dry_run: bool = False) -> None:
        """The eviction subresource: PodDisruptionBudgets first, then graceful deletion."""
        if deleting(pod):
            return
        phase = pod.get("status", {}).get("phase")
        if phase in ("Succeeded", "Failed", "Pending"):
            self.disrupt(pod, grace, "evict", dry_run=dry_run)
            return
        pdbs = self.pdbs_for(pod)
        if len(pdbs) > 1:
            raise ApiError(
                500,
                "InternalError",
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            )
        if pdbs:
            pdb = self._pdb_status(pdbs[0])
            status = pdb.get("status") or {}
            healthy, desired = status.get("currentHealthy", 0), status.get("desiredHealthy", 0)
            if not pod_ready(pod) and healthy >= desired:
                self.disrupt(pod, grace, "evict", dry_run=dry_run)
                return
            if status.get("disruptionsAllowed", 0) <= 0:
                raise ApiError(
                    429,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                    {
                        "causes": [
                            {
                                "reason": "DisruptionBudget",
                                "message": f"The disruption budget {meta(pdb)['name']} needs {desired} healthy pods "
                                f"and has {healthy} currently",
                            }
                        ]
                    },
                )
            if not dry_run:

                def spend(o: Obj) -> None:
                    o["status"]["disruptionsAllowed"] = status["disruptionsAllowed"] - 1
                    o["status"].setdefault("disruptedPods", {})[meta(pod)["name"]] = now_rfc3339()

                self._update(PDB, pdb, spend)
        self.disrupt(pod, grace, "evict", dry_run=dry_run)

    def delete_object(self, key: str, obj: Obj, propagation: str | None) -> Obj:
        """Deletion for everything but pods: immediate, then dependents by policy."""
        namespace, name = meta(obj).get("namespace"), meta(obj)["name"]
        removed = self.store.remove(key, namespace, name) or obj
        uid = meta(obj)["uid"]
        if key == "namespaces":
            from daemon.simulator.resources import RESOURCES

            for resource in RESOURCES:
                if resource.namespaced and not resource.storage:
                    for item in self.store.items(resource.key, name):
                        self.store.remove(resource.key, name, meta(item)["name"])
            return removed
        if propagation == "Orphan":
            for dep_key in (RS, PODS):
                for dependent in self.store.items(dep_key, namespace):
                    refs = meta(dependent).get("ownerReferences") or []
                    if any(r.get("uid") == uid for r in refs):
                        kept = [r for r in refs if r.get("uid") != uid]
                        self._update(dep_key, dependent, functools.partial(_set_owner_refs, kept))
        return removed

    def _garbage_collect(self, namespace: str) -> None:
        live = {
            meta(o)["uid"]
            for key in (DEPLOY, RS, STS, DS, *self.operator_keys)
            for o in self.store.items(key, namespace)
        }
        for key in (RS, PODS):
            for obj in self.store.items(key, namespace):
                refs = meta(obj).get("ownerReferences") or []
                if refs and not any(r.get("uid") in live for r in refs):
                    if key == PODS:
                        if not deleting(obj):
                            self.delete_pod(obj, None)
                    else:
                        self.store.remove(key, namespace, meta(obj)["name"])

    # ------------------------------------------------------------------ PDB, endpoints

    def _pdb_status(self, pdb: Obj) -> Obj:
        namespace = meta(pdb)["namespace"]
        spec = pdb.get("spec") or {}
        try:
            selector = from_label_selector(spec.get("selector"))
        except ValueError:
            return pdb
        pods = [
            p for p in self.store.items(PODS, namespace) if selector.matches(meta(p).get("labels"))
        ]
        healthy = sum(1 for p in pods if pod_ready(p) and not deleting(p))
        percentage = any(
            isinstance(spec.get(k), str) and str(spec.get(k)).endswith("%")
            for k in ("minAvailable", "maxUnavailable")
        )
        if "maxUnavailable" in spec or percentage:
            expected = self._expected_pods(pods)
        else:
            expected = len(pods)
        if "minAvailable" in spec:
            desired = scaled(spec["minAvailable"], expected, True)
        else:
            desired = max(0, expected - scaled(spec.get("maxUnavailable", 0), expected, True))
        old = pdb.get("status") or {}
        now = time.time()
        disrupted = {}
        by_name = {meta(p)["name"]: p for p in pods}
        for pod_name, stamp in (old.get("disruptedPods") or {}).items():
            pod = by_name.get(pod_name)
            if pod is None or deleting(pod):
                continue
            if _parse_time(stamp) + PDB_DISRUPTION_TIMEOUT > now:
                disrupted[pod_name] = stamp
        allowed = max(0, healthy - desired - len(disrupted))
        ok = allowed > 0
        status: dict[str, Any] = {
            "observedGeneration": meta(pdb).get("generation", 1),
            "disruptionsAllowed": allowed,
            "currentHealthy": healthy,
            "desiredHealthy": desired,
            "expectedPods": expected,
            "conditions": [
                condition(
                    old,
                    "DisruptionAllowed",
                    ok,
                    reason="SufficientPods" if ok else "InsufficientPods",
                    message="",
                    observedGeneration=meta(pdb).get("generation", 1),
                )
            ],
        }
        if disrupted:
            status["disruptedPods"] = disrupted
        if status != old:
            updated = dict(pdb)
            updated["metadata"] = dict(pdb["metadata"])
            updated["status"] = status
            return self.store.replace(PDB, PDB, updated)
        return pdb

    def _expected_pods(self, pods: list[Obj]) -> int:
        total = 0
        seen: set[str] = set()
        for pod in pods:
            owner = controller_of(pod)
            if owner is None:
                total += 1
                continue
            if owner["uid"] in seen:
                continue
            seen.add(owner["uid"])
            key = {"ReplicaSet": RS, "StatefulSet": STS, "DaemonSet": DS}.get(owner["kind"])
            parent = self.store.get(key, meta(pod)["namespace"], owner["name"]) if key else None
            if parent is None:
                total += 1
            elif owner["kind"] == "DaemonSet":
                total += (parent.get("status") or {}).get("desiredNumberScheduled", 0)
            else:
                total += int((parent.get("spec") or {}).get("replicas", 1))
        return total

    def _pdbs(self, namespace: str) -> None:
        for pdb in self.store.items(PDB, namespace):
            self._pdb_status(pdb)

    def _endpoints(self, namespace: str) -> None:
        pods = self.store.items(PODS, namespace)
        for service in self.store.items("services", namespace):
            spec = service.get("spec") or {}
            selector = spec.get("selector")
            if not selector:
                continue
            matched = [
                p
                for p in pods
                if all((meta(p).get("labels") or {}).get(k) == v for k, v in selector.items())
                and p.get("status", {}).get("podIP")
                and not deleting(p)
            ]

            def address(p: Obj) -> dict[str, Any]:
                return {
                    "ip": p["status"]["podIP"],
                    "nodeName": p["spec"].get("nodeName"),
                    "targetRef": {
                        "kind": "Pod",
                        "namespace": namespace,
                        "name": meta(p)["name"],
                        "uid": meta(p)["uid"],
                    },
                }

            ready = [address(p) for p in matched if pod_ready(p)]
            not_ready = [address(p) for p in matched if not pod_ready(p)]
            ports = [
                {
                    "name": port.get("name", ""),
                    "port": port.get("targetPort", port.get("port")),
                    "protocol": port.get("protocol", "TCP"),
                }
                for port in spec.get("ports") or []
            ]
            subset: dict[str, Any] = {"ports": ports}
            if ready:
                subset["addresses"] = ready
            if not_ready:
                subset["notReadyAddresses"] = not_ready
            subsets = [subset] if (ready or not_ready) else []
            name = meta(service)["name"]
            current = self.store.get("endpoints", namespace, name)
            if current is None:
                self.store.create(
                    "endpoints",
                    "endpoints",
                    {
                        "kind": "Endpoints",
                        "apiVersion": "v1",
                        "metadata": {
                            "name": name,
                            "namespace": namespace,
                            "labels": dict(meta(service).get("labels") or {}),
                        },
                        "subsets": subsets,
                    },
                )
            elif current.get("subsets") != subsets:
                updated = dict(current)
                updated["metadata"] = dict(current["metadata"])
                updated["subsets"] = subsets
                self.store.replace("endpoints", "endpoints", updated)

    # ------------------------------------------------------------------ ground truth

    def workload_fully_ready(self, namespace: str, kind: str, name: str) -> bool:
        pods = self.store.items(PODS, namespace)
        if kind == "Pod":
            pod = self.store.get(PODS, namespace, name)
            return pod is not None and pod_ready(pod) and not deleting(pod)
        keys = {"Deployment": DEPLOY, "StatefulSet": STS, "DaemonSet": DS, "ReplicaSet": RS}
        from daemon.simulator.resources import BY_KEY

        keys.update({BY_KEY[k].kind: k for k in self.operator_keys})
        owner = self.store.get(keys[kind], namespace, name)
        if owner is None:
            return False
        if kind == "Deployment" or (owner.get("spec") or {}).get("podsVia") == "ReplicaSet":
            owner_uids = {
                meta(rs)["uid"]
                for rs in self.store.items(RS, namespace)
                if (controller_of(rs) or {}).get("uid") == meta(owner)["uid"]
            }
        else:
            owner_uids = {meta(owner)["uid"]}
        mine = [p for p in pods if (controller_of(p) or {}).get("uid") in owner_uids]
        if any(deleting(p) for p in mine):
            return False
        if kind == "DaemonSet":
            desired = len(self.daemon_nodes((owner.get("spec") or {}).get("template") or {}))
        else:
            desired = int((owner.get("spec") or {}).get("replicas", 1))
        return sum(1 for p in mine if pod_ready(p)) >= desired

    def _timeline_pod_event(self, event: Event) -> None:
        pod = event.obj
        now = time.time()
        uid = meta(pod)["uid"]
        if event.type == "DELETED":
            self._terminating.discard(uid)
            self._tracked.discard(uid)
            self.logs.pop(uid, None)
            for item in self.timeline.by_pod_uid(uid):
                if item.pod_not_ready_at is None:
                    item.pod_not_ready_at = now  # removed at once (grace 0): never reported
                if item.pod_removed_at is None:
                    item.pod_removed_at = now
        elif event.old is not None and pod_ready(event.old) and not pod_ready(pod):
            for item in self.timeline.by_pod_uid(uid):
                if item.pod_not_ready_at is None:
                    item.pod_not_ready_at = now
        elif event.type == "ADDED":
            kind, name = self.workload_of(pod)
            for item in self.timeline.open_for((meta(pod)["namespace"], kind, name)):
                if item.replacement is None and item.pod_uid != uid:
                    item.replacement = meta(pod)["name"]
                    item.replacement_created_at = now
                    break
        elif event.old is not None and pod_ready(pod) and not pod_ready(event.old):
            for item in self.timeline.by_replacement(meta(pod)["namespace"], meta(pod)["name"]):
                if item.replacement_ready_at is None and item.replacement_created_at is not None:
                    item.replacement_ready_at = now
        if event.type != "ADDED":
            kind, name = self.workload_of(pod)
            pending = [
                d
                for d in self.timeline.open_for((meta(pod)["namespace"], kind, name))
                if d.workload_ready_at is None
            ]
            if pending and self.workload_fully_ready(meta(pod)["namespace"], kind, name):
                resource = STATUS_KINDS.get(kind)
                owner = resource and self.store.get(resource, meta(pod)["namespace"], name)
                for item in pending:
                    item.workload_ready_at = now
                    if owner and status_says_ready(owner):
                        # Ready in status already (the old pod was still terminating): the
                        # status says so from this moment, with no write of its own to show it.
                        item.workload_status_ready_at = now

    def _timeline_status_event(self, event: Event) -> None:
        obj = event.obj
        kind = obj.get("kind", "")
        open_items = self.timeline.open_for(
            (meta(obj).get("namespace", ""), kind, meta(obj)["name"])
        )
        if not open_items:
            return
        if status_says_ready(obj) and self.workload_fully_ready(
            meta(obj)["namespace"], kind, meta(obj)["name"]
        ):
            now = time.time()
            for item in open_items:
                if item.workload_ready_at is not None:
                    item.workload_status_ready_at = now

    # ------------------------------------------------------------------ load generation

    def churn(
        self, rate: float, seconds: float, namespaces: list[str] | None = None
    ) -> threading.Thread:
        """Annotate pods at `rate` writes/s for `seconds`, on a schedule that does not drift.

        Each write stamps `sim.aftershock.io/churn` with its wall-clock time, so watchers can
        measure their lag. Benchmarks use it to load watch streams from inside the server.
        """
        with self.store.lock:
            keys = [
                (meta(p)["namespace"], meta(p)["name"])
                for p in self.store.items(PODS)
                if namespaces is None or meta(p)["namespace"] in namespaces
            ]

        def run() -> None:
            start = time.monotonic()
            total = int(rate * seconds)
            for index in range(total):
                due = start + index / rate
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                if self._stopped.is_set() or not keys:
                    return
                namespace, name = keys[index % len(keys)]
                with self.store.lock:
                    pod = self.store.get(PODS, namespace, name)
                    if pod is None:
                        continue
                    updated = dict(pod)
                    updated["metadata"] = dict(pod["metadata"])
                    updated["metadata"]["annotations"] = {
                        **(pod["metadata"].get("annotations") or {}),
                        ANNOTATION + "churn": repr(time.time()),
                    }
                    self.store.replace(PODS, PODS, updated)

        thread = threading.Thread(target=run, name="sim-churn", daemon=True)
        thread.start()
        return thread

    # ------------------------------------------------------------------ auth

    def user_for_token(self, token: str | None) -> UserInfo | None:
        if token is None:
            if not self.spec.rbac.anonymous:
                return None  # --anonymous-auth=false: 401
            return UserInfo("system:anonymous", ["system:unauthenticated"])
        return self.tokens.get(token)

    def mint_token(self, namespace: str, service_account: str) -> str:
        token = f"sim-sa-{namespace}-{service_account}-{self.store.random_suffix(16)}"
        self.tokens[token] = UserInfo(
            f"system:serviceaccount:{namespace}:{service_account}",
            [
                "system:serviceaccounts",
                f"system:serviceaccounts:{namespace}",
                "system:authenticated",
            ],
        )
        return token


def node_taints(node: Obj) -> list[dict[str, Any]]:
    """The node's taints, with a cordon counted as the unschedulable taint even before the
    node controller has added it (the scheduler's NodeUnschedulable filter)."""
    spec = node.get("spec") or {}
    taints = [t for t in spec.get("taints") or [] if t.get("effect") != "PreferNoSchedule"]
    if spec.get("unschedulable") and not any(t.get("key") == UNSCHEDULABLE_TAINT for t in taints):
        taints.append({"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"})
    return taints


def tolerates(
    tolerations: list[dict[str, Any]],
    taints: list[dict[str, Any]],
    *,
    ignore_unschedulable: bool = False,
) -> bool:
    """Whether every NoSchedule/NoExecute taint is tolerated (Kubernetes' matching rules)."""

    def matches(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
        if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
            return False
        key = toleration.get("key") or ""
        if toleration.get("operator") == "Exists":
            return not key or key == taint.get("key")
        return key == taint.get("key") and (toleration.get("value") or "") == (
            taint.get("value") or ""
        )

    return all(
        any(matches(t, taint) for t in tolerations)
        for taint in taints
        if not (ignore_unschedulable and taint.get("key") == UNSCHEDULABLE_TAINT)
    )


def _deletion_rank(siblings: list[Obj], pod: Obj) -> tuple[Any, ...]:
    """The ReplicaSet controller's order for scale-down (controller.ActivePodsWithRanks).

    First to go: unscheduled, then Pending before Running, not ready before ready, lower
    pod-deletion-cost, more pods on the same node, ready for less time, more restarts,
    newer.
    """
    status = pod.get("status") or {}
    node = pod["spec"].get("nodeName")
    ready_since = next(
        (
            _parse_time(c.get("lastTransitionTime", ""))
            for c in status.get("conditions") or []
            if c.get("type") == "Ready" and c.get("status") == "True"
        ),
        0.0,
    )
    try:
        cost = int((meta(pod).get("annotations") or {}).get(DELETION_COST, "0"))
    except ValueError:
        cost = 0
    return (
        bool(node),
        {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", ""), 0),
        pod_ready(pod),
        cost,
        -sum(1 for p in siblings if node and p["spec"].get("nodeName") == node),
        -ready_since,
        -sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or []),
        -_parse_time(meta(pod).get("creationTimestamp", "")),
    )


def _next_revision(replicasets: list[Obj]) -> int:
    revisions = [
        int(value)
        for rs in replicasets
        if str(value := (meta(rs).get("annotations") or {}).get(REVISION, "")).isdigit()
    ]
    return max(revisions, default=0) + 1


def _set_annotation(key: str, value: str, obj: Obj) -> None:
    obj["metadata"]["annotations"] = {**(obj["metadata"].get("annotations") or {}), key: value}


def _terminated(pod: Obj) -> None:
    """The kubelet's last status of a deleted pod: containers exited 0 on SIGTERM, so the
    pod is terminal (Succeeded, as kubelets since 1.27 report) and no longer Ready."""
    stamp = now_rfc3339()
    status = pod["status"]
    status["phase"] = "Succeeded"
    for entry in status.get("containerStatuses") or []:
        started = ((entry.get("state") or {}).get("running") or {}).get("startedAt", stamp)
        entry["ready"] = False
        entry["started"] = False
        entry["state"] = {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": started,
                "finishedAt": stamp,
                "containerID": entry.get("containerID", ""),
            }
        }
    names = ",".join(c.get("name", "") for c in status.get("containerStatuses") or [])
    for item in status.get("conditions") or []:
        if item.get("type") in ("Ready", "ContainersReady") and item.get("status") != "False":
            item["status"] = "False"
            item["reason"] = "ContainersNotReady"
            item["message"] = f"containers with unready status: [{names}]"
            item["lastTransitionTime"] = stamp


def _set_owner_refs(refs: list[dict[str, Any]], obj: Obj) -> None:
    obj["metadata"]["ownerReferences"] = refs


def _parse_time(stamp: str) -> float:
    from datetime import UTC, datetime

    try:
        return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0
