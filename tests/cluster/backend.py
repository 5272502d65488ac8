"""One suite, two backends: the simulated cluster (default) or any cluster.

`AFTERSHOCK_TEST_KUBECONFIG=/path/to/kubeconfig` points the suite at a cluster; without it
an in-process simulated cluster (tests/cluster/cluster.yaml) is started once per session.
Either way each test works only in namespaces it creates (`aftershock-t-<random>`,
labelled `aftershock.io/test-suite=cluster`), deploys there what it needs (the shop from
deploy/examples/shop) and deletes them at the end, with deadlines.

Ground truth never comes from aftershock: `NamespaceWatch` records every pod and
Deployment change the test process itself sees through watches (and Events are read from
the API), which works on any cluster. Facts only the simulator has (`/sim/v1/timeline`,
`/sim/v1/stats`) are for tests marked `simulator_only`.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, config, utils, watch
from kubernetes.client.rest import ApiException

from tests.conftest import REPO

KUBECONFIG_ENV = "AFTERSHOCK_TEST_KUBECONFIG"
IMAGE_ENV = "AFTERSHOCK_TEST_IMAGE"
CLUSTER_FILE = Path(__file__).with_name("cluster.yaml")
SUITE_LABEL = {"aftershock.io/test-suite": "cluster"}
OPT_IN = {"aftershock/enabled": "true"}


def _shop_generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "shop_generate", REPO / "deploy" / "examples" / "shop" / "generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SHOP = _shop_generator()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll until `predicate` is truthy; every wait has a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


class Backend:
    """A cluster reached through a kubeconfig, with the clients the tests need."""

    def __init__(self, kubeconfig: Path, *, in_process: Any = None):
        self.kubeconfig = kubeconfig
        self.in_process = in_process  # the SimulatedCluster when we started it
        self.api_client = config.new_client_from_config(str(kubeconfig))
        self.core = client.CoreV1Api(self.api_client)
        self.apps = client.AppsV1Api(self.api_client)
        self.policy = client.PolicyV1Api(self.api_client)
        self.rbac = client.RbacAuthorizationV1Api(self.api_client)
        self.coordination = client.CoordinationV1Api(self.api_client)
        self.authorization = client.AuthorizationV1Api(self.api_client)
        self.simulated = self._sim("GET", "/sim/v1/stats") is not None
        # A real cluster pulls images and starts containers: seconds, not milliseconds.
        self.slow = 1.0 if self.simulated else 6.0
        self.image = os.environ.get(IMAGE_ENV, f"{SHOP.IMAGE}:{SHOP.TAG}")

    @property
    def server(self) -> str:
        return str(self.api_client.configuration.host)

    def _sim(self, method: str, path: str, body: Any = None) -> Any:
        """A /sim/v1 control call with the kubeconfig's credentials; None when absent."""
        request = self.api_client.param_serialize(
            method,
            path,
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            body=body,
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api_client.call_api(*request, _request_timeout=10)
        except ApiException:
            return None
        if response.status != 200:
            return None
        response.read()
        return json.loads(response.data)

    def sim_control(self, method: str, path: str, body: Any = None) -> Any:
        assert self.simulated, "a simulator-only fact was asked of a real cluster"
        answer = self._sim(method, path, body)
        assert answer is not None, f"{method} {path} failed"
        return answer

    def timeline(self, namespace: str) -> list[dict[str, Any]]:
        """The simulator's own record of every disruption (simulator only)."""
        return [
            d
            for d in self.sim_control("GET", "/sim/v1/timeline")["disruptions"]
            if d["namespace"] == namespace
        ]

    def close(self) -> None:
        self.api_client.close()

    # ----------------------------------------------------------------- namespaces
    def create_namespace(self, labels: dict[str, str] | None = None) -> str:
        name = f"aftershock-t-{secrets.token_hex(4)}"
        self.core.create_namespace(
            {"metadata": {"name": name, "labels": {**SUITE_LABEL, **(labels or {})}}}
        )
        wait_for(
            lambda: self._service_account_exists(name), 30 * self.slow, f"namespace {name} ready"
        )
        return name

    def _service_account_exists(self, namespace: str) -> bool:
        """A real cluster's ServiceAccount controller adds `default`; the simulator has no
        such controller, and the suite needs no `default` account there."""
        if self.simulated:
            return True
        try:
            self.core.read_namespaced_service_account("default", namespace)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def delete_namespace(self, name: str, timeout: float) -> None:
        """Delete what the test made, then the namespace, and wait until it is gone."""
        assert name.startswith("aftershock-t-"), f"refusing to delete {name}: not the suite's"
        for deployment in self.apps.list_namespaced_deployment(name).items:
            with contextlib.suppress(ApiException):
                self.apps.delete_namespaced_deployment(
                    deployment.metadata.name, name, propagation_policy="Background"
                )
        with contextlib.suppress(ApiException):
            self.core.delete_namespace(name)

        def gone() -> bool:
            try:
                self.core.read_namespace(name)
            except ApiException as exc:
                if exc.status == 404:
                    return True
                raise
            return False

        wait_for(gone, timeout, f"namespace {name} deleted")

    # ----------------------------------------------------------------- the shop
    def deploy_shop(
        self,
        namespace: str,
        *,
        replicas: dict[str, int] | None = None,
        labels: dict[str, str] | None = None,
        min_available: int | None = None,
    ) -> list[dict[str, Any]]:
        """The example shop's manifests, in `namespace`: what `kubectl apply -k` applies."""
        objects = [o for objs in SHOP.shop_objects(namespace).values() for o in objs]
        for original in objects:
            obj = copy.deepcopy(original)
            if obj["kind"] == "Deployment":
                name = obj["metadata"]["name"]
                if replicas and name in replicas:
                    obj["spec"]["replicas"] = replicas[name]
                obj["metadata"]["labels"].update(labels or {})  # the workload opts in
                obj["spec"]["template"]["metadata"]["labels"].update(labels or {})
                for container in obj["spec"]["template"]["spec"]["containers"]:
                    container["image"] = self.image
            if obj["kind"] == "PodDisruptionBudget" and min_available is not None:
                obj["spec"]["minAvailable"] = min_available
            utils.create_from_dict(self.api_client, obj)
        self.ready(namespace)
        return objects

    def ready(self, namespace: str) -> None:
        def all_ready() -> bool:
            deployments = self.apps.list_namespaced_deployment(namespace).items
            pods = self.core.list_namespaced_pod(namespace).items
            return (
                bool(deployments)
                and all(
                    d.status is not None
                    and (d.status.ready_replicas or 0) >= d.spec.replicas
                    and (d.status.replicas or 0) == d.spec.replicas
                    for d in deployments
                )
                and not any(p.metadata.deletion_timestamp for p in pods)
            )

        wait_for(all_ready, 60 * self.slow, f"the shop in {namespace} ready")

    def pdb_allows(self, namespace: str, name: str, allowed: int) -> None:
        wait_for(
            lambda: (
                (pdb := self.policy.read_namespaced_pod_disruption_budget(name, namespace)).status
                is not None
                and pdb.status.observed_generation == pdb.metadata.generation
                and pdb.status.disruptions_allowed == allowed
            ),
            30 * self.slow,
            f"PDB {namespace}/{name} allowing {allowed}",
        )

    def events(self, namespace: str, reason: str) -> list[Any]:
        return self.core.list_namespaced_event(namespace, field_selector=f"reason={reason}").items

    # ----------------------------------------------------------------- identities
    def service_account_kubeconfig(self, path: Path, namespace: str, name: str) -> Path:
        """A kubeconfig for a ServiceAccount: this cluster's server and CA, a fresh token."""
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3600)
        )
        token = self.core.create_namespaced_service_account_token(
            name, namespace, request
        ).status.token
        admin = yaml.safe_load(self.kubeconfig.read_text())
        context = next(c for c in admin["contexts"] if c["name"] == admin.get("current-context"))[
            "context"
        ]
        cluster = next(c for c in admin["clusters"] if c["name"] == context["cluster"])
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [cluster],
                    "users": [{"name": "sa", "user": {"token": token}}],
                    "contexts": [
                        {"name": "sa", "context": {"cluster": cluster["name"], "user": "sa"}}
                    ],
                    "current-context": "sa",
                }
            )
        )
        path.chmod(0o600)
        return path


