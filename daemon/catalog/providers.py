"""The provider registry: every provider aftershock runs, what it may do and how it is guarded.

Chaos Toolkit imports `module.func` and calls it; aftershock never imports user-named code.
Each supported name is declared here once: its native implementation, its arguments with
their types and bounds, whether it mutates anything, which guard stands in front of it, and
how long it may take. Validation (`aftershock validate`, catalog load), the engine's dispatch,
its timeouts and the run-time check of values resolved from `${}` templates all read this
table; nothing else lists providers. It stays pure (no engine import): implementations are
named as `module:function` and resolved by the engine.

Guard kinds (a provider that mutates must have one other than "none"; tests walk the table):
- "pods": every pod it disrupts goes through the blast-radius guard (`guarded_kill`);
- "scale": a scale-down is a disruption of that many pods and goes through the guard, a
  scale-up is bounded;
- "allowlist": `process`: only executables the operator lists in `safety.process_allowlist`
  run; they run with aftershock's environment, so listing one is trusting it;
- "external": `http` and `aftershock.traffic.attack` with a method other than
  GET/HEAD/OPTIONS: they reach only the URL the file names, with only the headers the file
  gives (never aftershock's service-account token), so they cannot disrupt the cluster in
  aftershock's name; the guard cannot count what a service does with the call;
- "none": read-only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from daemon.catalog import values
from daemon.durations import parse_duration

ArgKind = str  # "str" | "int" | "number" | "bool" | "list" | "dict" | "any", or "a|b"
GuardKind = Literal["none", "pods", "scale", "allowlist", "external"]
ProviderType = Literal["python", "http", "process"]
PathSuffix = tuple[str | int, ...]  # below the provider: ("arguments", "qty"), ("method",)
Found = list[tuple[PathSuffix, str]]
Rule = Callable[[Mapping[str, Any]], Found]


@dataclass(frozen=True)
class Arg:
    kind: ArgKind
    required: bool = False
    check: values.Check | None = None


@dataclass(frozen=True)
class ProviderSpec:
    """One provider: everything validation, dispatch and the guard need to know about it."""

    name: str  # `module.func`, or `http` / `process`
    type: ProviderType
    implementation: str  # "package.module:function", resolved by the engine
    mutates: bool  # can it change anything at all (with some arguments)?
    guard: GuardKind
    arguments: Mapping[str, Arg] = field(default_factory=dict)  # python `arguments`
    fields: Mapping[str, Arg] = field(default_factory=dict)  # keys of the provider itself
    rules: tuple[Rule, ...] = ()  # across arguments; each skips templates and wrong types
    mutates_if: Callable[[Mapping[str, Any]], bool] | None = None  # per call, when it depends
    timeout: Callable[[Mapping[str, Any]], float | None] = lambda _provider: None
    meant_as: Literal["probe", "action"] = "probe"
    note: str = ""

    def mutating(self, provider: Mapping[str, Any]) -> bool:
        """Whether this call may change something (unknowable templates count as yes)."""
        if not self.mutates:
            return False
        return True if self.mutates_if is None else self.mutates_if(provider)


# ----------------------------------------------------------------------------- templates

_PLACEHOLDER = re.compile(r"\$(?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)")


def is_template(value: Any) -> bool:
    """A `${name}` (or `$name`) string is resolved at run time; its type is unknown until then.

    Same placeholders as chaoslib's string.Template substitution; `$.a` (JSONPath) or `ok$`
    (regex) are not templates.
    """
    return isinstance(value, str) and _PLACEHOLDER.search(value) is not None


_TYPES: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "dict": lambda v: isinstance(v, dict),
    "any": lambda _v: True,
}


def kind_matches(value: Any, kind: ArgKind) -> bool:
    return any(_TYPES[k](value) for k in kind.split("|"))


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
        seconds = _seconds(_arguments(provider).get(name, default))
        if seconds is None:
            return None
        return min(seconds, values.MAX_WAIT_SECONDS) + extra

    return rule


def _attack_timeout(provider: Mapping[str, Any]) -> float | None:
    seconds = _seconds(_arguments(provider).get("duration", 0))
    return None if seconds is None else min(seconds, values.MAX_ATTACK_SECONDS) + 30


def _own_timeout(provider: Mapping[str, Any]) -> float | None:
    """http and process: their own `timeout` (a number, or http's [connect, read]) + 1 s."""
    raw = provider.get("timeout")
    parts = raw if isinstance(raw, list | tuple) else [raw]
    if not parts or not all(values.is_number(p) for p in parts):
        return None
    return min(float(sum(parts)), values.MAX_WAIT_SECONDS) + 1


# ----------------------------------------------------------------------------- rules


def _arguments(provider: Mapping[str, Any]) -> Mapping[str, Any]:
    arguments = provider.get("arguments")
    return arguments if isinstance(arguments, Mapping) else {}


def _unsafe_method(method: Any) -> bool:
    """Anything but GET, HEAD or OPTIONS (or not known yet) may change what it calls."""
    return not isinstance(method, str) or method.upper() not in values.SAFE_HTTP_METHODS


def _given(arguments: Mapping[str, Any], *names: str) -> bool:
    return all(n in arguments and not is_template(arguments[n]) for n in names)


def _terminate_rules(provider: Mapping[str, Any]) -> Found:
    arguments = _arguments(provider)
    if _given(arguments, "mode", "qty") and arguments["mode"] == "percentage":
        qty = arguments["qty"]
        if isinstance(qty, int) and not 0 <= qty <= 100:
            return [(("arguments", "qty"), f"qty {qty!r} is a percentage here: 0 to 100")]
    return []


_KILL_MODES = ("one", "all", "fixed", "fixed-percent", "random-max-percent")


def _kill_rules(provider: Mapping[str, Any]) -> Found:
    arguments = _arguments(provider)
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
        label_selector=Arg("str", required=True, check=values.selector),
        phase=_PHASE,
        ns=_NS,
        raise_on_invalid_phase=_BOOL,
    ),
    _probe(
        "chaosk8s.pod.probes",
        "pods_not_in_phase",
        f"{_K8S}:pods_not_in_phase",
        label_selector=Arg("str", required=True, check=values.selector),
        phase=_PHASE,
        ns=_NS,
        raise_on_in_phase=_BOOL,
    ),
    _probe(
        "chaosk8s.pod.probes",
        "pods_in_conditions",
        f"{_K8S}:pods_in_conditions",
        label_selector=Arg("str", required=True, check=values.selector),
        conditions=Arg("list", required=True, check=values.conditions),
        ns=_NS,
        raise_on_invalid_conditions=_BOOL,
    ),
    _probe(
        "chaosk8s.pod.probes",
        "count_pods",
        f"{_K8S}:count_pods",
        label_selector=Arg("str", required=True, check=values.selector),
        phase=_PHASE,
        ns=_NS,
    ),
    _probe(
        "chaosk8s.pod.probes",
        "count_min_pods",
        f"{_K8S}:count_min_pods",
        label_selector=Arg("str", required=True, check=values.selector),
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
        timeout=_argument_plus("timeout", 30, 5),
    ),
    ProviderSpec(
        name="chaosk8s.deployment.actions.scale_deployment",
        type="python",
        implementation=f"{_K8S}:scale_deployment",
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
        timeout=_argument_plus("timeout", None, 5),
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
        timeout=_argument_plus("timeout", None, 5),
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
        mutates_if=lambda provider: _unsafe_method(_arguments(provider).get("method", "GET")),
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
        timeout=_attack_timeout,
    ),
)

