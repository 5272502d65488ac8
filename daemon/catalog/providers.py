"""The Python provider functions aftershock runs natively, with their Chaos Toolkit signatures.

Chaos Toolkit imports `module.func` and calls it; aftershock never imports user-named code.
It maps the names below onto native implementations, so each name must be known and its
arguments checked here, at validation time, exactly as chaoslib checks them against the
function signature (unknown argument or missing required one = invalid experiment).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Loose argument kinds: enough to catch `qty: "one"` without rejecting `${qty}` templates.
ArgKind = str  # "str" | "int" | "number" | "bool" | "list" | "dict" | "any" | "str|list"


@dataclass(frozen=True)
class Signature:
    required: dict[str, ArgKind] = field(default_factory=dict)
    optional: dict[str, ArgKind] = field(default_factory=dict)
    kind: str = "probe"  # what it is meant as: probe or action
    note: str = ""

    @property
    def names(self) -> list[str]:
        return [*self.required, *self.optional]


_POD_SELECT = {
    "label_selector": "str",
    "name_pattern": "str",
    "all": "bool",
    "rand": "bool",
    "mode": "str",
    "qty": "int",
    "ns": "str",
    "order": "str",
}
_POD_LOGS = {
    "name": "str",
    "last": "str",
    "ns": "str",
    "from_previous": "bool",
    "label_selector": "str",
    "container_name": "str",
}

SUPPORTED: dict[tuple[str, str], Signature] = {
    ("chaosk8s.pod.actions", "terminate_pods"): Signature(
        optional={**_POD_SELECT, "grace_period": "int"}, kind="action"
    ),
    ("chaosk8s.pod.probes", "pods_in_phase"): Signature(
        required={"label_selector": "str"},
        optional={"phase": "str", "ns": "str", "raise_on_invalid_phase": "bool"},
    ),
    ("chaosk8s.pod.probes", "pods_not_in_phase"): Signature(
        required={"label_selector": "str"},
        optional={"phase": "str", "ns": "str", "raise_on_in_phase": "bool"},
    ),
    ("chaosk8s.pod.probes", "pods_in_conditions"): Signature(
        required={"label_selector": "str", "conditions": "list"},
        optional={"ns": "str", "raise_on_invalid_conditions": "bool"},
    ),
    ("chaosk8s.pod.probes", "count_pods"): Signature(
        required={"label_selector": "str"}, optional={"phase": "str", "ns": "str"}
    ),
    ("chaosk8s.pod.probes", "count_min_pods"): Signature(
        required={"label_selector": "str"},
        optional={"phase": "str", "min_count": "int", "ns": "str"},
    ),
    ("chaosk8s.pod.probes", "all_pods_healthy"): Signature(
        optional={"ns": "str", "raise_on_any_unhealthy": "bool"}
    ),
    ("chaosk8s.pod.probes", "read_pod_logs"): Signature(optional=_POD_LOGS),
    ("chaosk8s.probes", "read_microservices_logs"): Signature(optional=_POD_LOGS),
    ("chaosk8s.probes", "microservice_available_and_healthy"): Signature(
        required={"name": "str"},
        optional={"ns": "str", "label_selector": "str"},
        note="returns a real boolean (chaosk8s returns None)",
    ),
    ("chaosk8s.deployment.probes", "deployment_available_and_healthy"): Signature(
        required={"name": "str"},
        optional={"ns": "str", "label_selector": "str", "raise_on_unavailable": "bool"},
    ),
    ("chaosk8s.deployment.probes", "deployment_fully_available"): Signature(
        required={"name": "str"},
        optional={
            "ns": "str",
            "label_selector": "str",
            "timeout": "number",
            "raise_on_not_fully_available": "bool",
        },
    ),
    ("chaosk8s.deployment.actions", "scale_deployment"): Signature(
        required={"name": "str", "replicas": "int"}, optional={"ns": "str"}, kind="action"
    ),
    ("chaosprometheus.probes", "query"): Signature(
        required={"query": "str"},
        optional={"when": "str", "timeout": "number", "verify_tls": "bool"},
    ),
    ("chaosprometheus.probes", "query_interval"): Signature(
        required={"query": "str", "start": "str", "end": "str"},
        optional={"step": "number", "timeout": "number", "verify_tls": "bool"},
    ),
    ("aftershock.pods", "kill"): Signature(
        optional={
            "ns": "str",
            "namespaces": "list",
            "label_selector": "str|dict",
            "annotation_selector": "str",
            "field_selector": "str",
            "node_selector": "str",
            "owner_kinds": "list",
            "name_pattern": "str",
            "min_age": "any",
            "mode": "str",
            "value": "number",
            "method": "str",
            "grace_period": "int",
        },
        kind="action",
    ),
    ("aftershock.traffic", "attack"): Signature(
        required={"url": "str", "rate": "number", "duration": "any"},
        optional={
            "method": "str",
            "headers": "dict",
            "body": "str",
            "timeout": "any",
            "verify_tls": "bool",
        },
        kind="action",
    ),
}

# Arguments chaoslib injects itself; a user must not (and need not) pass them.
INJECTED = frozenset({"secrets", "configuration"})

# Value constraints for enumerated arguments, checked when the value is not a template.
CHOICES: dict[tuple[str, str, str], tuple[Any, ...]] = {
    ("chaosk8s.pod.actions", "terminate_pods", "mode"): ("fixed", "percentage"),
    ("chaosk8s.pod.actions", "terminate_pods", "order"): ("alphabetic", "oldest"),
    ("aftershock.pods", "kill", "mode"): (
        "one",
        "all",
        "fixed",
        "fixed-percent",
        "random-max-percent",
    ),
    ("aftershock.pods", "kill", "method"): ("delete", "evict"),
    ("chaosk8s.pod.probes", "pods_in_phase", "phase"): (
        "Pending",
        "Running",
        "Succeeded",
        "Failed",
        "Unknown",
    ),
}


def supported_names() -> list[str]:
    return sorted(f"{module}.{func}" for module, func in SUPPORTED)


_PLACEHOLDER = re.compile(r"\$(?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")


def is_template(value: Any) -> bool:
    """A `${name}` (or `$name`) string is resolved at run time; its type is unknown until then.

    Same placeholders as chaoslib's string.Template substitution; `$.a` (JSONPath) or `ok$`
    (regex) are not templates.
    """
    return isinstance(value, str) and _PLACEHOLDER.search(value) is not None


def kind_matches(value: Any, kind: ArgKind) -> bool:
    if kind == "any" or is_template(value):
        return True
    checks = {
        "str": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "list": lambda v: isinstance(v, list),
        "dict": lambda v: isinstance(v, dict),
    }
    return any(checks[k](value) for k in kind.split("|"))


def check_arguments(module: str, func: str, arguments: dict[str, Any]) -> list[tuple[str, str]]:
    """Problems as (argument name or '', message); empty when the call is valid."""
    signature = SUPPORTED[(module, func)]
    problems: list[tuple[str, str]] = []
    for name, value in arguments.items():
        if name in INJECTED:
            problems.append((name, f"'{name}' is passed by the runtime; remove it"))
            continue
        kind = signature.required.get(name) or signature.optional.get(name)
        if kind is None:
            accepted = ", ".join(signature.names) or "none"
            problems.append(
                (name, f"{module}.{func} takes no argument '{name}' (accepted: {accepted})")
            )
            continue
        if not kind_matches(value, kind):
            problems.append((name, f"'{name}' must be {kind.replace('|', ' or ')}, got {value!r}"))
            continue
        choices = CHOICES.get((module, func, name))
        if choices and not is_template(value) and value not in choices:
            allowed = ", ".join(map(str, choices))
            problems.append((name, f"'{name}' is {value!r}; accepted: {allowed}"))
    problems.extend(
        ("", f"{module}.{func} requires argument '{name}'")
        for name in signature.required
        if name not in arguments
    )
    return problems
