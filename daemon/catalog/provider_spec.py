"""What the provider registry says about one provider (see daemon.catalog.providers).

Guard kinds (a provider that mutates must have one other than "none"; tests walk the table):
- "pods": every pod it disrupts goes through the blast-radius guard (`guarded_kill`);
- "scale": a scale-down is a disruption of that many pods and goes through the guard, a
  scale-up is bounded;
- "nodes": node drills: the node guard (max_nodes, min_schedulable_nodes, control plane,
  protected pods) and the pod guard for every pod a drain evicts (`guarded_nodes`);
- "allowlist": `process`: only executables the operator lists in `safety.process_allowlist`
  run; they run with aftershock's environment, so listing one is trusting it;
- "external": `http` and `aftershock.traffic.attack` with a method other than
  GET/HEAD/OPTIONS: they reach only the URL the file names, with only the headers the file
  gives (never aftershock's service-account token), so they cannot disrupt the cluster in
  aftershock's name; the guard cannot count what a service does with the call;
- "none": read-only.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from daemon.catalog import values

ArgKind = str  # "str" | "int" | "number" | "bool" | "list" | "dict" | "any", or "a|b"
GuardKind = Literal["none", "pods", "scale", "nodes", "allowlist", "external"]
ProviderType = Literal["python", "http", "process"]
PathSuffix = tuple[str | int, ...]  # below the provider: ("arguments", "qty"), ("method",)
Found = list[tuple[PathSuffix, str]]
Rule = Callable[[Mapping[str, Any]], Found]


@dataclass(frozen=True)
class Arg:
    kind: ArgKind
    required: bool = False
    check: values.Check | None = None

    @property
    def choices(self) -> tuple[str, ...]:
        """The accepted values, when the check is a choice (else empty)."""
        return self.check.allowed if isinstance(self.check, values.Choice) else ()


@functools.cache
def resolve(implementation: str) -> Callable[..., Any]:
    """`package.module:function` -> the function, imported on first use (the catalog stays
    free of engine imports; the engine and validation resolve what they need)."""
    module, _, name = implementation.partition(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return function


@dataclass(frozen=True)
class Parameter:
    name: str
    required: bool


@functools.cache
def parameters(implementation: str) -> tuple[Parameter, ...]:
    """A Python provider's parameters after `ctx`, from its signature: the names a file may
    pass and the ones it must (as chaoslib binds `inspect.signature` before a call)."""
    listed = list(inspect.signature(resolve(implementation)).parameters.values())[1:]
    return tuple(
        Parameter(p.name, p.default is inspect.Parameter.empty)
        for p in listed
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    )


@dataclass(frozen=True)
class TimeoutRule:
    """How long one call may take, from its provider (None: the engine's default), and the
    rule in words for the provider reference."""

    rule: Callable[[Mapping[str, Any]], float | None]
    doc: str

    def __call__(self, provider: Mapping[str, Any]) -> float | None:
        return self.rule(provider)


ENGINE_DEFAULT = TimeoutRule(lambda _provider: None, "`engine.activity_timeout`")


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
    timeout: TimeoutRule = ENGINE_DEFAULT  # the default timeout of one call
    meant_as: Literal["probe", "action"] = "probe"
    note: str = ""

    def function(self) -> Callable[..., Any]:
        """The implementation, resolved on first use. Python providers are called as
        `function(ctx, **arguments)`; `http` and `process` as `function(ctx, provider, timeout)`."""
        return resolve(self.implementation)

    def parameters(self) -> tuple[Parameter, ...]:
        """A Python provider's parameters from its function's signature (see `parameters`)."""
        return parameters(self.implementation) if self.type == "python" else ()

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


def arguments_of(provider: Mapping[str, Any]) -> Mapping[str, Any]:
    arguments = provider.get("arguments")
    return arguments if isinstance(arguments, Mapping) else {}


def unsafe_method(method: Any) -> bool:
    """Anything but GET, HEAD or OPTIONS (or not known yet) may change what it calls."""
    return not isinstance(method, str) or method.upper() not in values.SAFE_HTTP_METHODS