PYTHON: dict[tuple[str, str], ProviderSpec] = {
    tuple(spec.name.rsplit(".", 1)): spec  # type: ignore[misc]
    for spec in _PYTHON
}


def _http_mutates(provider: Mapping[str, Any]) -> bool:
    return _unsafe_method(provider.get("method", "GET"))


def _http_method(value: Any) -> str | None:
    return values.choice(*values.HTTP_METHODS)(str(value).upper())


_TIMEOUT = Arg("number|list", check=values.timeouts)
HTTP = ProviderSpec(
    name="http",
    type="http",
    implementation="daemon.engine.providers.http:run_http",
    mutates=True,
    guard="external",
    mutates_if=_http_mutates,
    fields={
        "url": Arg("str", required=True, check=values.url),
        "method": Arg("str", check=_http_method),
        "timeout": _TIMEOUT,
        "expected_status": Arg("int|list", check=values.status_codes),
    },
    timeout=_own_timeout,
)
PROCESS = ProviderSpec(
    name="process",
    type="process",
    implementation="daemon.engine.providers.process:run_process",
    mutates=True,  # an executable can do anything aftershock's identity can
    guard="allowlist",
    fields={"path": Arg("str", required=True), "timeout": _TIMEOUT},
    timeout=_own_timeout,
)

# Arguments chaoslib injects itself; a user must not (and need not) pass them.
INJECTED = frozenset({"secrets", "configuration"})


def registry() -> list[ProviderSpec]:
    """Every provider, for whoever must walk them all (docs, tests, the engine's dispatch)."""
    return [*PYTHON.values(), HTTP, PROCESS]


def supported_names() -> list[str]:
    return sorted(spec.name for spec in PYTHON.values())


