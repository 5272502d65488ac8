"""Field selectors, with the fields each resource really supports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from daemon.simulator.errors import ApiError

Getter = Callable[[dict[str, Any]], Any]


def _path(*keys: str) -> Getter:
    def get(obj: dict[str, Any]) -> Any:
        node: Any = obj
        for key in keys:
            if not isinstance(node, dict):
                return ""
            node = node.get(key)
        return "" if node is None else node

    return get


_COMMON: dict[str, Getter] = {
    "metadata.name": _path("metadata", "name"),
    "metadata.namespace": _path("metadata", "namespace"),
}
_EVENT_FIELDS = {
    f"involvedObject.{k}": _path("involvedObject", k)
    for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
}
_EVENT_FIELDS.update(
    {
        "reason": _path("reason"),
        "reportingComponent": _path("reportingComponent"),
        "source": _path("source", "component"),
        "type": _path("type"),
    }
)
FIELDS: dict[str, dict[str, Getter]] = {
    "pods": {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    "events": _EVENT_FIELDS,
    "nodes": {
        "spec.unschedulable": lambda o: str(bool(o.get("spec", {}).get("unschedulable"))).lower()
    },
    "namespaces": {"status.phase": _path("status", "phase")},
    "secrets": {"type": _path("type")},
    "replicasets.apps": {"status.replicas": _path("status", "replicas")},
}


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    equal: bool
    value: str
    getter: Getter

    def matches(self, obj: dict[str, Any]) -> bool:
        return (str(self.getter(obj)) == self.value) == self.equal


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: dict[str, Any]) -> bool:
        return all(r.matches(obj) for r in self.requirements)

    def name(self) -> str | None:
        """`metadata.name=x` lets the server answer from one key."""
        for r in self.requirements:
            if r.field == "metadata.name" and r.equal:
                return r.value
        return None


def parse_field_selector(text: str | None, storage_key: str, kind: str) -> FieldSelector:
    if not text or not text.strip():
        return FieldSelector()
    supported = {**_COMMON, **FIELDS.get(storage_key, {})}
    requirements = []
    for raw in text.split(","):
        term = raw.strip()
        if not term:
            continue  # the real parser skips empty terms: `metadata.name=x,` is valid
        if "!=" in term:
            field, _, value = term.partition("!=")
            equal = False
        elif "==" in term:
            field, _, value = term.partition("==")
            equal = True
        elif "=" in term:
            field, _, value = term.partition("=")
            equal = True
        else:
            raise ApiError.bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field = field.strip()
        if field not in supported:
            raise ApiError.bad_request(f"field label not supported: {field}")
        requirements.append(FieldRequirement(field, equal, value.strip(), supported[field]))
    del kind
    return FieldSelector(tuple(requirements))
