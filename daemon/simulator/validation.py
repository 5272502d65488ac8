"""Admission checks a real API server makes before storing, in its words and field paths.

Two kinds of refusal, as in the API server: a value of the wrong Go type cannot even be
decoded (400 BadRequest, "cannot be handled as a ..."), and a decoded object that breaks a
rule is 422 Invalid with one cause per field (`spec.containers[0].name: Required value`).
Only what controllers and clients rely on is checked; the rest is stored as given.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from daemon.simulator.errors import ApiError

Obj = dict[str, Any]
FieldError = tuple[str, str, str]  # field path, reason (FieldValueRequired ...), message
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
_LABEL_TEXT = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
EVENT_TYPES = ("Normal", "Warning")


def required(path: str) -> FieldError:
    return (path, "FieldValueRequired", f"{path}: Required value")


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string"


def _undecodable(kind: str, api_version: str, detail: str) -> ApiError:
    return ApiError.bad_request(
        f'{kind} in version "{api_version.rsplit("/", 1)[-1]}" cannot be handled as a {kind}: {detail}'
    )


# Decoding: a value of the wrong type answers 400.


def _decode_configmap(obj: Obj) -> None:
    for field in ("data", "binaryData"):
        values = obj.get(field)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise _undecodable(
                "ConfigMap",
                "v1",
                f"json: cannot unmarshal {_go_type(values)} into Go struct field "
                f"ConfigMap.{field} of type map[string]string",
            )
        for value in values.values():
            if not isinstance(value, str):
                raise _undecodable(
                    "ConfigMap",
                    "v1",
                    f"json: cannot unmarshal {_go_type(value)} into Go struct field "
                    f"ConfigMap.{field} of type string",
                )


def _decode_lease(obj: Obj) -> None:
    spec = obj.get("spec") or {}
    for field in ("acquireTime", "renewTime"):
        value = spec.get(field)
        if value is None:
            continue
        if not isinstance(value, str) or not _MICRO.match(value):
            raise _undecodable(
                "Lease",
                "coordination.k8s.io/v1",
                f'parsing time "{value}" as "2006-01-02T15:04:05.000000Z07:00": '
                f'cannot parse "{value}" as "2006"',
            )
    for field in ("leaseDurationSeconds", "leaseTransitions"):
        value = spec.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise _undecodable(
                "Lease",
                "coordination.k8s.io/v1",
                f"json: cannot unmarshal {_go_type(value)} into Go struct field "
                f"LeaseSpec.spec.{field} of type int32",
            )


DECODERS: dict[str, Callable[[Obj], None]] = {
    "ConfigMap": _decode_configmap,
    "Lease": _decode_lease,
}


# Validation: a rule broken answers 422 with its field path.


def pod_spec_errors(spec: Any, path: str) -> list[FieldError]:
    if not isinstance(spec, dict) or not spec.get("containers"):
        return [required(f"{path}.containers")]
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, container in enumerate(spec["containers"]):
        here = f"{path}.containers[{index}]"
        if not isinstance(container, dict):
            errors.append((here, "FieldValueInvalid", f"{here}: Invalid value: must be an object"))
            continue
        name = container.get("name")
        if not name:
            errors.append(required(f"{here}.name"))
        elif not isinstance(name, str) or len(name) > 63 or not _LABEL.match(name):
            errors.append(
                (
                    f"{here}.name",
                    "FieldValueInvalid",
                    f'{here}.name: Invalid value: "{name}": {_LABEL_TEXT}',
                )
            )
        elif name in seen:
            errors.append(
                (f"{here}.name", "FieldValueDuplicate", f'{here}.name: Duplicate value: "{name}"')
            )
        else:
            seen.add(name)
        if not container.get("image"):
            errors.append(required(f"{here}.image"))
    return errors


def _pod(obj: Obj) -> list[FieldError]:
    return pod_spec_errors(obj.get("spec"), "spec")


def _workload(obj: Obj) -> list[FieldError]:
    template = (obj.get("spec") or {}).get("template") or {}
    return pod_spec_errors(template.get("spec"), "spec.template.spec")


def _type_errors(value: Any) -> list[FieldError]:
    if value in EVENT_TYPES:
        return []
    return [
        (
            "type",
            "FieldValueNotSupported",
            f'type: Unsupported value: "{value or ""}": supported values: "Normal", "Warning"',
        )
    ]


def _core_event(obj: Obj) -> list[FieldError]:
    return _type_errors(obj["type"]) if obj.get("type") else []


def events_v1_errors(obj: Obj) -> list[FieldError]:
    """events.k8s.io/v1 requires what the new event recorder always sets."""
    errors: list[FieldError] = []
    if not obj.get("eventTime"):
        errors.append(required("eventTime"))
    errors += _type_errors(obj.get("type"))
    for field in ("reportingController", "reportingInstance", "action", "reason"):
        if not obj.get(field):
            errors.append(required(field))
    return errors


VALIDATORS: dict[str, Callable[[Obj], list[FieldError]]] = {
    "Pod": _pod,
    "Deployment": _workload,
    "ReplicaSet": _workload,
    "StatefulSet": _workload,
    "DaemonSet": _workload,
    "Event": _core_event,
}


def check(kind: str, group: str, obj: Obj) -> None:
    """Raise the API server's 400 or 422 for `obj` of `kind`, or return."""
    decoder = DECODERS.get(kind)
    if decoder is not None:
        decoder(obj)
    validator = VALIDATORS.get(kind)
    errors = validator(obj) if validator is not None else []
    if errors:
        raise invalid(kind, group, obj, errors)


def invalid(kind: str, group: str, obj: Obj, errors: list[FieldError]) -> ApiError:
    metadata = obj.get("metadata") or {}
    name = metadata.get("name") or metadata.get("generateName") or ""
    qualified = f"{kind}.{group}" if group else kind
    messages = [message for _, _, message in errors]
    text = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    details: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "causes": [
            {"reason": reason, "message": message.split(": ", 1)[1], "field": path}
            for path, reason, message in errors
        ],
    }
    if group:
        details["group"] = group
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details)
