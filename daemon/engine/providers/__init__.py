"""Provider dispatch: http, allow-listed process, and the Python names of DESIGN §4, natively."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from daemon.engine.context import RunContext
from daemon.engine.errors import ActivityFailed
from daemon.engine.providers import k8s, prometheus, scale, traffic
from daemon.engine.providers.http import run_http
from daemon.engine.providers.process import run_process

NATIVE: dict[tuple[str, str], Callable[..., Any]] = {
    ("chaosk8s.pod.actions", "terminate_pods"): k8s.terminate_pods,
    ("chaosk8s.pod.probes", "pods_in_phase"): k8s.pods_in_phase,
    ("chaosk8s.pod.probes", "pods_not_in_phase"): k8s.pods_not_in_phase,
    ("chaosk8s.pod.probes", "pods_in_conditions"): k8s.pods_in_conditions,
    ("chaosk8s.pod.probes", "count_pods"): k8s.count_pods,
    ("chaosk8s.pod.probes", "count_min_pods"): k8s.count_min_pods,
    ("chaosk8s.pod.probes", "all_pods_healthy"): k8s.all_pods_healthy,
    ("chaosk8s.pod.probes", "read_pod_logs"): k8s.read_pod_logs,
    ("chaosk8s.probes", "read_microservices_logs"): k8s.read_pod_logs,
    (
        "chaosk8s.probes",
        "microservice_available_and_healthy",
    ): k8s.microservice_available_and_healthy,
    (
        "chaosk8s.deployment.probes",
        "deployment_available_and_healthy",
    ): k8s.deployment_available_and_healthy,
    ("chaosk8s.deployment.probes", "deployment_fully_available"): k8s.deployment_fully_available,
    ("chaosk8s.deployment.actions", "scale_deployment"): scale.scale_deployment,
    ("chaosprometheus.probes", "query"): prometheus.query,
    ("chaosprometheus.probes", "query_interval"): prometheus.query_interval,
    ("aftershock.pods", "kill"): k8s.kill,
    ("aftershock.traffic", "attack"): traffic.attack,
}


def call(ctx: RunContext, provider: dict[str, Any], timeout: float) -> Any:
    """Run one (already substituted) provider; failures raise ActivityFailed."""
    kind = provider.get("type")
    if kind == "http":
        return run_http(provider, timeout)
    if kind == "process":
        return run_process(provider, timeout, list(ctx.settings.safety.process_allowlist))
    if kind == "python":
        function = NATIVE.get((provider.get("module", ""), provider.get("func", "")))
        if function is None:
            raise ActivityFailed(
                f"{provider.get('module')}.{provider.get('func')} is not supported"
            )
        return function(ctx, **(provider.get("arguments") or {}))
    raise ActivityFailed(f"unknown provider type {kind!r}")
