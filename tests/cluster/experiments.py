"""Experiments for the real-cluster suite: only Kubernetes probes and actions, so that
nothing needs the test process to reach a Service inside the cluster."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from daemon.catalog.extension import AftershockSettings
from daemon.engine.context import RunContext
from daemon.engine.runner import Runner, RunResult
from daemon.kube.client import Connection, Kube
from tests.integration.engine_helpers import settings


def webapp_running(namespace: str) -> dict[str, Any]:
    return {
        "type": "probe",
        "name": "webapp-pods-running",
        "tolerance": True,
        "provider": {
            "type": "python",
            "module": "chaosk8s.pod.probes",
            "func": "pods_in_phase",
            "arguments": {"label_selector": "app=webapp", "phase": "Running", "ns": namespace},
        },
    }


def terminate(namespace: str, selector: str, qty: int = 1) -> dict[str, Any]:
    """chaosk8s terminate_pods: a delete, as seed 001 does it."""
    return {
        "type": "action",
        "name": f"terminate-{selector}",
        "provider": {
            "type": "python",
            "module": "chaosk8s.pod.actions",
            "func": "terminate_pods",
            "arguments": {"label_selector": selector, "ns": namespace, "rand": True, "qty": qty},
        },
    }


def evict(namespace: str, selector: str) -> dict[str, Any]:
    """aftershock.pods.kill through the Eviction API: the PDB is the API server's to apply."""
    return {
        "type": "action",
        "name": f"evict-{selector}",
        "provider": {
            "type": "python",
            "module": "aftershock.pods",
            "func": "kill",
            "arguments": {
                "ns": namespace,
                "label_selector": selector,
                "mode": "one",
                "value": 1,
                "method": "evict",
            },
        },
    }


def experiment(
    namespace: str, method: list[dict[str, Any]], extension: dict[str, Any] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "title": "The shop survives losing a pod",
        "description": "real-cluster suite",
        "steady-state-hypothesis": {
            "title": "the webapp is running",
            "probes": [webapp_running(namespace)],
        },
        "method": method,
        "rollbacks": [],
    }
    if extension is not None:
        out["extensions"] = [{"name": "aftershock", **extension}]
    return out


def run_engine(
    kubeconfig: Path,
    experiment_: dict[str, Any],
    *,
    safety: dict[str, Any] | None = None,
    aftershock: dict[str, Any] | None = None,
    dry_run: bool = False,
) -> RunResult:
    kube = Kube.connect(Connection(kubeconfig=kubeconfig, timeout=10))
    ctx = RunContext(
        experiment_id="cluster-suite",
        run_id="cluster-suite-run",
        settings=settings(None, **(safety or {})),
        aftershock=AftershockSettings.model_validate(aftershock or {}),
        kube=kube,
        seed=7,
        dry_run=dry_run,
        environ=dict(os.environ),
    )
    try:
        return Runner(ctx, experiment_).run()
    finally:
        kube.close()
