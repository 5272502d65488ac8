"""OpenAPI for the served kinds (`/openapi/v2`, `/openapi/v3`), and strict field validation.

kubectl validates `apply -f`, `create -f` and `replace -f` by default: it reads
`/openapi/v3`, finds that PATCH of the kind accepts the `fieldValidation` parameter, and then
leaves the checking to the server (`fieldValidation=Strict`: unknown fields are a 400). So the
simulator publishes the published Kubernetes 1.31 schemas of the kinds it serves (extracted
once from the `kubernetes-validate` package into `openapi_schemas.json`, without
descriptions; `python -m daemon.simulator.openapi` regenerates it) and checks unknown fields
against them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from daemon.simulator.resources import RESOURCES, Resource

SCHEMAS = Path(__file__).with_name("openapi_schemas.json")
KUBERNETES_VERSION = "v1.31.0"
_REF_V2 = "#/definitions/"
_REF_V3 = "#/components/schemas/"


# ------------------------------------------------------------------ extraction (dev time)


def _convert(node: Any) -> Any:
    """kubernetes-validate's JSON Schema back to OpenAPI: single types, refs, no prose."""
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "oneOf" in node and all(
        isinstance(o, dict) and set(o) == {"type"} for o in node["oneOf"]
    ):  # IntOrString and Quantity
        return {"type": "string", "format": "int-or-string", "x-kubernetes-int-or-string": True}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("description", "$schema", "enum"):
            continue
        if key == "type" and isinstance(value, list):
            kinds = [t for t in value if t != "null"]
            if kinds:
                out["type"] = kinds[0]
            continue
        if key == "$ref":
            out["$ref"] = _REF_V2 + str(value).rsplit("/", 1)[-1]
            continue
        if key == "properties":
            out[key] = {name: _convert(schema) for name, schema in value.items()}
            continue
        out[key] = _convert(value)
    return out


def _kind_names(definitions: dict[str, Any]) -> dict[str, str]:
    """(apiVersion, kind) of each served resource -> its definition name."""
    wanted = {(r.group, r.version, r.kind) for r in RESOURCES}
    found: dict[str, str] = {}
    for name, schema in definitions.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
            if key in wanted:
                found["/".join(key)] = name
    return found


def extract(source: Path) -> dict[str, Any]:
    """The served kinds' definitions and everything they reference."""
    definitions = json.loads(source.read_text())["$defs"]
    roots = _kind_names(definitions)
    extra = ("io.k8s.apimachinery.pkg.apis.meta.v1.Status",)
    keep: dict[str, Any] = {}
    pending = [*roots.values(), *extra]
    while pending:
        name = pending.pop()
        if name in keep or name not in definitions:
            continue
        keep[name] = _convert(definitions[name])
        text = json.dumps(keep[name])
        pending += [part.split('"', 1)[0] for part in text.split(_REF_V2)[1:]]
    return {
        "source": f"kubernetes-validate {source.parent.name}",
        "kinds": dict(sorted(roots.items())),
        "definitions": dict(sorted(keep.items())),
    }


def _source_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or spec.origin is None:
        raise SystemExit("kubernetes-validate is not installed (it is in the test group)")
    return (
        Path(spec.origin).parent
        / "kubernetes-json-schema"
        / f"{KUBERNETES_VERSION}-local"
        / "_definitions.json"
    )


def regenerate() -> str:
    return json.dumps(extract(_source_dir()), indent=None, separators=(",", ":"), sort_keys=True)


# ------------------------------------------------------------------ serving


@functools.cache
def _schemas() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(SCHEMAS.read_text())
    return result


def definition_for(resource: Resource) -> str | None:
    key = f"{resource.group}/{resource.version}/{resource.kind}"
    name: str | None = _schemas()["kinds"].get(key)
    return name


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _operations(resource: Resource, ref: str) -> dict[str, Any]:
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    query = [
        {"name": "dryRun", "in": "query", "schema": {"type": "string"}, "type": "string"},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}, "type": "string"},
    ]
    body = {"$ref": ref}

    def operation(verb: str, action: str, **extra: Any) -> dict[str, Any]:
        return {
            "operationId": f"{verb}{resource.kind}",
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk,
            "parameters": query,
            "responses": {"200": {"description": "OK", "schema": body}},
            **extra,
        }

    base = "/" + _gv_path(resource.group, resource.version)
    scope = "/namespaces/{namespace}" if resource.namespaced else ""
    collection = f"{base}{scope}/{resource.plural}"
    item: dict[str, Any] = {
        "get": operation("read", "get"),
        "delete": operation("delete", "delete"),
    }
    if "update" in resource.verbs:
        item["put"] = operation("replace", "put")
    if "patch" in resource.verbs:
        # No requestBody: kubectl then computes strategic merge patches from its built-in
        # types, which carry the same patch keys.
        item["patch"] = operation("patch", "patch")
    paths: dict[str, Any] = {collection: {"post": operation("create", "post")}}
    if resource.verbs != ("create",):
        paths[collection]["get"] = operation("list", "list")
        paths[f"{collection}/{{name}}"] = item
    return paths


