"""A fresh simulated cluster per test, and a real `kubernetes` client pointed at it."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config

from daemon.simulator.cluster_file import ClusterFile
from daemon.simulator.runner import SimulatedCluster

FAST_TIMING = {
    "schedule_delay": "10ms",
    "start_delay": "30ms",
    "ready_delay": "60ms",
    "shutdown_delay": "100ms",
}


def shop(**overrides: Any) -> dict[str, Any]:
    """A small, fast version of the demo shop."""
    spec: dict[str, Any] = {
        "nodes": 3,
        "seed": 1,
        "timing": dict(FAST_TIMING),
        "watch": {"bookmark_interval": "200ms"},
        "namespaces": [
            {
                "name": "shop",
                "labels": {"aftershock/enabled": "true"},
                "workloads": [
                    {
                        "name": "webapp",
                        "replicas": 3,
                        "labels": {"app": "webapp", "tier": "web"},
                        "grace_period": 5,
                        "service": {"depends_on": ["greeter"], "unavailable": {"status": 503}},
                    },
                    {
                        "name": "greeter",
                        "replicas": 1,
                        "labels": {"app": "greeter", "tier": "backend"},
                        "grace_period": 5,
                        "service": {},
                    },
                    {
                        "name": "db",
                        "kind": "StatefulSet",
                        "replicas": 2,
                        "labels": {"app": "db", "tier": "data"},
                        "grace_period": 1,
                    },
                    {
                        "name": "agent",
                        "kind": "DaemonSet",
                        "labels": {"app": "agent"},
                        "grace_period": 1,
                    },
                    {"name": "debug", "kind": "Pod", "labels": {"app": "debug"}, "grace_period": 1},
                ],
                "pdbs": [{"name": "webapp", "selector": {"app": "webapp"}, "min_available": 2}],
            }
        ],
    }
    spec.update(overrides)
    return spec


class Sim:
    def __init__(self, sim: SimulatedCluster):
        self.sim = sim
        self.api_client = config.new_client_from_config(str(sim.kubeconfig))
        self.core = client.CoreV1Api(self.api_client)
        self.apps = client.AppsV1Api(self.api_client)
        self.policy = client.PolicyV1Api(self.api_client)
        self.coordination = client.CoordinationV1Api(self.api_client)

    @property
    def url(self) -> str:
        return self.sim.url

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def timeline(self) -> list[dict[str, Any]]:
        return self.control("GET", "/sim/v1/timeline")["disruptions"]

    def ready(self, namespace: str = "shop", timeout: float = 10) -> None:
        """Wait until every workload in the namespace is fully ready."""

        def all_ready() -> bool:
            deployments = self.apps.list_namespaced_deployment(namespace).items
            sets = self.apps.list_namespaced_stateful_set(namespace).items
            return all(
                (d.status.ready_replicas or 0) >= d.spec.replicas for d in deployments
            ) and all((s.status.ready_replicas or 0) >= s.spec.replicas for s in sets if s.status)

        wait_for(all_ready, timeout, "workloads ready")


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until `predicate` is truthy; every wait has a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def exhaust_webapp_budget(sim: Sim) -> None:
    """Raise the webapp PDB to minAvailable 3 (of 3) and wait until it allows no disruption."""
    sim.policy.patch_namespaced_pod_disruption_budget(
        "webapp", "shop", {"spec": {"minAvailable": 3}}
    )
    wait_for(
        lambda: (
            sim.policy.read_namespaced_pod_disruption_budget(
                "webapp", "shop"
            ).status.disruptions_allowed
            == 0
        ),
        5,
        "budget exhausted",
    )


@pytest.fixture
def make_sim(tmp_path) -> Iterator[Callable[..., Sim]]:
    started: list[Sim] = []

    def _make(spec: dict[str, Any] | None = None) -> Sim:
        sim = SimulatedCluster(
            ClusterFile.model_validate(spec or shop()),
            kubeconfig=tmp_path / f"kubeconfig-{len(started)}",
        )
        sim.start()
        wrapped = Sim(sim)
        started.append(wrapped)
        return wrapped

    yield _make
    for wrapped in started:
        wrapped.api_client.close()
        wrapped.sim.stop()


@pytest.fixture
def sim(make_sim) -> Sim:
    instance = make_sim()
    instance.ready()
    return instance
