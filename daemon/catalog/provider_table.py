"""The provider table: every provider aftershock runs, declared once (see providers.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from daemon.catalog import values
from daemon.catalog.provider_spec import (
    Arg,
    Found,
    ProviderSpec,
    TimeoutRule,
    arguments_of,
    is_template,
    unsafe_method,
)
from daemon.durations import parse_duration

# ----------------------------------------------------------------------------- timeouts


def _seconds(value: Any) -> float | None:
    try:
        return parse_duration(value).total_seconds()
    except ValueError:
        return None


def _argument_plus(
    name: str, default: float | None, extra: float
) -> Callable[[Mapping[str, Any]], float | None]:
    """The provider's own wait argument (or its default) + `extra`; None: engine default."""

    def rule(provider: Mapping[str, Any]) -> float | None:
        seconds = _seconds(arguments_of(provider).get(name, default))
        if seconds is None:
            return None
        return min(seconds, values.MAX_WAIT_SECONDS) + extra

    return rule


def _attack_timeout(provider: Mapping[str, Any]) -> float | None:
    seconds = _seconds(arguments_of(provider).get("duration", 0))
    return None if seconds is None else min(seconds, values.MAX_ATTACK_SECONDS) + 30


def _own_timeout(provider: Mapping[str, Any]) -> float | None:
    """http and process: their own `timeout` (a number, or http's [connect, read]) + 1 s."""
    raw = provider.get("timeout")
    parts = raw if isinstance(raw, list | tuple) else [raw]
    if not parts or not all(values.is_number(p) for p in parts):
        return None
    return min(float(sum(parts)), values.MAX_WAIT_SECONDS) + 1


# ----------------------------------------------------------------------------- rules


def _given(arguments: Mapping[str, Any], *names: str) -> bool:
    return all(n in arguments and not is_template(arguments[n]) for n in names)


def _terminate_rules(provider: Mapping[str, Any]) -> Found:
    arguments = arguments_of(provider)
    if _given(arguments, "mode", "qty") and arguments["mode"] == "percentage":
        qty = arguments["qty"]
        if isinstance(qty, int) and not 0 <= qty <= 100:
            return [(("arguments", "qty"), f"qty {qty!r} is a percentage here: 0 to 100")]
    return []


_KILL_MODES = ("one", "all", "fixed", "fixed-percent", "random-max-percent")


def _kill_rules(provider: Mapping[str, Any]) -> Found:
    arguments = arguments_of(provider)
    found: Found = []
    if "ns" in arguments and "namespaces" in arguments:
        found.append((("arguments", "namespaces"), "give either ns or namespaces, not both"))
    mode = arguments.get("mode", "one")
    value = arguments.get("value", 1)
    if is_template(mode) or is_template(value) or not values.is_number(value):
        return found
    if mode == "fixed" and not (float(value).is_integer() and 1 <= value <= values.MAX_COUNT):
        found.append(
            (
                ("arguments", "value"),
                f"value {value!r}: mode fixed kills that many pods, a whole number from 1 "
                f"to {values.MAX_COUNT}",
            )
        )
    if mode in ("fixed-percent", "random-max-percent") and not 0 < value <= 100:
        found.append(
            (
                ("arguments", "value"),
                f"value {value!r}: mode {mode} is a percentage above 0 and at most 100 "
                "(0 would select no pod; use dry_run to rehearse)",
            )
        )
    return found


# ----------------------------------------------------------------------------- the table

_K8S = "daemon.engine.providers.k8s"
_LABEL_SELECTOR = Arg("str", check=values.selector)
_NS = Arg("str", check=values.namespace)
_PHASE = Arg("str", check=values.choice("Pending", "Running", "Succeeded", "Failed", "Unknown"))
_BOOL = Arg("bool")
_SELECTOR = Arg("str", required=True, check=values.selector)  # chaosk8s pod probes
_NAME = Arg("str", required=True, check=values.object_name)
_POD_SELECT = {
    "label_selector": _LABEL_SELECTOR,
    "name_pattern": Arg("str", check=values.regex),
    "all": _BOOL,
    "rand": _BOOL,
    "mode": Arg("str", check=values.choice("fixed", "percentage")),
    "qty": Arg("int", check=values.integer(0, values.MAX_COUNT)),
    "ns": _NS,
    "order": Arg("str", check=values.choice("alphabetic", "oldest")),
}
_POD_LOGS = {
    "name": Arg("str", check=values.text(253)),
    "last": Arg("str", check=values.since),
    "ns": _NS,
    "from_previous": _BOOL,
    "label_selector": Arg("str", check=values.format_selector),
    "container_name": Arg("str", check=values.namespace),
}
_WAIT = Arg("number", check=values.number(0, values.MAX_WAIT_SECONDS, low_open=True))
_PROMETHEUS_TEXT = Arg(
    "str", required=True, check=values.text(values.MAX_TEXT_LENGTH, non_empty=True)
)


