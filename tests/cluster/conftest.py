"""Fixtures of the real-cluster suite (see tests/cluster/backend.py and
docs/run-on-your-cluster.md). `simulator_only(reason)`: the test needs a fact only the
simulated cluster has (its timeline, its request statistics); it is skipped, with that
reason, on a real cluster, and runs on the simulator whether started in-process or
separately (scripts/cluster_suite.py). `real_cluster_only(reason)`: the opposite (the
simulator runs no containers, so nothing answers behind its Services)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from daemon.simulator.cluster_file import load_cluster_file
from daemon.simulator.runner import SimulatedCluster
from tests.cluster.backend import CLUSTER_FILE, KUBECONFIG_ENV, Backend, namespaces


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "simulator_only(reason): needs a fact only the simulated cluster has; skipped on a"
        " real cluster (AFTERSHOCK_TEST_KUBECONFIG), with the reason",
    )
    config.addinivalue_line(
        "markers",
        "real_cluster_only(reason): needs what the simulator does not do (run containers);"
        " skipped on the simulator, with the reason",
    )


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    external = os.environ.get(KUBECONFIG_ENV)
    if external:
        path = Path(external).expanduser()
        assert path.is_file(), f"{KUBECONFIG_ENV}={external}: no such file"
        instance = Backend(path)
        yield instance
        instance.close()
        return
    sim = SimulatedCluster(
        load_cluster_file(CLUSTER_FILE),
        kubeconfig=tmp_path_factory.mktemp("cluster") / "kubeconfig",
    )
    sim.start()
    instance = Backend(sim.kubeconfig, in_process=sim)
    try:
        yield instance
    finally:
        instance.close()
        sim.stop()


@pytest.fixture(autouse=True)
def _backend_only(request: pytest.FixtureRequest) -> None:
    for name, runs_on_simulator in (("simulator_only", True), ("real_cluster_only", False)):
        marker = request.node.get_closest_marker(name)
        if marker is None:
            continue
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
        assert reason, f"{name} needs a reason"
        if request.getfixturevalue("backend").simulated != runs_on_simulator:
            pytest.skip(f"{name.replace('_', ' ')}: {reason}")


@pytest.fixture
def make_namespace(backend: Backend) -> Iterator[Callable[..., str]]:
    with namespaces(backend) as make:
        yield make


@pytest.fixture
def shop_ns(backend: Backend, make_namespace) -> str:
    """A fresh opted-in namespace with the example shop in it, ready."""
    namespace = make_namespace({"aftershock/enabled": "true"})
    backend.deploy_shop(namespace)
    return namespace
