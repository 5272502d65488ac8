"""Helpers to run experiments through the engine against a simulated cluster."""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from typing import Any

from daemon.catalog.extension import AftershockSettings
from daemon.engine.budget import RunBudget
from daemon.engine.context import RunContext
from daemon.engine.runner import Runner, RunResult
from daemon.kube.client import Connection, Kube
from daemon.settings import Settings

PERMISSIVE = {
    "dry_run": False,
    "max_percent": 100,
    "min_ready_replicas": 0,
    "cooldown": "0s",
    "stop_condition_interval": "200ms",
}


def settings(prometheus_url: str | None = None, **safety: Any) -> Settings:
    values = {**PERMISSIVE, **safety}
    return Settings(
        safety=values, engine={"activity_timeout": "20s"}, prometheus={"url": prometheus_url}
    )


def greeter_experiment(
    *, replicas_hint: str = "", method: list | None = None, extension: dict | None = None
) -> dict:
    experiment: dict[str, Any] = {
        "title": f"Terminating a greeter should not impact users {replicas_hint}".strip(),
        "description": "seed 001",
        "configuration": {"web_app_url": {"type": "env", "key": "WEBAPP_URL"}},
        "steady-state-hypothesis": {
            "title": "Services are all available and healthy",
            "probes": [
                {
                    "type": "probe",
                    "name": "webapp-pods-running",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "chaosk8s.pod.probes",
                        "func": "pods_in_phase",
                        "arguments": {
                            "label_selector": "app=webapp",
                            "phase": "Running",
                            "ns": "shop",
                        },
                    },
                },
                {
                    "type": "probe",
                    "name": "application-must-respond-normally",
                    "tolerance": 200,
                    "provider": {"type": "http", "url": "${web_app_url}", "timeout": 3},
                },
            ],
        },
        "method": method
        if method is not None
        else [
            {
                "type": "action",
                "name": "terminate-one-greeter",
                "provider": {
                    "type": "python",
                    "module": "chaosk8s.pod.actions",
                    "func": "terminate_pods",
                    "arguments": {
                        "label_selector": "app=greeter",
                        "ns": "shop",
                        "rand": True,
                        "qty": 1,
                    },
                },
            },
        ],
        "rollbacks": [],
    }
    if extension is not None:
        experiment["extensions"] = [{"name": "aftershock", **extension}]
    return experiment


def plain_context(kube: Kube, **fields: Any) -> RunContext:
    """A run's context with the permissive test settings, for tests that drive Runner."""
    values: dict[str, Any] = {
        "experiment_id": "t",
        "run_id": "t-run",
        "settings": settings(),
        "aftershock": AftershockSettings(),
        "kube": kube,
        "seed": 1,
        "dry_run": False,
        "environ": {},
        **fields,
    }
    return RunContext(**values)


def halted_after(seconds: float) -> Callable[[], str | None]:
    """A halt switch that flips `seconds` after the run's own start check (its first call,
    never halted): timed from the run, not from the test, so a slow start on a loaded
    machine cannot halt the run before it begins."""
    first: list[float] = []

    def halted() -> str | None:
        if not first:
            first.append(time.monotonic())
            return None
        return "halted through the API" if time.monotonic() - first[0] > seconds else None

    return halted


def run_experiment(
    sim,
    experiment: dict,
    *,
    safety: dict | None = None,
    aftershock: dict | None = None,
    dry_run: bool = False,
    seed: int = 7,
    environ: dict | None = None,
    halted=None,
    prometheus_url: str | None = None,
    budget: RunBudget | None = None,
    kube_timeout: float = 5,
) -> RunResult:
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=kube_timeout))
    extension = (
        aftershock
        if aftershock is not None
        else next(
            (
                copy.deepcopy(e)
                for e in experiment.get("extensions", [])
                if e.get("name") == "aftershock"
            ),
            {},
        )
    )
    extension.pop("name", None)
    ctx = RunContext(
        experiment_id="test",
        run_id="test-run",
        settings=settings(prometheus_url, **(safety or {})),
        aftershock=AftershockSettings.model_validate(extension),
        kube=kube,
        seed=seed,
        dry_run=dry_run,
        environ={
            **os.environ,
            "WEBAPP_URL": sim.sim.service_url("shop", "webapp"),
            **(environ or {}),
        },
    )
    if budget is not None:
        ctx.budget = budget
    try:
        return Runner(ctx, experiment, halted=halted).run()
    finally:
        kube.close()


def scale_webapp(replicas: int, name: str = "webapp") -> dict:
    """A chaosk8s scale action (rollbacks in tests: its effect is easy to read back)."""
    return {
        "type": "action",
        "name": f"scale-{name}-{replicas}",
        "provider": {
            "type": "python",
            "module": "chaosk8s.deployment.actions",
            "func": "scale_deployment",
            "arguments": {"name": name, "replicas": replicas, "ns": "shop"},
        },
    }
