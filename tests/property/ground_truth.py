"""What really happened to the cluster, read from the simulator and never from aftershock.

Pod disruptions come from the simulator's timeline (`GET /sim/v1/timeline`); scale changes
from a watch on every Deployment with the real `kubernetes` client, so a scale-down that a
rollback undoes a second later is still seen. `violations` turns both into the list of
broken safety limits (empty when every limit held).
"""

from __future__ import annotations

import itertools
import math
import shutil
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import watch

from daemon.simulator.cluster_file import ClusterFile
from daemon.simulator.runner import SimulatedCluster
from tests.integration.conftest import FAST_TIMING, Sim

DEFAULT_PROTECTED = ("kube-system", "kube-public", "kube-node-lease")
OPTED_IN = "shop"
NOT_OPTED_IN = "legacy"
# (namespace, deployment) -> replicas: an opted-in shop, a namespace that did not opt in,
# and kube-system with coredns.
SELF = "aftershock"  # aftershock's own namespace (settings kube.namespace): never disrupted
DEPLOYMENTS: dict[tuple[str, str], int] = {
    (OPTED_IN, "webapp"): 4,
    (OPTED_IN, "api"): 3,
    (OPTED_IN, "cart"): 2,
    (OPTED_IN, "greeter"): 1,
    (NOT_OPTED_IN, "billing"): 3,
    ("kube-system", "coredns"): 2,
    (SELF, "aftershock"): 2,
}
NODES = 3
# Other workloads: (namespace, name) -> (kind, desired pods).
OTHERS: dict[tuple[str, str], tuple[str, int]] = {
    (OPTED_IN, "db"): ("StatefulSet", 2),
    (OPTED_IN, "agent"): ("DaemonSet", NODES),
    (OPTED_IN, "debug"): ("Pod", 1),  # a bare pod: never disrupted (allow_bare_pods false)
}
WORKLOADS: dict[tuple[str, str], int] = {
    **DEPLOYMENTS,
    **{key: desired for key, (_, desired) in OTHERS.items()},
}
PDB = ((OPTED_IN, "api"), 2)  # the api PodDisruptionBudget: minAvailable 2 of 3
OPT_IN = {"aftershock/enabled": "true"}


def cluster_spec() -> dict[str, Any]:
    namespaces: dict[str, dict[str, Any]] = {}

    def namespace(name: str) -> dict[str, Any]:
        opted = name in (OPTED_IN, SELF)
        return namespaces.setdefault(
            name, {"name": name, "labels": dict(OPT_IN) if opted else {}, "workloads": []}
        )

    for (ns, name), replicas in DEPLOYMENTS.items():
        labels = {"app": name}
        if ns == SELF:
            labels["app.kubernetes.io/name"] = "aftershock"
        namespace(ns)["workloads"].append(
            {"name": name, "replicas": replicas, "labels": labels, "grace_period": 1}
        )
    for (ns, name), (kind, replicas) in OTHERS.items():
        workload = {"name": name, "kind": kind, "labels": {"app": name}, "grace_period": 1}
        if kind == "StatefulSet":
            workload["replicas"] = replicas
        namespace(ns)["workloads"].append(workload)
    (pdb_ns, pdb_app), minimum = PDB
    namespace(pdb_ns)["pdbs"] = [
        {"name": pdb_app, "selector": {"app": pdb_app}, "min_available": minimum}
    ]
    return {
        "nodes": NODES,
        "seed": 1,
        "timing": dict(FAST_TIMING),
        "watch": {"bookmark_interval": "200ms"},
        "namespaces": list(namespaces.values()),
    }


def start_sim() -> Sim:
    """A fresh simulated cluster, every workload fully ready (hypothesis cannot use the
    function-scoped `make_sim` fixture: one cluster per generated example)."""
    directory = Path(tempfile.mkdtemp(prefix="aftershock-prop-"))
    cluster = SimulatedCluster(
        ClusterFile.model_validate(cluster_spec()), kubeconfig=directory / "kubeconfig"
    )
    cluster.start()
    sim = Sim(cluster)
    for namespace in {ns for ns, _ in WORKLOADS}:
        sim.ready(namespace, timeout=20)
    return sim


def stop_sim(sim: Sim) -> None:
    scratch = sim.sim.kubeconfig.parent
    sim.api_client.close()
    sim.sim.stop()
    shutil.rmtree(scratch, ignore_errors=True)


