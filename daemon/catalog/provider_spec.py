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


def arguments_of(provider: Mapping[str, Any]) -> Mapping[str, Any]:
    arguments = provider.get("arguments")
    return arguments if isinstance(arguments, Mapping) else {}


def unsafe_method(method: Any) -> bool:
    """Anything but GET, HEAD or OPTIONS (or not known yet) may change what it calls."""
    return not isinstance(method, str) or method.upper() not in values.SAFE_HTTP_METHODS