_NODES = "daemon.engine.providers.nodes"
_NODE_NAME = Arg("str", check=values.object_name)


def _node_names(value: Any) -> str | None:
    for item in value:
        problem = values.object_name(item) if isinstance(item, str) else f"{item!r} is not a name"
        if problem:
            return f"{item!r}: {problem}"
    return None


def _probe(module: str, func: str, implementation: str, **arguments: Arg) -> ProviderSpec:
    return ProviderSpec(
        name=f"{module}.{func}",
        type="python",
        implementation=implementation,
        mutates=False,
        guard="none",
        arguments=arguments,
    )


_PYTHON: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        name="chaosk8s.pod.actions.terminate_pods",
        type="python",
        implementation=f"{_K8S}:terminate_pods",
        mutates=True,
        guard="pods",
        meant_as="action",
        arguments={
            **_POD_SELECT,
            # chaosk8s: -1 means "the pod's own grace period".
            "grace_period": Arg(
                "int", check=values.integer(0, values.MAX_GRACE_SECONDS, also=(-1,))
            ),
        },
        rules=(_terminate_rules,),
    ),
    _probe(
        "chaosk8s.pod.probes",
        "pods_in_phase",
        f"{_K8S}:pods_in_phase",
        label_selector=_SELECTOR,
        phase=_PHASE,
        ns=_NS,
        raise_on_invalid_phase=_BOOL,
    ),
    _probe(
        "chaosk8s.pod.probes",
        "pods_not_in_phase",
        f"{_K8S}:pods_not_in_phase",
        label_selector=_SELECTOR,
        phase=_PHASE,
        ns=_NS,
        raise_on_in_phase=_BOOL,
    ),
    _probe(
        "chaosk8s.pod.probes",
        "pods_in_conditions",
        f"{_K8S}:pods_in_conditions",
        label_selector=_SELECTOR,
        conditions=Arg("list", required=True, check=values.conditions),
        ns=_NS,
        raise_on_invalid_conditions=_BOOL,
    ),
    _probe(
        "chaosk8s.pod.probes",
        "count_pods",
        f"{_K8S}:count_pods",
        label_selector=_SELECTOR,
        phase=_PHASE,
        ns=_NS,
    ),
    _probe(
        "chaosk8s.pod.probes",
        "count_min_pods",
        f"{_K8S}:count_min_pods",
        label_selector=_SELECTOR,
        phase=_PHASE,
        min_count=Arg("int", check=values.integer(0, values.MAX_COUNT)),
        ns=_NS,
    ),
    _probe(
        "chaosk8s.pod.probes",
        "all_pods_healthy",
        f"{_K8S}:all_pods_healthy",
        ns=_NS,
        raise_on_any_unhealthy=_BOOL,
    ),
    _probe("chaosk8s.pod.probes", "read_pod_logs", f"{_K8S}:read_pod_logs", **_POD_LOGS),
    _probe("chaosk8s.probes", "read_microservices_logs", f"{_K8S}:read_pod_logs", **_POD_LOGS),
    ProviderSpec(
        name="chaosk8s.probes.microservice_available_and_healthy",
        type="python",
        implementation=f"{_K8S}:microservice_available_and_healthy",
        mutates=False,
        guard="none",
        arguments={"name": _NAME, "ns": _NS, "label_selector": _LABEL_SELECTOR},
        note="returns a real boolean (chaosk8s returns None)",
    ),
    _probe(
        "chaosk8s.deployment.probes",
        "deployment_available_and_healthy",
        f"{_K8S}:deployment_available_and_healthy",
        name=_NAME,
        ns=_NS,
        label_selector=_LABEL_SELECTOR,
        raise_on_unavailable=_BOOL,
    ),
    ProviderSpec(
        name="chaosk8s.deployment.probes.deployment_fully_available",
        type="python",
        implementation=f"{_K8S}:deployment_fully_available",
        mutates=False,
        guard="none",
        arguments={
            "name": _NAME,
            "ns": _NS,
            "label_selector": _LABEL_SELECTOR,
            "timeout": _WAIT,
            "raise_on_not_fully_available": _BOOL,
        },
        timeout=TimeoutRule(_argument_plus("timeout", 30, 5), "`timeout` (30 s) + 5 s"),
    ),
    ProviderSpec(
        name="chaosk8s.deployment.actions.scale_deployment",
        type="python",
        implementation="daemon.engine.providers.scale:scale_deployment",
        mutates=True,
        guard="scale",
        meant_as="action",
        arguments={
            "name": _NAME,
            "replicas": Arg("int", required=True, check=values.integer(0, values.MAX_COUNT)),
            "ns": _NS,
        },
    ),
    ProviderSpec(
        name="chaosprometheus.probes.query",
        type="python",
        implementation="daemon.engine.providers.prometheus:query",
        mutates=False,
        guard="none",
        arguments={
            "query": Arg("str", required=True, check=values.text(non_empty=True)),
            "when": Arg("str", check=values.text(200)),
            "timeout": _WAIT,
            "verify_tls": _BOOL,
        },
        timeout=TimeoutRule(
            _argument_plus("timeout", None, 5), "`timeout` + 5 s, else `engine.activity_timeout`"
        ),
    ),
    ProviderSpec(
        name="chaosprometheus.probes.query_interval",
        type="python",
        implementation="daemon.engine.providers.prometheus:query_interval",
        mutates=False,
        guard="none",
        arguments={
            "query": _PROMETHEUS_TEXT,
            "start": _PROMETHEUS_TEXT,
            "end": _PROMETHEUS_TEXT,
            "step": Arg("number", check=values.number(0, 86_400, low_open=True)),
            "timeout": _WAIT,
            "verify_tls": _BOOL,
        },
        timeout=TimeoutRule(
            _argument_plus("timeout", None, 5), "`timeout` + 5 s, else `engine.activity_timeout`"
        ),
    ),
    ProviderSpec(
        name="aftershock.pods.kill",
        type="python",
        implementation=f"{_K8S}:kill",
        mutates=True,
        guard="pods",
        meant_as="action",
        arguments={
            "ns": _NS,
            "namespaces": Arg("list", check=values.namespaces),
            "label_selector": Arg("str|dict", check=values.selector_or_object),
            "annotation_selector": Arg("str", check=values.selector),
            "field_selector": Arg("str", check=values.field_selector),
            "node_selector": Arg("str", check=values.selector),
            "owner_kinds": Arg("list", check=values.kinds),
            "name_pattern": Arg("str", check=values.regex),
            "min_age": Arg("str|number", check=values.duration(366 * 86_400.0)),
            "mode": Arg("str", check=values.choice(*_KILL_MODES)),
            "value": Arg("number", check=values.number(0, values.MAX_COUNT)),
            "method": Arg("str", check=values.choice("delete", "evict")),
            "grace_period": Arg("int", check=values.integer(0, values.MAX_GRACE_SECONDS)),
        },
        rules=(_kill_rules,),
    ),
    ProviderSpec(
        name="aftershock.traffic.attack",
        type="python",
        implementation="daemon.engine.providers.traffic:attack",
        # Load on a URL the file names, like `http`: read-only with a safe method.
        mutates=True,
        guard="external",
        mutates_if=lambda provider: unsafe_method(arguments_of(provider).get("method", "GET")),
        meant_as="action",
        arguments={
            "url": Arg("str", required=True, check=values.url),
            "rate": Arg(
                "number", required=True, check=values.number(0, values.MAX_RATE, low_open=True)
            ),
            "duration": Arg(
                "str|number",
                required=True,
                check=values.duration(values.MAX_ATTACK_SECONDS, positive=True),
            ),
            "method": Arg("str", check=values.choice(*values.HTTP_METHODS)),
            "headers": Arg("dict", check=values.string_map),
            "body": Arg("str", check=values.text(values.MAX_BODY_LENGTH)),
            "timeout": Arg(
                "str|number",
                check=values.duration(values.MAX_REQUEST_TIMEOUT_SECONDS, positive=True),
            ),
            "verify_tls": _BOOL,
        },
        timeout=TimeoutRule(_attack_timeout, "`duration` + 30 s"),
    ),
    # Node drills (docs/node-drills.md): guard "nodes" (daemon/engine/providers/nodes.py).
    ProviderSpec(
        name="chaosk8s.node.actions.cordon_node",
        type="python",
        implementation=f"{_NODES}:cordon_node",
        mutates=True,
        guard="nodes",
        meant_as="action",
        arguments={"name": _NODE_NAME, "label_selector": _LABEL_SELECTOR},
    ),
    ProviderSpec(
        name="chaosk8s.node.actions.uncordon_node",
        type="python",
        implementation=f"{_NODES}:uncordon_node",
        mutates=True,
        guard="nodes",
        meant_as="action",
        arguments={"name": _NODE_NAME, "label_selector": _LABEL_SELECTOR},
    ),
    ProviderSpec(
        name="chaosk8s.node.actions.drain_nodes",
        type="python",
        implementation=f"{_NODES}:drain_nodes",
        mutates=True,
        guard="nodes",
        meant_as="action",
        arguments={
            "name": _NODE_NAME,
            "label_selector": _LABEL_SELECTOR,
            "delete_pods_with_local_storage": _BOOL,
            "timeout": Arg("int", check=values.integer(1, int(values.MAX_WAIT_SECONDS))),
            "count": Arg("int", check=values.integer(1, values.MAX_COUNT)),
            "pod_label_selector": _LABEL_SELECTOR,
            "pod_namespace": _NS,
        },
        timeout=TimeoutRule(_argument_plus("timeout", 120, 30), "`timeout` (120 s) + 30 s"),
    ),
    ProviderSpec(
        name="aftershock.nodes.drain",
        type="python",
        implementation=f"{_NODES}:drain",
        mutates=True,
        guard="nodes",
        meant_as="action",
        arguments={
            "names": Arg("list", check=_node_names),
            "label_selector": _LABEL_SELECTOR,
            "topology_key": Arg("str", check=values.text(317, non_empty=True)),
            "topology_value": Arg("str", check=values.text(63)),
            "count": Arg("int", check=values.integer(1, values.MAX_COUNT)),
            "percent": Arg("number", check=values.number(0, 100, low_open=True)),
            "delete_local_data": _BOOL,
            "force": _BOOL,
            "timeout": Arg("str|number", check=values.duration(values.MAX_WAIT_SECONDS)),
            "grace_period": Arg("int", check=values.integer(0, values.MAX_GRACE_SECONDS)),
        },
        timeout=TimeoutRule(_argument_plus("timeout", 300, 30), "`timeout` (300 s) + 30 s"),
    ),
)

