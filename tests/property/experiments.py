"""Hypothesis strategies: experiments that mix every way aftershock can disrupt a cluster,
with blast-radius limits in the `aftershock` extension and global safety settings.

Only the public experiment format is generated (Chaos Toolkit JSON/YAML plus the
`aftershock` extension), so the properties hold whatever the engine's internals become.
Hostile on purpose: kills in every place a provider can run (method, background, rollbacks,
hypothesis probes, probe tolerances, probes in the method), arguments hidden behind
`${}` configuration templates, targets in protected, not-opted-in and aftershock's own
namespaces, every-namespace selections, StatefulSets, DaemonSets and a bare pod.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.property.ground_truth import (
    DEFAULT_PROTECTED,
    DEPLOYMENTS,
    NOT_OPTED_IN,
    OPTED_IN,
    SELF,
    WORKLOADS,
)

NAMESPACES = [*[OPTED_IN] * 6, NOT_OPTED_IN, "kube-system", SELF]
PAUSES = st.sampled_from([0, 0, 0.1, 0.3, 1.2])


def _apps(namespace: str) -> list[str]:
    return [name for ns, name in WORKLOADS if ns == namespace]


@st.composite
def target(draw: st.DrawFn, *, allow_any_namespace: bool = False) -> tuple[Any, Any]:
    """(namespace, a list of namespaces, or None for every namespace; label selector)."""
    choices: list[Any] = list(NAMESPACES)
    if allow_any_namespace:
        choices += [None, [OPTED_IN, NOT_OPTED_IN, "kube-system", SELF]]
    namespace = draw(st.sampled_from(choices))
    apps = _apps(namespace) if isinstance(namespace, str) else [n for _, n in WORKLOADS]
    selector: Any = draw(st.one_of(st.just(""), st.sampled_from(apps).map(lambda a: f"app={a}")))
    if allow_any_namespace and selector and draw(st.booleans()):
        selector = {"matchLabels": {"app": selector.removeprefix("app=")}}
    return namespace, selector


@st.composite
def kill(draw: st.DrawFn) -> dict[str, Any]:
    namespace, selector = draw(target(allow_any_namespace=True))
    mode = draw(st.sampled_from(["one", "all", "fixed", "fixed-percent", "random-max-percent"]))
    arguments: dict[str, Any] = {"mode": mode}
    if mode == "fixed":
        arguments["value"] = draw(st.integers(0, 5))
    elif mode in ("fixed-percent", "random-max-percent"):
        arguments["value"] = draw(st.sampled_from([0, 10, 34, 50, 75, 100]))
    if isinstance(namespace, list):
        arguments["namespaces"] = namespace
    elif namespace is not None:
        arguments["ns"] = namespace
    if selector:
        arguments["label_selector"] = selector
    if draw(st.booleans()):
        arguments["method"] = draw(st.sampled_from(["delete", "evict"]))
    return {"module": "aftershock.pods", "func": "kill", "arguments": arguments}


@st.composite
def terminate(draw: st.DrawFn) -> dict[str, Any]:
    namespace, selector = draw(target())
    arguments: dict[str, Any] = {"ns": namespace}
    if selector:
        arguments["label_selector"] = selector
    if draw(st.booleans()):
        arguments["all"] = True
    else:
        arguments["qty"] = draw(st.integers(0, 5))
        arguments["rand"] = draw(st.booleans())
        if draw(st.booleans()):
            arguments["mode"] = "percentage"
            arguments["qty"] = draw(st.sampled_from([25, 50, 100]))
    return {"module": "chaosk8s.pod.actions", "func": "terminate_pods", "arguments": arguments}


@st.composite
def scale(draw: st.DrawFn) -> dict[str, Any]:
    namespace, name = draw(st.sampled_from(list(DEPLOYMENTS)))
    replicas = draw(st.integers(0, DEPLOYMENTS[(namespace, name)] + 2))
    return {
        "module": "chaosk8s.deployment.actions",
        "func": "scale_deployment",
        "arguments": {"name": name, "replicas": replicas, "ns": namespace},
    }


def wait() -> dict[str, Any]:
    return {
        "module": "chaosk8s.pod.probes",
        "func": "count_pods",
        "arguments": {"label_selector": "app=webapp", "ns": OPTED_IN},
    }


@st.composite
def templated(draw: st.DrawFn, provider: dict[str, Any], configuration: dict[str, Any]) -> dict:
    """Hide some argument values behind `${name}` configuration templates: checks made on
    the file's text must be made again on the resolved value."""
    arguments = dict(provider["arguments"])
    for key in sorted(arguments):
        if key in ("ns", "mode", "value", "replicas", "qty", "name") and draw(
            st.integers(0, 3).map(lambda n: n == 0)
        ):
            variable = f"v{len(configuration)}"
            configuration[variable] = arguments[key]
            arguments[key] = "${" + variable + "}"
    return {**provider, "arguments": arguments}