class ScaleWatch:
    """Every spec.replicas value each Deployment had, from a watch (resumed after errors)."""

    def __init__(self, sim: Sim):
        self.sim = sim
        self.values: dict[tuple[str, str], list[int]] = defaultdict(list)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        listing = sim.apps.list_deployment_for_all_namespaces()
        self._version = listing.metadata.resource_version
        for item in listing.items:
            self._see(item)
        self._thread = threading.Thread(target=self._loop, name="scale-watch", daemon=True)
        self._thread.start()

    def _see(self, item: Any) -> None:
        key = (item.metadata.namespace, item.metadata.name)
        with self._lock:
            seen = self.values[key]
            if not seen or seen[-1] != item.spec.replicas:
                seen.append(item.spec.replicas)

    def _loop(self) -> None:
        while not self._stop.is_set():
            stream = watch.Watch()
            try:
                for event in stream.stream(
                    self.sim.apps.list_deployment_for_all_namespaces,
                    resource_version=self._version,
                    timeout_seconds=2,
                    _request_timeout=5,
                ):
                    obj = event["object"]
                    if event["type"] in ("ADDED", "MODIFIED"):
                        self._see(obj)
                    self._version = obj.metadata.resource_version or self._version
                    if self._stop.is_set():
                        break
            except Exception:  # noqa: BLE001 - an injected fault or a timeout: resume where we were
                time.sleep(0.05)
            finally:
                stream.stop()

    def close(self) -> dict[tuple[str, str], list[int]]:
        """Stop after one last read of every Deployment (nothing may slip between)."""
        time.sleep(0.3)
        deadline = time.monotonic() + 10
        while True:  # an outage the test caused may still be ending
            try:
                items = self.sim.apps.list_deployment_for_all_namespaces().items
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        for item in items:
            self._see(item)
        self._stop.set()
        self._thread.join(timeout=10)
        with self._lock:
            return {key: list(values) for key, values in self.values.items()}


@dataclass(frozen=True)
class Limits:
    """The effective limits: each extension value only tightens the global one."""

    max_pods: int
    max_percent: float
    min_ready: tuple[int | str, ...]
    cooldown_seconds: float
    max_per_day: int
    protected: frozenset[str]
    require_opt_in: bool
    respect_pdb: bool = True

    def floor(self, desired: int) -> int:
        floors = [
            math.ceil(float(f[:-1]) / 100 * desired) if isinstance(f, str) else int(f)
            for f in self.min_ready
        ]
        return max(floors, default=0)

    def per_workload(self, desired: int) -> int:
        """How many pods of one workload a run may disrupt (max_percent and min-ready)."""
        return max(
            0, min(math.floor(self.max_percent / 100 * desired), desired - self.floor(desired))
        )

    def forbidden(self, namespace: str, name: str) -> str:
        if namespace in self.protected:
            return "protected namespace"
        if namespace == SELF:
            return "aftershock itself"
        if OTHERS.get((namespace, name), ("", 0))[0] == "Pod":
            return "bare pod (allow_bare_pods false)"
        if self.require_opt_in and namespace not in (OPTED_IN, SELF):
            return "namespace not opted in"
        return ""


def effective_limits(safety: dict[str, Any], blast: dict[str, Any]) -> Limits:
    from daemon.durations import parse_duration

    def seconds(value: Any) -> float:
        return parse_duration(value).total_seconds() if value is not None else 0.0

    def tight(key: str, default: float) -> float:
        values = [v for v in (safety.get(key, default), blast.get(key)) if v is not None]
        return min(values)

    floors = [safety.get("min_ready_replicas", 1)]
    if blast.get("min_ready_replicas") is not None:
        floors.append(blast["min_ready_replicas"])
    return Limits(
        max_pods=int(tight("max_pods", 10)),
        max_percent=float(tight("max_percent", 50.0)),
        min_ready=tuple(floors),
        cooldown_seconds=max(
            seconds(safety.get("cooldown", "10m")), seconds(blast.get("cooldown"))
        ),
        max_per_day=int(tight("max_disruptions_per_day", 100)),
        protected=frozenset(safety.get("protected_namespaces", DEFAULT_PROTECTED)),
        require_opt_in=bool(safety.get("require_opt_in", True)),
        respect_pdb=bool(safety.get("respect_pdb", True)) or blast.get("respect_pdb") is True,
    )


