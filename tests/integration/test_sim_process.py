"""`aftershock simulate` as a process, and the demo cluster file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.conftest import REPO
from tests.integration.conftest import wait_for

DEMO = REPO / "config" / "demo" / "cluster.yaml"


def test_simulate_prints_one_line_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daemon",
            "simulate",
            "--cluster",
            str(DEMO),
            "--kubeconfig",
            str(kubeconfig),
            "--seed",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AFTERSHOCK_")},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("simulated cluster listening on http://127.0.0.1:")
        api = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
        pods = wait_for(lambda: api.list_namespaced_pod("shop").items, 10, "pods")
        assert pods
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert process.stdout.read() == ""  # exactly one line on stdout
    finally:
        if process.poll() is None:
            process.kill()


def test_invalid_cluster_file_exits_2_with_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "cluster.yaml"
    bad.write_text(
        "nodes: 3\nnamespaces:\n  - name: shop\n    workloads:\n      - name: web\n        replica: 3\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "daemon", "simulate", "--cluster", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "line 6" in result.stderr
    assert "unknown key 'replica'; did you mean 'replicas'?" in result.stderr


def test_demo_cluster_reproduces_seed_001(make_sim) -> None:
    import yaml

    spec = yaml.safe_load(DEMO.read_text())
    spec["timing"].update({"start_delay": "20ms", "ready_delay": "40ms", "shutdown_delay": "200ms"})
    for workload in spec["namespaces"][0]["workloads"]:
        if workload["name"] != "greeter":  # its 2 s ready delay: down when the request lands
            workload.pop("timing", None)
    sim = make_sim(spec)
    sim.ready()
    counts = {
        d.metadata.name: d.spec.replicas for d in sim.apps.list_namespaced_deployment("shop").items
    }
    assert counts == {"webapp": 3, "greeter": 1, "name": 2}
    assert len(sim.core.list_node().items) == 3
    assert sim.core.read_namespace("shop").metadata.labels["aftershock/enabled"] == "true"
    wait_for(
        lambda: len(sim.core.list_namespaced_pod("kube-system").items) == 5, 10, "kube-system pods"
    )
    assert (
        sim.policy.read_namespaced_pod_disruption_budget("webapp", "shop").spec.min_available == 2
    )

    url = sim.sim.service_url("shop", "webapp")
    assert urllib.request.urlopen(url, timeout=5).status == 200
    greeter = sim.core.list_namespaced_pod("shop", label_selector="app=greeter").items[0]
    sim.core.delete_namespaced_pod(greeter.metadata.name, "shop")
    started = time.monotonic()
    # Seed 001: the webapp gets slower than the 3 s probe allows.
    with pytest.raises((TimeoutError, urllib.error.URLError)) as caught:
        urllib.request.urlopen(url, timeout=3)
    assert isinstance(caught.value, TimeoutError) or isinstance(caught.value.reason, TimeoutError)
    assert time.monotonic() - started >= 2.9
    sim.ready()
    assert urllib.request.urlopen(url, timeout=5).status == 200
