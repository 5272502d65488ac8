"""The provider registry: every provider aftershock runs, what it may do and how it is guarded.

Chaos Toolkit imports `module.func` and calls it; aftershock never imports user-named code.
Each supported name is declared once: its native implementation, its arguments with
their types and bounds, whether it mutates anything, which guard stands in front of it, and
how long it may take. Validation (`aftershock validate`, catalog load), the engine's dispatch,
its timeouts and the run-time check of values resolved from `${}` templates all read this
table; nothing else lists providers. It stays pure (no engine import): implementations are
named as `module:function` and resolved by the engine. The declarations are in
`provider_table`, what each one holds (and the guard kinds) in `provider_spec`; this module
is the registry's interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from daemon.catalog.provider_spec import (
    Arg,
    ArgKind,
    Found,
    GuardKind,
    Parameter,
    PathSuffix,
    ProviderSpec,
    arguments_of,
    is_template,
    kind_matches,
)
from daemon.catalog.provider_table import HTTP, PROCESS, PYTHON

__all__ = [
    "HTTP",
    "INJECTED",
    "PROCESS",
    "PYTHON",
    "Arg",
    "ArgKind",
    "Found",
    "GuardKind",
    "Parameter",
    "PathSuffix",
    "ProviderSpec",
    "check_provider",
    "is_template",
    "kind_matches",
    "registry",
    "resolved_problems",
    "spec_for",
    "supported_names",
    "timeout_seconds",
]

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
    """Names as chaoslib binds them to the function's signature (unknown and missing ones),
    then each value against its declared kind and bounds."""
    found: Found = []
    signature = spec.parameters()
    accepted = [p.name for p in signature]
    for name, value in arguments.items():
        where: PathSuffix = ("arguments", name)
        if name in INJECTED:
            found.append((where, f"'{name}' is passed by the runtime; remove it"))
            continue
        if name not in accepted:
            listed = ", ".join(accepted) or "none"
            found.append((where, f"{spec.name} takes no argument '{name}' (accepted: {listed})"))
            continue
        arg = spec.arguments.get(name, Arg("any"))
        found += _check_value(where, name, value, arg, resolved)
    found.extend(
        (("arguments",), f"{spec.name} requires argument '{p.name}'")
        for p in signature
        if p.required and p.name not in arguments
    )
    return found


def _not_read_only(spec: ProviderSpec, provider: Mapping[str, Any], resolved: bool) -> str:
    if spec.guard == "external":
        where = provider if spec.type == "http" else arguments_of(provider)
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
    """For the engine, right after substitution: where it is wrong, as `arguments.qty: ...`.

    Only the place and a generic message: this check knows nothing of the run's secrets
    and a detail could quote a piece of one (daemon/catalog/secret_bearing.py). The run's
    first check (checks.resolved_problems) gives the details where no secret is involved;
    this one matters when that did not run (rollbacks replayed after a crash).
    """
    return [
        (".".join(str(p) for p in where) + ": " if where else "")
        + "not valid after substitution (details are not shown here: the value may contain "
        "a secret)"
        for where, _ in check_provider(provider, as_probe=as_probe, resolved=True)
    ]