def spec_for(provider: Mapping[str, Any]) -> ProviderSpec | None:
    kind = provider.get("type")
    if kind == "python":
        return PYTHON.get((str(provider.get("module")), str(provider.get("func"))))
    return {"http": HTTP, "process": PROCESS}.get(str(kind))


def timeout_seconds(provider: Mapping[str, Any]) -> float | None:
    """How long this call may take, by its provider's rule; None: the engine's default."""
    spec = spec_for(provider)
    return None if spec is None else spec.timeout(provider)


# ----------------------------------------------------------------------------- the check


def _check_value(where: PathSuffix, name: str, value: Any, arg: Arg, resolved: bool) -> Found:
    if not resolved and is_template(value):
        return []  # checked by the same rules once the run has resolved it
    if not kind_matches(value, arg.kind):
        wanted = arg.kind.replace("|", " or ")
        hint = ""
        if resolved and isinstance(value, str) and {"int", "number"} & set(arg.kind.split("|")):
            hint = " (text from the environment or --var: set the configuration's env_var_type)"
        return [(where, f"'{name}' must be {wanted}, got {_short(value)}{hint}")]
    problem = arg.check(value) if arg.check is not None else None
    return [(where, f"'{name}' is {_short(value)}; {problem}")] if problem else []


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_provider(provider: Mapping[str, Any], *, as_probe: bool, resolved: bool) -> Found:
    """Every problem with one provider: names, types, bounds, and "a probe must be read-only".

    `resolved` is False for a file being loaded (a `${}` template is checked later) and True
    for a provider whose templates the run has substituted: then every value is checked,
    whatever it came from. Paths are relative to the provider.
    """
    spec = spec_for(provider)
    if spec is None:
        if provider.get("type") == "python":
            return [
                (
                    ("func",),
                    f"{provider.get('module')}.{provider.get('func')} is not supported; supported "
                    "Python providers: " + ", ".join(supported_names()),
                )
            ]
        return [(("type",), f"unknown provider type {provider.get('type')!r}")]
    found: Found = []
    for name, arg in spec.fields.items():
        if name in provider and provider[name] is not None:
            found += _check_value((name,), name, provider[name], arg, resolved)
        elif arg.required:
            found.append(((), f"a {spec.type} provider requires '{name}'"))
    if spec.type == "python":  # http and process `arguments` are free-form
        arguments = provider.get("arguments") or {}
        if isinstance(arguments, Mapping):
            found += _check_arguments(spec, arguments, resolved)
        else:
            found.append((("arguments",), f"arguments must be a mapping, got {_short(arguments)}"))
    for rule in spec.rules:
        found += rule(provider)
    if as_probe and spec.mutating(provider):
        found.append(((), _not_read_only(spec, provider, resolved)))
    return found


def _check_arguments(spec: ProviderSpec, arguments: Mapping[str, Any], resolved: bool) -> Found:
    found: Found = []
    for name, value in arguments.items():
        where: PathSuffix = ("arguments", name)
        if name in INJECTED:
            found.append((where, f"'{name}' is passed by the runtime; remove it"))
            continue
        arg = spec.arguments.get(name)
        if arg is None:
            accepted = ", ".join(spec.arguments) or "none"
            found.append((where, f"{spec.name} takes no argument '{name}' (accepted: {accepted})"))
            continue
        found += _check_value(where, name, value, arg, resolved)
    found.extend(
        (("arguments",), f"{spec.name} requires argument '{name}'")
        for name, arg in spec.arguments.items()
        if arg.required and name not in arguments
    )
    return found


def _not_read_only(spec: ProviderSpec, provider: Mapping[str, Any], resolved: bool) -> str:
    if spec.guard == "external":
        where = provider if spec.type == "http" else _arguments(provider)
        method = where.get("method", "GET")
        if not resolved and is_template(method):
            return (
                f"a probe must be read-only, but its http method {method!r} is only known at run "
                "time; write GET, HEAD or OPTIONS, or make it an action"
            )
        return (
            f"a probe must be read-only: http method {str(method).upper()} may change what it "
            "calls; use GET, HEAD or OPTIONS, or make it an action"
        )
    if spec.type == "process":
        return (
            "a probe must be read-only, but a process can do anything aftershock's identity "
            "can (guard: allowlist); make it an action in the method"
        )
    return (
        f"a probe must be read-only, but {spec.name} changes the cluster (guard: {spec.guard}); "
        "make it an action in the method"
    )


def resolved_problems(provider: Mapping[str, Any], *, as_probe: bool) -> list[str]:
    """For the engine, right after substitution: what is wrong, as `arguments.qty: message`."""
    return [
        (".".join(str(p) for p in where) + ": " if where else "") + message
        for where, message in check_provider(provider, as_probe=as_probe, resolved=True)
    ]