PYTHON: dict[tuple[str, str], ProviderSpec] = {
    tuple(spec.name.rsplit(".", 1)): spec  # type: ignore[misc]
    for spec in _PYTHON
}


def _http_mutates(provider: Mapping[str, Any]) -> bool:
    return unsafe_method(provider.get("method", "GET"))


def _http_method(value: Any) -> str | None:
    return values.choice(*values.HTTP_METHODS)(str(value).upper())


_TIMEOUT = Arg("number|list", check=values.timeouts)
HTTP = ProviderSpec(
    name="http",
    type="http",
    implementation="daemon.engine.providers.http:http_provider",
    mutates=True,
    guard="external",
    mutates_if=_http_mutates,
    fields={
        "url": Arg("str", required=True, check=values.url),
        "method": Arg("str", check=_http_method),
        "timeout": _TIMEOUT,
        "expected_status": Arg("int|list", check=values.status_codes),
    },
    timeout=TimeoutRule(_own_timeout, "`timeout` + 1 s, else `engine.activity_timeout`"),
)
PROCESS = ProviderSpec(
    name="process",
    type="process",
    implementation="daemon.engine.providers.process:process_provider",
    mutates=True,  # an executable can do anything aftershock's identity can
    guard="allowlist",
    fields={"path": Arg("str", required=True), "timeout": _TIMEOUT},
    timeout=TimeoutRule(_own_timeout, "`timeout` + 1 s, else `engine.activity_timeout`"),
)

# Arguments chaoslib injects itself; a user must not (and need not) pass them.