def _activity(kind: str, name: str, provider: dict[str, Any], pauses: dict[str, float]) -> dict:
    activity: dict[str, Any] = {
        "type": kind,
        "name": name,
        "provider": {"type": "python", **provider},
    }
    if kind == "probe":
        activity["tolerance"] = {"type": "jsonpath", "path": "$.*"}
    if pauses:
        activity["pauses"] = pauses
    return activity


@st.composite
def pauses(draw: st.DrawFn) -> dict[str, float]:
    out = {}
    for key in ("before", "after"):
        value = draw(PAUSES)
        if value:
            out[key] = value
    return out


DISRUPTIVE = st.one_of(kill(), kill(), terminate(), scale())


@st.composite
def method_activity(draw: st.DrawFn, index: int, configuration: dict[str, Any]) -> dict:
    provider = draw(st.one_of(DISRUPTIVE, st.just(wait())))
    provider = draw(templated(provider, configuration))
    # A disruptive provider may also be declared a probe in the method.
    is_probe = provider["func"] == "count_pods" or draw(st.integers(0, 5).map(lambda n: n == 0))
    activity = _activity(
        "probe" if is_probe else "action", f"step-{index}", provider, draw(pauses())
    )
    if draw(st.booleans()):
        activity["background"] = True
    if draw(st.integers(0, 4).map(lambda n: n == 0)):
        # A deadline shorter than the provider: the run moves on while the call may not.
        activity["timeout"] = draw(st.sampled_from([0.05, 0.5]))
    return activity


@st.composite
def with_refs(draw: st.DrawFn, method: list[dict[str, Any]], rollbacks: list[dict]) -> None:
    """`{ref: name}` replays an activity declared earlier, in the method or in rollbacks."""
    named = [a["name"] for a in method if a.get("type") == "action"]
    if not named:
        return
    for _ in range(draw(st.integers(0, 2))):
        where = draw(st.sampled_from([method, rollbacks]))
        where.append({"ref": draw(st.sampled_from(named))})