@dataclass
class Seen:
    at: float  # time.time() when this process received it
    kind: str
    type: str
    obj: dict[str, Any]


@dataclass
class Disruption:
    """A pod that started terminating (or vanished) while the watch was recording."""

    pod: str
    uid: str
    app: str
    seen_at: float


@dataclass
class NamespaceWatch:
    """Pods and Deployments of one namespace as seen by our own watches: the ground truth
    on a cluster that keeps no timeline. Start it before the act, stop it before cleanup."""

    backend: Backend
    namespace: str
    seen: list[Seen] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    errors: list[str] = field(default_factory=list)

    def start(self) -> NamespaceWatch:
        started = threading.Barrier(3, timeout=30)
        for kind, lister in (
            ("Pod", self.backend.core.list_namespaced_pod),
            ("Deployment", self.backend.apps.list_namespaced_deployment),
        ):
            thread = threading.Thread(
                target=self._run, args=(kind, lister, started), daemon=True, name=f"watch-{kind}"
            )
            thread.start()
            self._threads.append(thread)
        started.wait()
        return self

    def _run(self, kind: str, lister: Any, started: threading.Barrier) -> None:
        listed = lister(self.namespace)
        resource_version = listed.metadata.resource_version
        with self._lock:
            for item in listed.items:
                raw = self.backend.api_client.sanitize_for_serialization(item)
                self.seen.append(Seen(time.time(), kind, "LISTED", raw))
        started.wait()
        while not self._stop.is_set():
            stream = watch.Watch()
            try:
                for event in stream.stream(
                    lister,
                    self.namespace,
                    resource_version=resource_version,
                    timeout_seconds=2,
                    _request_timeout=10,
                ):
                    if event["type"] == "BOOKMARK" or event["type"] == "ERROR":
                        continue
                    raw = event["raw_object"]
                    resource_version = raw["metadata"]["resourceVersion"]
                    with self._lock:
                        self.seen.append(Seen(time.time(), kind, event["type"], raw))
                    if self._stop.is_set():
                        break
            except ApiException as exc:
                # 410: events were compacted away before we saw them. A truth with a gap
                # must not pass for "nothing was disrupted": it fails the test at stop().
                self.errors.append(f"{kind} watch: {exc.status} {exc.reason}")
                if exc.status != 410:
                    return
                resource_version = lister(self.namespace).metadata.resource_version
            except Exception as exc:  # noqa: BLE001 - reported at stop(), not lost in a thread
                self.errors.append(f"{kind} watch: {exc!r}")
                return
            finally:
                stream.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
            assert not thread.is_alive(), "the watch did not stop in time"
        assert not self.errors, f"the ground-truth watch has gaps: {self.errors}"

    def __enter__(self) -> NamespaceWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _snapshot(self) -> list[Seen]:
        with self._lock:
            return list(self.seen)

    def disruptions(self) -> list[Disruption]:
        out: dict[str, Disruption] = {}
        for seen in self._snapshot():
            if seen.kind != "Pod" or seen.type == "LISTED":
                continue
            meta = seen.obj["metadata"]
            if (meta.get("deletionTimestamp") or seen.type == "DELETED") and meta["uid"] not in out:
                out[meta["uid"]] = Disruption(
                    meta["name"], meta["uid"], (meta.get("labels") or {}).get("app", ""), seen.at
                )
        return sorted(out.values(), key=lambda d: d.seen_at)

    def recovered_at(self, deployment: str, after: float) -> float | None:
        """When the Deployment's status said it was whole again, after a dip seen after
        `after` (what aftershock calls recovered: the owner reports ready >= desired)."""
        dipped = False
        for seen in self._snapshot():
            if seen.kind != "Deployment" or seen.at < after:
                continue
            if seen.obj["metadata"]["name"] != deployment:
                continue
            spec, status = seen.obj.get("spec") or {}, seen.obj.get("status") or {}
            whole = (status.get("readyReplicas") or 0) >= spec.get("replicas", 1) and (
                status.get("observedGeneration") or 0
            ) >= seen.obj["metadata"].get("generation", 0)
            if not whole:
                dipped = True
            elif dipped:
                return seen.at
        return None


@contextlib.contextmanager
def namespaces(backend: Backend) -> Iterator[Callable[..., str]]:
    """Create uniquely named namespaces on demand; delete all of them at the end."""
    made: list[str] = []

    def make(labels: dict[str, str] | None = None) -> str:
        name = backend.create_namespace(labels)
        made.append(name)
        return name

    try:
        yield make
    finally:
        problems = []
        for name in made:
            try:
                backend.delete_namespace(name, timeout=30 if backend.simulated else 180)
            except (AssertionError, ApiException) as exc:
                problems.append(f"{name}: {exc}")
        assert not problems, f"cleanup failed: {problems}"
