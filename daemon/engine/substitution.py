"""`${name}` substitution, configuration and secrets, as chaoslib loads and applies them."""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import Mapping
from string import Template
from typing import Any

from daemon.engine.errors import InvalidRun


class _TypedTemplate(Template):
    def typed_substitute(self, mapping: Mapping[str, Any]) -> Any:
        """A string that is exactly `${key}` takes the value's own type (chaoslib ≥ 1.2x)."""
        match = self.pattern.fullmatch(self.template)
        if match is not None:
            key = match.group("braced")
            if key is not None and key in mapping:
                return mapping[key]
        return self.safe_substitute(mapping)


def substitute(
    data: Any,
    configuration: Mapping[str, Any] | None,
    secrets: Mapping[str, Mapping[str, Any]] | None,
) -> Any:
    """A substituted copy of `data` (strings, dicts and lists, recursively); data is not altered."""
    if not data or (not configuration and not secrets):
        return data
    mapping = ChainMap(dict(configuration or {}), *[dict(s) for s in (secrets or {}).values()])
    return _walk(data, mapping)


def _walk(data: Any, mapping: Mapping[str, Any]) -> Any:
    if isinstance(data, str):
        return _TypedTemplate(data).typed_substitute(mapping)
    if isinstance(data, dict):
        return {key: _walk(value, mapping) for key, value in data.items()}
    if isinstance(data, list | tuple):
        # chaoslib flattens nested sequences here (a bug); nested lists are kept as lists.
        return [_walk(value, mapping) for value in data]
    return data


def convert(kind: str | None, value: Any) -> Any:
    """chaoslib's env_var_type conversion."""
    if kind is None or kind in ("str", "string"):
        return value
    try:
        if kind in ("int", "integer"):
            return int(value)
        if kind in ("float", "number"):
            return float(value)
        if kind == "bytes":
            return value.encode("utf-8")
        if kind == "bool":
            return (
                value if isinstance(value, bool) else str(value).lower() not in ("false", "0", "no")
            )
        if kind == "json":
            return json.loads(value) if isinstance(value, str) and value else value
    except (ValueError, json.JSONDecodeError) as exc:
        raise InvalidRun(f"cannot convert {value!r} to {kind}: {exc}") from None
    raise InvalidRun(
        f"variable type can only be: bool, str, int, float, bytes or json (got {kind!r})"
    )


def load_configuration(
    raw: Mapping[str, Any], environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Resolve `env` entries; `overrides` (--var) win and may add keys, as in chaoslib."""
    overrides = dict(overrides or {})
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in overrides:
            out[key] = overrides[key]
        elif isinstance(value, dict) and value.get("type") == "env":
            env_key = value["key"]
            if env_key not in environ and value.get("default") is None:
                raise InvalidRun(
                    f"configuration {key!r} reads environment variable {env_key} which is not set "
                    "and has no default"
                )
            out[key] = convert(
                value.get("env_var_type"), environ.get(env_key, value.get("default"))
            )
        else:
            out[key] = value
    for key, value in overrides.items():
        out.setdefault(key, value)
    return out


def load_secrets(
    raw: Mapping[str, Mapping[str, Any]],
    environ: Mapping[str, str],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for scope, entries in raw.items():
        resolved: dict[str, Any] = {}
        for key, value in entries.items():
            if isinstance(value, dict) and value.get("type") == "env":
                env_key = value["key"]
                if env_key not in environ and value.get("default") is None:
                    raise InvalidRun(
                        f"secret {scope}.{key} reads environment variable {env_key}, which is unset"
                    )
                resolved[key] = environ.get(env_key, value.get("default"))
            else:
                resolved[key] = value
        out[scope] = resolved
    for scope, entries in (overrides or {}).items():
        out.setdefault(scope, {}).update(entries)
    return out
