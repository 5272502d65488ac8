"""PATCH bodies: JSON merge patch (RFC 7386), strategic merge (for the fields used), JSON patch."""

from __future__ import annotations

import copy
from typing import Any

from daemon.simulator.errors import ApiError

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"

# Lists merged by a key under strategic merge patch (the ones pods and workloads use).
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "conditions": "type",
    "ownerReferences": "uid",
    "tolerations": "key",
    "imagePullSecrets": "name",
}


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# Where the same field name has another merge key (Kubernetes' patchMergeKey tags).
_MERGE_KEYS_UNDER = {("spec", "ports"): "port", ("subsets", "ports"): ""}
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _merge_key(parent: str, field: str) -> str:
    if (parent, field) in _MERGE_KEYS_UNDER and parent not in _CONTAINER_LISTS:
        return _MERGE_KEYS_UNDER[(parent, field)]
    return _MERGE_KEYS.get(field, "")


def _go_map(item: dict[str, Any]) -> str:
    """How Go prints a map in the merge-key error (sorted keys)."""
    return "map[" + " ".join(f"{k}:{item[k]}" for k in sorted(item)) + "]"


def strategic_merge_patch(target: Any, patch: Any, field: str = "", parent: str = "") -> Any:
    key = _merge_key(parent, field) if isinstance(patch, list) else ""
    if key and isinstance(target, list):
        result = [copy.deepcopy(item) for item in target]
        for item in patch:
            if not isinstance(item, dict):
                return copy.deepcopy(patch)
            if key not in item:
                # The real server's error, a plain error, hence 500 with no reason.
                raise ApiError(
                    500, "", f"map: {_go_map(item)} does not contain declared merge key: {key}"
                )
            if item.get("$patch") == "delete":
                result = [r for r in result if r.get(key) != item.get(key)]
                continue
            for index, existing in enumerate(result):
                if isinstance(existing, dict) and existing.get(key) == item.get(key):
                    result[index] = strategic_merge_patch(existing, item)
                    break
            else:
                result.append(copy.deepcopy(item))
        return result
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    merged: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = strategic_merge_patch(merged.get(key), value, key, field)
    return merged


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ApiError.bad_request(f"the json patch path {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(target: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise ApiError.bad_request("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError.bad_request(f"invalid json patch operation: {op!r}")
        parts = _pointer(op["path"])
        kind = op["op"]
        if kind in ("add", "replace", "test"):
            doc = _apply(doc, parts, kind, op.get("value"))
        elif kind == "remove":
            doc = _apply(doc, parts, "remove", None)
        else:
            raise ApiError.bad_request(f"json patch operation {kind!r} is not supported")
    return doc


def _apply(doc: Any, parts: list[str], kind: str, value: Any) -> Any:
    if not parts:
        return copy.deepcopy(value)
    parent: Any = doc
    for part in parts[:-1]:
        try:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        except (KeyError, IndexError, ValueError):
            raise ApiError(422, "Invalid", f"doc is missing path: /{'/'.join(parts)}") from None
    last = parts[-1]
    try:
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if kind == "add":
                parent.insert(index, copy.deepcopy(value))
            elif kind == "remove":
                parent.pop(index)
            elif kind == "replace":
                parent[index] = copy.deepcopy(value)
            elif parent[index] != value:
                raise ApiError(422, "Invalid", f"testing value /{'/'.join(parts)} failed")
        else:
            if kind in ("remove", "replace") and last not in parent:
                raise ApiError(422, "Invalid", f"doc is missing key: /{'/'.join(parts)}")
            if kind == "remove":
                del parent[last]
            elif kind == "test":
                if parent.get(last) != value:
                    raise ApiError(422, "Invalid", f"testing value /{'/'.join(parts)} failed")
            else:
                parent[last] = copy.deepcopy(value)
    except (IndexError, ValueError, TypeError):
        raise ApiError(422, "Invalid", f"unable to apply patch at /{'/'.join(parts)}") from None
    return doc


def apply_patch(content_type: str, target: dict[str, Any], body: Any) -> dict[str, Any]:
    media = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media == MERGE:
        result = merge_patch(target, body)
    elif media == STRATEGIC:
        result = strategic_merge_patch(target, body)
    elif media == JSON_PATCH:
        result = json_patch(target, body)
    else:
        raise ApiError.unsupported_media_type(media)
    if not isinstance(result, dict):
        raise ApiError.bad_request("patch result is not an object")
    return result