def _documents(group: str, version: str) -> tuple[dict[str, Any], dict[str, Any]]:
    paths: dict[str, Any] = {}
    for resource in RESOURCES:
        if (resource.group, resource.version) != (group, version):
            continue
        name = definition_for(resource)
        if name is not None:
            paths.update(_operations(resource, _REF_V2 + name))
    return paths, _schemas()["definitions"]


def v2() -> dict[str, Any]:
    """The Swagger 2.0 document of every served kind (JSON; kubectl asks for protobuf)."""
    paths: dict[str, Any] = {}
    groups = sorted({(r.group, r.version) for r in RESOURCES})
    for group, version in groups:
        paths.update(_documents(group, version)[0])
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "definitions": _schemas()["definitions"],
    }


@functools.cache
def _v3_text(group: str, version: str) -> str:
    paths, definitions = _documents(group, version)
    document = {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": definitions},
    }
    return json.dumps(document, separators=(",", ":")).replace(_REF_V2, _REF_V3)


def v3_document(group: str, version: str) -> str | None:
    """`/openapi/v3/apis/{group}/{version}` as JSON text, or None when not served."""
    if not any((r.group, r.version) == (group, version) for r in RESOURCES):
        return None
    return _v3_text(group, version)


def v3_root() -> dict[str, Any]:
    """`/openapi/v3`: one entry per group-version, with the hash clients cache by."""
    paths = {}
    for group, version in sorted({(r.group, r.version) for r in RESOURCES}):
        text = _v3_text(group, version)
        digest = hashlib.sha512(text.encode()).hexdigest()[:128].upper()
        path = _gv_path(group, version)
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


# ------------------------------------------------------------------ fieldValidation=Strict


def unknown_fields(resource: Resource, obj: Any) -> list[str]:
    """Field paths in `obj` that the kind's schema does not declare (kubectl's strict check)."""
    name = definition_for(resource)
    if name is None:
        return []
    found: list[str] = []
    _walk(_schemas()["definitions"], {"$ref": _REF_V2 + name}, obj, "", found)
    return found


def _walk(
    defs: dict[str, Any], schema: dict[str, Any], value: Any, path: str, out: list[str]
) -> None:
    while "$ref" in schema:
        schema = defs.get(schema["$ref"][len(_REF_V2) :], {})
    if schema.get("x-kubernetes-preserve-unknown-fields") or value is None:
        return
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            here = f"{path}.{key}" if path else key
            if properties is not None and key in properties:
                _walk(defs, properties[key], item, here, out)
            elif isinstance(extra, dict):
                _walk(defs, extra, item, here, out)
            elif properties is not None:
                out.append(here)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _walk(defs, schema["items"], item, f"{path}[{index}]", out)


# ------------------------------------------------------------------ decoding types


def type_error(resource: Resource, obj: Any) -> str | None:
    """Go's JSON decoding error for the first value of the wrong type in `obj`, or None.

    The API server decodes into Go structs before anything else, so a number where a
    string belongs is a 400 naming the struct field (`Container.spec.containers.name`).
    """
    name = definition_for(resource)
    if name is None:
        return None
    return _types(_schemas()["definitions"], {"$ref": _REF_V2 + name}, obj, [], name)


def _go_value(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _go_type(defs: dict[str, Any], schema: dict[str, Any], ref: str) -> str:
    if "$ref" in schema:
        ref = schema["$ref"][len(_REF_V2) :]
        schema = defs.get(ref, {})
    kind = schema.get("type")
    if kind == "string":
        return "string"
    if kind == "integer":
        return str(schema.get("format") or "int64")
    if kind == "number":
        return "float64"
    if kind == "boolean":
        return "bool"
    if kind == "array":
        return "[]" + _go_type(defs, schema.get("items") or {}, ref)
    if isinstance(schema.get("additionalProperties"), dict) and "properties" not in schema:
        return "map[string]" + _go_type(defs, schema["additionalProperties"], ref)
    return ".".join(ref.rsplit(".", 2)[-2:])


def _types(
    defs: dict[str, Any], schema: dict[str, Any], value: Any, path: list[str], struct: str
) -> str | None:
    expected = _go_type(defs, schema, struct)
    owner = struct.rsplit(".", 1)[-1]  # the struct holding this field, as Go names it
    while "$ref" in schema:
        struct = schema["$ref"][len(_REF_V2) :]
        schema = defs.get(struct, {})
    if value is None or schema.get("x-kubernetes-int-or-string") or not schema.get("type"):
        return None
    kind = schema["type"]
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "object": isinstance(value, dict),
    }.get(kind, True)
    if not ok:
        field = ".".join(path)
        where = f"Go struct field {owner}.{field}" if field else "Go value"
        return f"json: cannot unmarshal {_go_value(value)} into {where} of type {expected}"
    if kind == "array":
        for item in value:
            found = _types(defs, schema.get("items") or {}, item, path, struct)
            if found:
                return found
    elif kind == "object":
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                found = _types(defs, properties[key], item, [*path, key], struct)
            elif isinstance(extra, dict):
                found = _types(defs, extra, item, path, struct)
            else:
                found = None
            if found:
                return found
    return None


if __name__ == "__main__":
    SCHEMAS.write_text(regenerate() + "\n")
    sys.stdout.write(f"wrote {SCHEMAS} ({SCHEMAS.stat().st_size} bytes)\n")