@st.composite
def limits(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """(global safety settings, extension blast_radius)."""
    safety: dict[str, Any] = {
        "dry_run": False,
        "max_pods": draw(st.sampled_from([1, 2, 3, 5, 8, 10])),
        "max_percent": draw(st.sampled_from([25, 34, 50, 67, 100])),
        "min_ready_replicas": draw(st.integers(0, 2)),
        "cooldown": draw(st.sampled_from(["0s", "0s", "10m"])),
        "max_disruptions_per_day": draw(st.sampled_from([1, 3, 6, 10, 20])),
        "require_opt_in": draw(st.sampled_from([True, True, False])),
        "require_workload_ready": draw(st.sampled_from([True, False])),
        "respect_pdb": draw(st.sampled_from([True, True, False])),
        "on_limit": draw(st.sampled_from(["refuse", "cap"])),
        "protected_namespaces": list(DEFAULT_PROTECTED)
        + draw(st.sampled_from([[], [], [NOT_OPTED_IN]])),
        "stop_condition_interval": "200ms",
    }
    blast: dict[str, Any] = {}
    optional = {
        "max_pods": st.integers(1, 6),
        "max_percent": st.sampled_from([25, 50, 75, 100]),
        "min_ready_replicas": st.one_of(st.integers(0, 3), st.sampled_from(["50%", "75%"])),
        "cooldown": st.sampled_from(["0s", "1h"]),
        "max_disruptions_per_day": st.integers(1, 12),
        "on_limit": st.sampled_from(["refuse", "cap"]),
        "require_workload_ready": st.booleans(),
        "respect_pdb": st.booleans(),
    }
    for key, values in optional.items():
        if draw(st.booleans()):
            blast[key] = draw(values)
    return safety, blast


@st.composite
def experiments(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """(experiment document, global safety settings)."""
    safety, blast = draw(limits())
    configuration: dict[str, Any] = {}
    method = [draw(method_activity(i, configuration)) for i in range(draw(st.integers(1, 4)))]
    rollbacks = [
        _activity(
            "action",
            f"rollback-{i}",
            draw(templated(draw(st.one_of(kill(), terminate(), scale())), configuration)),
            {},
        )
        for i in range(draw(st.integers(0, 2)))
    ]
    draw(with_refs(method, rollbacks))
    probes: list[dict[str, Any]] = [
        {
            "type": "probe",
            "name": "webapp-pods-running",
            "tolerance": True,
            "provider": {
                "type": "python",
                "module": "chaosk8s.pod.probes",
                "func": "pods_in_phase",
                "arguments": {"label_selector": "app=webapp", "phase": "Running", "ns": OPTED_IN},
            },
        }
    ]
    where = draw(st.sampled_from(["", "", "probe", "tolerance"]))
    if where == "probe":  # a kill used as a steady-state probe
        probes.append(_activity("probe", "probe-kill", draw(kill()), {}))
    elif where == "tolerance":  # a kill hidden in a probe tolerance
        probes[0]["tolerance"] = {
            "type": "probe",
            "name": "tolerance-kill",
            "provider": {"type": "python", **draw(kill())},
        }
    strategy = draw(
        st.sampled_from(["default", "continuously", "during-method-only", "after-method-only"])
    )
    extension: dict[str, Any] = {
        "name": "aftershock",
        "blast_radius": blast,
        "recovery": {"timeout": "3s"},
        "hypothesis": {"strategy": strategy, "frequency": "300ms"},
    }
    if draw(st.booleans()):
        extension["rollbacks"] = {"strategy": "always"}
    if draw(st.integers(0, 7).map(lambda n: n == 0)):
        extension["dry_run"] = True  # then nothing at all may change
    experiment = {
        "title": "generated: limits hold for the whole run",
        "description": "hypothesis-generated",
        "steady-state-hypothesis": {"title": "webapp runs", "probes": probes},
        "method": method,
        "rollbacks": rollbacks,
        "extensions": [extension],
    }
    if configuration:
        experiment["configuration"] = configuration
    return experiment, safety


FAULT_RESOURCES = [
    "pods",
    "pods/eviction",
    "deployments.apps",
    "replicasets.apps",
    "poddisruptionbudgets.policy",
    "namespaces",
    "*",
]


@st.composite
def fault_rules(draw: st.DrawFn) -> dict[str, Any]:
    """Random API errors and latency on what aftershock reads and writes. Watches of
    Deployments are left alone: the test's own scale watch reads ground truth through them."""
    rules = []
    for _ in range(draw(st.integers(1, 3))):
        resource = draw(st.sampled_from(FAULT_RESOURCES))
        verbs = ["get", "list", "delete", "create", "patch"]
        if resource not in ("*", "deployments.apps"):
            verbs.append("*")
        verb = draw(st.sampled_from(verbs))
        latencies = ["0s", "20ms", "50ms"]
        if verb in ("delete", "create") and resource in ("pods", "pods/eviction"):
            # Past the client's 2 s request timeout: the server applies what the client
            # believes failed (issue 12, finding 4 and 9).
            latencies.append("2500ms")
        rules.append(
            {
                "verb": verb,
                "resource": resource,
                "error_rate": draw(st.sampled_from([0.1, 0.3, 0.5])),
                "code": draw(st.sampled_from([429, 500, 503, 504])),
                "retry_after": 0,
                "latency": draw(st.sampled_from(latencies)),
            }
        )
    return {"rules": rules}