@dataclass
class Observed:
    """Ground truth for one window of time (a run, or several runs in sequence)."""

    disruptions: list[dict[str, Any]]
    replicas: dict[tuple[str, str], list[int]]
    runs: list[tuple[float, float]] = field(default_factory=list)  # wall-clock run spans

    def pods_by_workload(self) -> dict[tuple[str, str], set[str]]:
        out: dict[tuple[str, str], set[str]] = defaultdict(set)
        for d in self.disruptions:
            out[(d["namespace"], d["workload_name"])].add(d["pod_uid"])
        return out

    def scaled_away(self) -> dict[tuple[str, str], int]:
        """Pods removed by scale-downs below the replicas a Deployment had at the start."""
        return {
            key: max(0, values[0] - min(values)) for key, values in self.replicas.items() if values
        }

    def desired(self, key: tuple[str, str]) -> int:
        values = self.replicas.get(key) or [WORKLOADS.get(key, 1)]
        return max(values)


def violations(
    observed: Observed, limits: Limits, *, per_run: bool = True, burst: float = 1.0
) -> list[str]:
    """Every limit the ground truth shows broken, in words that name the numbers."""
    problems: list[str] = []
    pods = observed.pods_by_workload()
    scaled = observed.scaled_away()
    keys = sorted(set(pods) | {k for k, n in scaled.items() if n})
    disrupted = {key: len(pods.get(key, ())) + scaled.get(key, 0) for key in keys}
    total = sum(disrupted.values())
    if per_run and total > limits.max_pods:
        problems.append(
            f"run-wide: {total} pods disrupted (distinct pods killed + scaled away) > "
            f"max_pods {limits.max_pods}: {disrupted}"
        )
    if total > limits.max_per_day:
        problems.append(
            f"daily budget: {total} pods disrupted > max_disruptions_per_day {limits.max_per_day}"
        )
    for (namespace, name), values in sorted(observed.replicas.items()):
        why = limits.forbidden(namespace, name)
        if why and max(values, default=0) > values[0]:
            problems.append(f"{namespace}/{name} ({why}) was scaled up: replicas {values}")
    for key in keys:
        namespace, name = key
        why = limits.forbidden(namespace, name)
        if why and disrupted[key]:
            problems.append(
                f"{namespace}/{name} ({why}): {len(pods.get(key, ()))} killed, "
                f"{scaled.get(key, 0)} scaled away"
            )
            continue
        desired = observed.desired(key)
        allowed = limits.per_workload(desired)
        if per_run and disrupted[key] > allowed:
            problems.append(
                f"{namespace}/{name}: {disrupted[key]} of {desired} disrupted in one run > "
                f"{allowed} allowed (max_percent {limits.max_percent:g}, "
                f"min ready floor {limits.floor(desired)})"
            )
        if per_run and limits.respect_pdb and key == PDB[0]:
            budget = WORKLOADS[key] - PDB[1]
            if len(pods.get(key, ())) > budget:
                problems.append(
                    f"{namespace}/{name}: {len(pods.get(key, ()))} pods killed in one run > "
                    f"{budget} its PodDisruptionBudget allows (respect_pdb)"
                )
    problems += cooldown_violations(observed, limits, burst)
    return problems


def scale_up_violations(replicas: dict[tuple[str, str], list[int]]) -> list[str]:
    """One run (its rollbacks replayed after crashes included) scales a Deployment up to at
    most max(2 x first, first + 5), `first` being the replicas it first saw (docs/safety.md):
    here the replicas at the run's start, as nothing else scales them."""
    problems = []
    for (namespace, name), values in sorted(replicas.items()):
        if not values:
            continue
        first = values[0]
        ceiling = max(2 * first, first + 5)
        if max(values) > ceiling:
            problems.append(
                f"{namespace}/{name}: scaled up to {max(values)} in one run, over its bound of "
                f"{ceiling} from the {first} replicas it first saw: replicas {values}"
            )
    return problems


def cooldown_violations(observed: Observed, limits: Limits, burst: float = 1.0) -> list[str]:
    """A workload disrupted again inside its cooldown: by a later activity of the same run
    (a gap longer than one activity's `burst` of deletes) or by a later run (any two runs)."""
    if limits.cooldown_seconds <= 0:
        return []
    problems: list[str] = []
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for d in observed.disruptions:
        times[(d["namespace"], d["workload_name"])].append(d["requested_at"])

    def run_of(t: float) -> int:
        return next((i for i, (a, b) in enumerate(observed.runs) if a <= t <= b), -1)

    for key, stamps in times.items():
        stamps.sort()
        for before, after in itertools.pairwise(stamps):
            gap = after - before
            other_run = observed.runs and run_of(before) != run_of(after)
            if gap < limits.cooldown_seconds and (gap > burst or other_run):
                problems.append(
                    f"{key[0]}/{key[1]} disrupted again {gap:.2f}s later, inside its cooldown "
                    f"of {limits.cooldown_seconds:g}s" + (" (in a later run)" if other_run else "")
                )
                break
    return problems
