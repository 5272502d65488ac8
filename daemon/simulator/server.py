"""The HTTP face of the simulated cluster: the Kubernetes REST API plus `/sim/v1` controls."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import queue
import re
import socket
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import ValidationError

from daemon.labels import SelectorError, parse_selector
from daemon.simulator import events as event_views
from daemon.simulator import openapi, tables, validation
from daemon.simulator import patch as patching
from daemon.simulator.cluster import PODS, Cluster, UserInfo
from daemon.simulator.cluster_file import Faults
from daemon.simulator.defaults import apply_defaults
from daemon.simulator.errors import ApiError
from daemon.simulator.faults import DropConnection, FaultState, Stats
from daemon.simulator.fields import parse_field_selector
from daemon.simulator.rbac import Attributes, authorize, forbidden_message
from daemon.simulator.resources import BY_PATH, Resource, group_versions, resource_list
from daemon.simulator.store import Event, Obj, Watcher, now_rfc3339
from daemon.simulator.timeline import peak

MAX_BODY = 3 * 1024 * 1024  # the API server's request size limit
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
VERSION = {
    "major": "1",
    "minor": "31",
    "gitVersion": "v1.31.0-aftershock-sim",
    "gitCommit": "sim",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.22",
    "compiler": "gc",
    "platform": "linux/amd64",
}
_STATUS_SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}


@dataclass
class Route:
    resource: Resource
    namespace: str
    name: str
    subresource: str
    verb: str

    @property
    def storage(self) -> str:
        return self.resource.storage or self.resource.key


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], cluster: Cluster, faults: FaultState, stats: Stats
    ):
        self.cluster = cluster
        self.faults = faults
        self.stats = stats
        self.service_urls: dict[str, str] = {}
        super().__init__(address, Handler)


def _single(query: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[-1] for k, v in query.items()}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, the body waits for the
    # client's delayed ACK (~40 ms). Go's net/http (the real API server) sets TCP_NODELAY.
    disable_nagle_algorithm = True
    server: SimServer
    server_version = "aftershock-sim"
    _user: UserInfo

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ARG002 - stdlib signature; silence access logs
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # ------------------------------------------------------------------ plumbing

    def _handle(self, method: str) -> None:
        started = time.perf_counter()
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        query = _single(parse_qs(parts.query, keep_blank_values=True))
        verb, label = method.lower(), path
        code = 500
        size = 0
        try:
            body = self._body()
            if path.startswith("/sim/"):
                code, size = self._sim(method, path, query, body)
                return
            route = self._route(method, path, query)
            if route is not None:
                verb = route.verb
                label = route.resource.key + (f"/{route.subresource}" if route.subresource else "")
            latency, error = self.server.faults.verdict(
                verb, label, route.namespace if route else "", body
            )
            if latency:
                time.sleep(latency)
            if error is not None:
                raise error  # noqa: TRY301 - one exit path for every API error
            user = self._user = self._authenticate()
            if route is None:
                code, size = self._non_resource(path, user)
                return
            self._authorize(user, route)
            code, size = self._dispatch(route, query, body)
        except DropConnection:
            code = 0
            self._drop()
        except ApiError as exc:
            code = exc.code
            size = self._json(exc.code, exc.status(), exc.headers)
        except (BrokenPipeError, ConnectionResetError):
            code = 499
        except Exception as exc:  # noqa: BLE001 - the server answers 500, like a real one
            code = 500
            size = self._json(
                500, ApiError(500, "InternalError", f"Internal error occurred: {exc}").status()
            )
        finally:
            self.server.stats.record(verb, label, code, size, time.perf_counter() - started)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ApiError(
                413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728"
            )
        if not length:
            return None
        raw = self.rfile.read(length)
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError.bad_request(
                f"the body of the request could not be decoded as JSON: {exc}"
            ) from None

    def _json(self, code: int, obj: Any, headers: dict[str, str] | None = None) -> int:
        data = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        return len(data)

    def _text(self, code: int, text: str) -> int:
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return len(data)

    def _authenticate(self) -> UserInfo:
        header = self.headers.get("Authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        user = self.server.cluster.user_for_token(token)
        if user is None:
            raise ApiError.unauthorized()
        return user

    def _authorize(self, user: UserInfo, route: Route) -> None:
        if not self.server.cluster.spec.rbac.enforce:
            return
        attrs = Attributes(
            verb=route.verb,
            group=route.resource.group,
            resource=route.resource.plural,
            subresource=route.subresource,
            namespace=route.namespace,
            name=route.name,
        )
        allowed, _ = authorize(self.server.cluster.store, user, attrs)
        if not allowed:
            raise ApiError.forbidden(
                forbidden_message(user, attrs),
                route.name,
                route.resource.plural,
                route.resource.group,
            )

    # ------------------------------------------------------------------ routing

    def _route(self, method: str, path: str, query: dict[str, str]) -> Route | None:
        segments = [s for s in path.split("/") if s]
        if len(segments) >= 2 and segments[0] == "api":
            group, version, rest = "", segments[1], segments[2:]
        elif len(segments) >= 3 and segments[0] == "apis":
            group, version, rest = segments[1], segments[2], segments[3:]
        else:
            return None
        if not rest:
            return None
        namespace = ""
        if (
            rest[0] == "namespaces"
            and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))
        ):
            namespace, rest = rest[1], rest[2:]
        plural, name, sub = (
            rest[0],
            rest[1] if len(rest) > 1 else "",
            rest[2] if len(rest) > 2 else "",
        )
        if len(rest) > 3:
            raise ApiError.not_found("", path)
        resource = BY_PATH.get((group, version, plural))
        if resource is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if sub and sub not in resource.subresources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        if namespace and not resource.namespaced:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        collection = not name
        watch = query.get("watch") in ("true", "1")
        verb = {
            "GET": "watch" if watch else ("list" if collection else "get"),
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "deletecollection" if collection else "delete",
        }[method]
        if sub in ("eviction", "token") and method == "POST":
            verb = "create"
        if sub == "log":
            verb = "get"
        return Route(resource, namespace, name, sub, verb)

    def _non_resource(self, path: str, user: UserInfo) -> tuple[int, int]:
        if self.server.cluster.spec.rbac.enforce:
            attrs = Attributes(verb=self.command.lower(), path=path)
            allowed, _ = authorize(self.server.cluster.store, user, attrs)
            if not allowed:
                raise ApiError.forbidden(forbidden_message(user, attrs), "", "")
        if path in ("/healthz", "/readyz", "/livez"):
            return 200, self._text(200, "ok")
        if path == "/version":
            return 200, self._json(200, VERSION)
        if path.startswith("/openapi/"):
            return self._openapi(path)
        if path == "/api":
            host, port = self.server.server_address[:2]
            host = host.decode() if isinstance(host, bytes) else host
            return 200, self._json(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{host}:{port}"}
                    ],
                },
            )
        if path == "/apis":
            groups = [_api_group(name, versions) for name, versions in group_versions().items()]
            return 200, self._json(
                200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
            )
        segments = [s for s in path.split("/") if s]
        if len(segments) == 2 and segments[0] == "apis" and segments[1] in group_versions():
            group = _api_group(segments[1], group_versions()[segments[1]])
            return 200, self._json(200, {"kind": "APIGroup", "apiVersion": "v1", **group})
        listing = None
        if len(segments) == 2 and segments[0] == "api":
            listing = resource_list("", segments[1])
        elif len(segments) == 3 and segments[0] == "apis":
            listing = resource_list(segments[1], segments[2])
        if listing is not None:
            return 200, self._json(200, listing)
        raise ApiError(404, "NotFound", "the server could not find the requested resource", {})

    def _openapi(self, path: str) -> tuple[int, int]:
        accept = self.headers.get("Accept", "") or "*/*"
        if "json" not in accept and "*/*" not in accept:
            raise ApiError(
                406,
                "NotAcceptable",
                "only the following media types are accepted: application/json",
                {},
            )
        if path == "/openapi/v2":
            return 200, self._json(200, openapi.v2())
        if path == "/openapi/v3":
            return 200, self._json(200, openapi.v3_root())
        segments = [s for s in path.split("/") if s][2:]
        text = None
        if len(segments) == 2 and segments[0] == "api":
            text = openapi.v3_document("", segments[1])
        elif len(segments) == 3 and segments[0] == "apis":
            text = openapi.v3_document(segments[1], segments[2])
        if text is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource", {})
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "public, immutable")
        self.end_headers()
        self.wfile.write(data)
        return 200, len(data)

    def _decode(self, res: Resource, obj: Any, query: dict[str, str]) -> None:
        """Decoding as into Go structs: a value of the wrong type is a 400, and with
        `fieldValidation=Strict` (kubectl's default) so is an unknown field."""
        problem = openapi.type_error(res, obj)
        if problem is None and query.get("fieldValidation") == "Strict":
            unknown = openapi.unknown_fields(res, obj)
            if unknown:
                listed = ", ".join(f'unknown field "{field}"' for field in unknown)
                problem = f"strict decoding error: {listed}"
        if problem is not None:
            raise ApiError.bad_request(
                f'{res.kind} in version "{res.version}" cannot be handled as a {res.kind}: '
                f"{problem}"
            )

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self, route: Route, query: dict[str, str], body: Any) -> tuple[int, int]:
        cluster = self.server.cluster
        store = cluster.store
        res = route.resource
        if res.plural == "tokenreviews":
            return 201, self._json(201, self._token_review(body))
        if res.plural == "subjectaccessreviews":
            return 201, self._json(201, self._access_review(body))
        if res.plural == "selfsubjectaccessreviews":
            return 201, self._json(201, self._self_access_review(body))
        if res.plural == "selfsubjectreviews":
            return 201, self._json(201, self._self_review())
        if (
            route.namespace
            and res.namespaced
            and store.get("namespaces", None, route.namespace) is None
            and route.verb == "create"
        ):
            raise ApiError.not_found("namespaces", route.namespace)
        if route.verb == "watch":
            return 200, self._watch(route, query)
        table = tables.wants_table(self.headers.get("Accept", ""))
        if route.verb == "list":
            listing = self._list(route, query)
            if table:
                listing = tables.to_table(
                    route.storage,
                    listing["items"],
                    listing["metadata"],
                    query.get("includeObject", "Metadata"),
                )
            return 200, self._json(200, listing)
        if route.subresource == "log":
            return 200, self._text(200, self._logs(route, query))
        if route.subresource == "eviction":
            return self._evict(route, query, body)
        if route.subresource == "token":
            return self._token_request(route, body)
        if route.subresource == "scale":
            return self._scale(route, body, _dry_run(query))
        if route.verb == "get":
            obj = self._view(res, self._get(route))
            if table:
                obj = tables.to_table(
                    route.storage,
                    [obj],
                    {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                    query.get("includeObject", "Metadata"),
                )
            return 200, self._json(200, obj)
        if route.verb == "create":
            return 201, self._json(201, self._view(res, self._create(route, body, query)))
        if route.verb in ("update", "patch"):
            return 200, self._json(200, self._view(res, self._write(route, body, query)))
        if route.verb == "delete":
            return self._delete(route, query, body)
        if route.verb == "deletecollection":
            return self._delete_collection(route, query)
        raise ApiError.method_not_allowed()

    def _view(self, res: Resource, obj: Obj) -> Obj:
        return event_views.to_events_v1(obj) if res.storage == "events" and res.group else obj

    def _get(self, route: Route) -> Obj:
        with self.server.cluster.store.lock:
            obj = self.server.cluster.store.get(route.storage, route.namespace, route.name)
        if obj is None:
            raise ApiError.not_found(route.resource.group_resource, route.name)
        return obj

    def _selectors(self, route: Route, query: dict[str, str]) -> tuple[Any, Any]:
        try:
            labels = parse_selector(query.get("labelSelector"))
        except SelectorError as exc:
            raise ApiError.bad_request(str(exc)) from None
        fields = parse_field_selector(
            query.get("fieldSelector"), route.storage, route.resource.kind
        )
        return labels, fields

    def _list(self, route: Route, query: dict[str, str]) -> Obj:
        store = self.server.cluster.store
        labels, fields = self._selectors(route, query)
        limit = int(query.get("limit") or 0)
        token = query.get("continue")
        with store.lock:
            list_rv = store.rv
            name = fields.name()
            exact = query.get("resourceVersionMatch") == "Exact"
            if exact:
                try:
                    list_rv = int(query.get("resourceVersion") or "")
                except ValueError:
                    raise ApiError.bad_request(
                        "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden "
                        "unless resourceVersion is provided"
                    ) from None
                pool = store.snapshot(route.storage, route.namespace or None, list_rv)
            elif name is not None and route.namespace:
                candidate = store.get(route.storage, route.namespace, name)
                pool = [candidate] if candidate is not None else []
            else:
                pool = store.items(route.storage, route.namespace or None)
            start_after = ""
            if token:
                try:
                    decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
                    token_rv, start_after = int(decoded["rv"]), str(decoded["start"])
                except (ValueError, KeyError, TypeError):
                    raise ApiError.bad_request(
                        "continue key is not valid: illegal base64 data"
                    ) from None
                if token_rv < store.oldest_replayable(route.storage):
                    raise ApiError.expired(
                        "The provided continue parameter is too old to display a consistent list result. "
                        "You can start a new list without the continue parameter, or use the continue token "
                        "in this response to retrieve the remainder of the results. Continuing with the "
                        "provided token results in an inconsistent list - objects that were created, modified, "
                        "or deleted between the time the first chunk was returned and now may show up in the list."
                    )
                list_rv = token_rv
            items: list[Obj] = []
            remaining = 0
            last_key = ""
            for obj in pool:
                key = f"{obj['metadata'].get('namespace', '')}/{obj['metadata']['name']}"
                if start_after and key <= start_after:
                    continue
                if not labels.matches(obj["metadata"].get("labels")) or not fields.matches(obj):
                    continue
                if limit and len(items) >= limit:
                    remaining += 1
                    continue
                items.append(self._view(route.resource, obj))
                last_key = key
        metadata: dict[str, Any] = {"resourceVersion": str(list_rv)}
        if remaining:
            metadata["continue"] = base64.urlsafe_b64encode(
                json.dumps({"rv": list_rv, "start": last_key}).encode()
            ).decode()
            metadata["remainingItemCount"] = remaining
        return {
            "kind": f"{route.resource.kind}List",
            "apiVersion": route.resource.api_version,
            "metadata": metadata,
            "items": items,
        }

    # ------------------------------------------------------------------ watch

    def _watch(self, route: Route, query: dict[str, str]) -> int:
        cluster = self.server.cluster
        store = cluster.store
        labels, fields = self._selectors(route, query)
        spec = cluster.spec.watch
        timeout = min(
            float(query.get("timeoutSeconds") or spec.max_timeout.total_seconds()),
            spec.max_timeout.total_seconds(),
        )
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        namespace = route.namespace or None

        def accepts(obj: Obj) -> bool:
            if namespace is not None and obj["metadata"].get("namespace") != namespace:
                return False
            return bool(labels.matches(obj["metadata"].get("labels")) and fields.matches(obj))

        watcher = Watcher(route.storage, accepts, namespace)
        rv_param = query.get("resourceVersion") or ""
        initial: list[dict[str, Any]] = []
        replay: list[Event] = []
        expired: ApiError | None = None
        with store.lock:
            if rv_param in ("", "0"):
                initial = [
                    {"type": "ADDED", "object": self._view(route.resource, o)}
                    for o in store.items(route.storage, namespace)
                    if accepts(o)
                ]
                replay = store.watch(watcher, None)
            else:
                try:
                    since = int(rv_param)
                except ValueError:
                    raise ApiError.bad_request(f'invalid resource version "{rv_param}"') from None
                try:
                    replay = store.watch(watcher, since)
                except ApiError as exc:
                    expired = exc
            generation = self.server.faults.watch_generation
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        sent = 0
        try:
            if expired is not None:
                sent += self._chunk({"type": "ERROR", "object": expired.status()})
                self._end_chunks()
                return sent
            for item in initial:
                sent += self._chunk(item)
            for past in replay:
                out = self._translate(route.resource, past, accepts)
                if out is not None:
                    sent += self._chunk(out)
            deadline = time.monotonic() + timeout
            max_duration = self.server.faults.faults.watch_max_duration
            if max_duration is not None:
                deadline = min(deadline, time.monotonic() + max_duration.total_seconds())
            interval = spec.bookmark_interval.total_seconds()
            next_bookmark = time.monotonic() + interval
            while True:
                now = time.monotonic()
                if now >= deadline:
                    break
                if (
                    self.server.faults.watch_generation != generation
                    or self.server.faults.in_outage()
                ):
                    self._drop()
                    return sent
                wait = min(deadline, next_bookmark if bookmarks else deadline, now + 0.25) - now
                try:
                    event = watcher.events.get(timeout=max(0.0, wait))
                except queue.Empty:
                    if bookmarks and time.monotonic() >= next_bookmark:
                        sent += self._chunk(
                            {
                                "type": "BOOKMARK",
                                "object": {
                                    "kind": route.resource.kind,
                                    "apiVersion": route.resource.api_version,
                                    "metadata": {"resourceVersion": str(store.rv)},
                                },
                            }
                        )
                        next_bookmark = time.monotonic() + interval
                    continue
                if event is None:  # the store closed this watcher
                    self._drop()
                    return sent
                out = self._translate(route.resource, event, accepts)
                if out is not None:
                    sent += self._chunk(out)
            self._end_chunks()
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
        finally:
            store.unwatch(watcher)
        return sent

    def _translate(self, res: Resource, event: Event, accepts: Any) -> dict[str, Any] | None:
        """Selector transitions become ADDED/DELETED, as the API server's watch cache does."""
        now_match = accepts(event.obj)
        if event.type == "ADDED":
            kind = "ADDED" if now_match else None
        elif event.type == "DELETED":
            kind = (
                "DELETED" if (event.old is not None and accepts(event.old)) or now_match else None
            )
        else:
            was = event.old is not None and accepts(event.old)
            kind = (
                "MODIFIED"
                if now_match and was
                else "ADDED"
                if now_match
                else "DELETED"
                if was
                else None
            )
        if kind is None:
            return None
        return {"type": kind, "object": self._view(res, event.obj)}

    def _chunk(self, payload: dict[str, Any]) -> int:
        data = json.dumps(payload, separators=(",", ":")).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()
        return len(data)

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # ------------------------------------------------------------------ writes

    def _prepare(self, route: Route, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise ApiError.bad_request("the request body must be a JSON object")
        res = route.resource
        obj = copy.deepcopy(body)
        if res.storage == "events" and res.group:
            obj = event_views.to_core(obj)
        else:
            obj.setdefault("kind", res.kind)
            obj.setdefault("apiVersion", res.api_version)
            if obj["kind"] != res.kind or obj["apiVersion"] != res.api_version:
                raise ApiError.bad_request(
                    f"the API version in the data ({obj['apiVersion']}) does not match the expected API version "
                    f"({res.api_version})"
                    if obj["apiVersion"] != res.api_version
                    else f"kind {obj['kind']} does not match {res.kind}"
                )
        metadata = obj.setdefault("metadata", {})
        if res.namespaced:
            body_ns = metadata.get("namespace")
            if body_ns and route.namespace and body_ns != route.namespace:
                raise ApiError.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            metadata["namespace"] = route.namespace or body_ns or "default"
        else:
            metadata.pop("namespace", None)
        name = metadata.get("name")
        if name and (len(name) > 253 or not _NAME.match(name)):
            raise ApiError.invalid(
                res.group_resource,
                name,
                f"metadata.name: Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            )
        return obj

    def _validate(self, res: Resource, obj: Obj) -> None:
        name = obj["metadata"].get("name") or obj["metadata"].get("generateName", "")
        spec = obj.get("spec") or {}
        validation.check(res.kind, res.group if not res.storage else "", obj)
        if res.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
            selector = spec.get("selector")
            if not selector:
                raise ApiError.invalid(res.group_resource, name, "spec.selector: Required value")
            template_labels = ((spec.get("template") or {}).get("metadata") or {}).get(
                "labels"
            ) or {}
            try:
                from daemon.labels import from_label_selector

                if not from_label_selector(selector).matches(template_labels):
                    raise ApiError.invalid(
                        res.group_resource,
                        name,
                        "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`",
                    )
            except SelectorError as exc:
                raise ApiError.invalid(res.group_resource, name, f"spec.selector: {exc}") from None
            replicas = spec.get("replicas", 1)
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError.invalid(
                    res.group_resource,
                    name,
                    f"spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0",
                )

    def _create(self, route: Route, body: Any, query: dict[str, str]) -> Obj:
        res = route.resource
        if route.name:
            raise ApiError.method_not_allowed()
        self._decode(res, body, query)
        if res.storage == "events" and res.group and isinstance(body, dict):
            errors = validation.events_v1_errors(body)
            if errors:
                raise validation.invalid(res.kind, res.group, body, errors)
        obj = self._prepare(route, body)
        self._validate(res, obj)
        if res.kind == "Pod":
            obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
            spec = obj["spec"]
            spec.setdefault("restartPolicy", "Always")
            spec.setdefault("terminationGracePeriodSeconds", 30)
            spec.setdefault("schedulerName", "default-scheduler")
            spec.setdefault("serviceAccountName", "default")
        elif res.status and res.kind not in ("Namespace", "Node"):
            obj.pop("status", None)  # status is written by controllers, not by clients
        if res.kind == "Namespace":
            obj.setdefault("status", {"phase": "Active"})
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj[
                "metadata"
            ].get("name", "")
        apply_defaults(res.kind, obj, self.server.cluster.allocate_cluster_ip)
        dry_run = _dry_run(query)
        return self.server.cluster.store.create(
            route.storage, res.group_resource, obj, dry_run=dry_run
        )

    def _write(self, route: Route, body: Any, query: dict[str, str]) -> Obj:
        cluster = self.server.cluster
        res = route.resource
        with cluster.store.lock:
            current = self._get(route)
            if route.verb == "patch":
                content_type = self.headers.get("Content-Type", "")
                if content_type.startswith(patching.APPLY):
                    # What a server without server-side apply answers: kubectl then says so.
                    raise ApiError.unsupported_media_type(patching.APPLY)
                base = (
                    event_views.to_events_v1(current)
                    if res.storage == "events" and res.group
                    else current
                )
                patched = patching.apply_patch(content_type, copy.deepcopy(base), body)
                self._decode(res, patched, query)
                # A patch is conditional only when it names a resourceVersion itself.
                expect = (
                    ((body.get("metadata") or {}).get("resourceVersion"))
                    if isinstance(body, dict)
                    else None
                )
                obj = self._prepare(route, patched)
            else:
                self._decode(res, body, query)
                obj = self._prepare(route, body)
                expect = obj["metadata"].get("resourceVersion")
            if obj["metadata"].get("name") != route.name:
                raise ApiError.bad_request(
                    f"the name of the object ({obj['metadata'].get('name')}) does not match the name on the URL ({route.name})"
                )
            self._validate(res, obj)
            if res.kind == "Service" and isinstance(obj.get("spec"), dict):
                for kept in ("clusterIP", "clusterIPs"):  # immutable, and kept when omitted
                    if kept not in obj["spec"] and kept in (current.get("spec") or {}):
                        obj["spec"][kept] = current["spec"][kept]
            apply_defaults(res.kind, obj, cluster.allocate_cluster_ip)
            if res.status:
                if route.subresource == "status":
                    status = obj.get("status")
                    obj = copy.deepcopy(current)
                    obj["status"] = status
                elif "status" in current:
                    obj["status"] = current["status"]
                else:
                    obj.pop("status", None)
            return cluster.store.replace(
                route.storage,
                res.group_resource,
                obj,
                expect_rv=expect or None,
                dry_run=_dry_run(query),
            )

    def _delete(self, route: Route, query: dict[str, str], body: Any) -> tuple[int, int]:
        cluster = self.server.cluster
        options = body if isinstance(body, dict) else {}
        grace = query.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
        grace_value = int(grace) if grace not in (None, "") else None
        propagation = query.get("propagationPolicy") or options.get("propagationPolicy")
        dry_run = _dry_run(query) or "All" in (options.get("dryRun") or [])
        with cluster.store.lock:
            obj = self._get(route)
            _preconditions(route, obj, options.get("preconditions") or {})
            if dry_run:
                return 200, self._json(200, obj)
            if route.storage == PODS:
                result = cluster.disrupt(obj, grace_value, "delete")
                return 200, self._json(200, result)
            removed = cluster.delete_object(route.storage, obj, propagation)
        if route.resource.returns_deleted:
            return 200, self._json(200, removed)
        details = {
            "name": route.name,
            "kind": route.resource.plural,
            "uid": removed["metadata"].get("uid"),
        }
        if route.resource.group:
            details["group"] = route.resource.group
        return 200, self._json(200, {**_STATUS_SUCCESS, "details": details})

    def _delete_collection(self, route: Route, query: dict[str, str]) -> tuple[int, int]:
        cluster = self.server.cluster
        listing = self._list(
            route, {k: v for k, v in query.items() if k not in ("limit", "continue")}
        )
        grace = query.get("gracePeriodSeconds")
        if _dry_run(query):
            return 200, self._json(200, listing)  # what would go; nothing does
        with cluster.store.lock:
            for item in listing["items"]:
                current = cluster.store.get(
                    route.storage, item["metadata"].get("namespace"), item["metadata"]["name"]
                )
                if current is None:
                    continue
                if route.storage == PODS:
                    cluster.disrupt(current, int(grace) if grace else None, "delete")
                else:
                    cluster.delete_object(route.storage, current, query.get("propagationPolicy"))
        return 200, self._json(200, listing)

    # ------------------------------------------------------------------ subresources

    def _evict(self, route: Route, query: dict[str, str], body: Any) -> tuple[int, int]:
        cluster = self.server.cluster
        options = ((body or {}).get("deleteOptions") or {}) if isinstance(body, dict) else {}
        grace = options.get("gracePeriodSeconds")
        dry_run = query.get("dryRun") == "All" or "All" in (options.get("dryRun") or [])
        if isinstance(body, dict) and (body.get("metadata") or {}).get("name") not in (
            None,
            route.name,
        ):
            raise ApiError.bad_request("name in URL does not match name in Eviction object")
        with cluster.store.lock:
            pod = self._get(route)
            _preconditions(route, pod, options.get("preconditions") or {})
            cluster.evict(pod, grace, dry_run=dry_run)
        return 201, self._json(201, {**_STATUS_SUCCESS, "code": 201})

    def _scale(self, route: Route, body: Any, dry_run: bool) -> tuple[int, int]:
        cluster = self.server.cluster
        res = route.resource
        with cluster.store.lock:
            obj = self._get(route)
            if route.verb in ("update", "patch"):
                if route.verb == "patch":
                    body = patching.apply_patch(
                        self.headers.get("Content-Type", ""), _scale_view(obj), body
                    )
                replicas = ((body or {}).get("spec") or {}).get("replicas")
                if not isinstance(replicas, int) or replicas < 0:
                    raise ApiError.invalid(
                        res.group_resource, route.name, f"spec.replicas: Invalid value: {replicas}"
                    )
                expect = ((body or {}).get("metadata") or {}).get("resourceVersion")
                updated = copy.deepcopy(obj)
                updated["spec"]["replicas"] = replicas
                obj = cluster.store.replace(
                    route.storage,
                    res.group_resource,
                    updated,
                    expect_rv=expect or None,
                    dry_run=dry_run,
                )
        return 200, self._json(200, _scale_view(obj))

    def _token_request(self, route: Route, body: Any) -> tuple[int, int]:
        cluster = self.server.cluster
        self._get(route)  # the service account must exist
        token = cluster.mint_token(route.namespace, route.name)
        seconds = int(((body or {}).get("spec") or {}).get("expirationSeconds") or 3600)
        return 201, self._json(
            201,
            {
                "kind": "TokenRequest",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": route.name, "namespace": route.namespace},
                "spec": {
                    "audiences": ["https://kubernetes.default.svc"],
                    "expirationSeconds": seconds,
                },
                "status": {
                    "token": token,
                    "expirationTimestamp": now_rfc3339(time.time() + seconds),
                },
            },
        )

    def _token_review(self, body: Any) -> Obj:
        token = ((body or {}).get("spec") or {}).get("token", "")
        user = self.server.cluster.tokens.get(token)
        status: dict[str, Any] = {"authenticated": user is not None}
        if user is not None:
            status["user"] = {"username": user.username, "uid": user.uid, "groups": user.groups}
        else:
            status["error"] = "invalid bearer token"
        return {
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {},
            "spec": (body or {}).get("spec", {}),
            "status": status,
        }

    def _self_review(self) -> Obj:
        """`kubectl auth whoami`: the authenticated user, as the server sees it."""
        user = self._user
        info: dict[str, Any] = {"username": user.username, "groups": user.groups}
        if user.uid:
            info["uid"] = user.uid
        return {
            "kind": "SelfSubjectReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "status": {"userInfo": info},
        }

    def _self_access_review(self, body: Any) -> Obj:
        """`kubectl auth can-i`: the review of the caller, under the server's authorizer."""
        spec = (body or {}).get("spec") or {}
        attrs = _review_attributes(spec)
        if self.server.cluster.spec.rbac.enforce:
            allowed, reason = authorize(self.server.cluster.store, self._user, attrs)
        else:
            allowed, reason = True, ""  # the AlwaysAllow authorizer
        return {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": {"allowed": allowed, **({"reason": reason} if reason else {})},
        }

    def _access_review(self, body: Any) -> Obj:
        spec = (body or {}).get("spec") or {}
        user = UserInfo(spec.get("user", ""), list(spec.get("groups") or []))
        attrs = _review_attributes(spec)
        allowed, reason = authorize(self.server.cluster.store, user, attrs)
        return {
            "kind": "SubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {},
            "spec": spec,
            "status": {"allowed": allowed, **({"reason": reason} if reason else {})},
        }

    def _logs(self, route: Route, query: dict[str, str]) -> str:
        cluster = self.server.cluster
        pod = self._get(route)
        containers = [c["name"] for c in pod["spec"].get("containers") or []]
        container = query.get("container") or (containers[0] if containers else "")
        if container not in containers:
            raise ApiError.bad_request(f"container {container} is not valid for pod {route.name}")
        if not pod.get("status", {}).get("containerStatuses"):
            raise ApiError.bad_request(
                f'container "{container}" in pod "{route.name}" is waiting to start: ContainerCreating'
            )
        log = cluster.logs.get(pod["metadata"]["uid"], {}).get(container)
        previous = query.get("previous") in ("true", "1")
        lines: list[tuple[float, str]] = (
            (log.previous or [] if previous else log.current) if log else []
        )
        if previous and not lines:
            raise ApiError.bad_request(
                f'previous terminated container "{container}" in pod "{route.name}" not found'
            )
        since = query.get("sinceSeconds")
        if since:
            cutoff = time.time() - int(since)
            lines = [entry for entry in lines if entry[0] >= cutoff]
        tail = query.get("tailLines")
        if tail:
            lines = lines[-int(tail) :] if int(tail) > 0 else []
        stamps = query.get("timestamps") in ("true", "1")
        from daemon.simulator.store import now_micro

        return "".join(f"{now_micro(t) + ' ' if stamps else ''}{text}\n" for t, text in lines)

    # ------------------------------------------------------------------ /sim/v1

    def _sim(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, int]:
        cluster = self.server.cluster
        faults = self.server.faults
        if path == "/sim/v1/timeline":
            if method == "DELETE":
                cluster.timeline.clear()
            items = [d.as_json() for d in cluster.timeline.all()]
            return 200, self._json(200, {"disruptions": items})
        if path == "/sim/v1/timeline/nodes":  # every cordon and uncordon, in apply order
            if method == "DELETE":
                cluster.node_timeline.clear()
            changes = cluster.node_timeline.all()
            return 200, self._json(
                200, {"changes": [c.as_json() for c in changes], "peak_cordoned": peak(changes)}
            )
        if path == "/sim/v1/faults":
            if method in ("PUT", "POST"):
                try:
                    faults.replace(Faults.model_validate(body or {}))
                except ValidationError as exc:
                    return 400, self._json(
                        400, {"error": exc.errors(include_url=False, include_context=False)}
                    )
            elif method == "DELETE":
                faults.replace(Faults())
                faults.outage_until = 0.0
            return 200, self._json(200, faults.describe())
        if path == "/sim/v1/faults/outage" and method == "POST":
            faults.outage(float((body or {}).get("seconds", 30)))
            return 200, self._json(200, faults.describe())
        if path == "/sim/v1/faults/drop-watches" and method == "POST":
            faults.drop_watches()
            return 200, self._json(200, faults.describe())
        if path == "/sim/v1/stats":
            if method == "DELETE":
                self.server.stats.reset()
            described = self.server.stats.describe()
            described["open_watches"] = cluster.store.open_watches()
            return 200, self._json(200, described)
        if path == "/sim/v1/services":
            return 200, self._json(200, {"services": self.server.service_urls})
        if path == "/sim/v1/churn" and method == "POST":
            spec = body or {}
            cluster.churn(
                float(spec.get("rate", 100)), float(spec.get("seconds", 10)), spec.get("namespaces")
            )
            return 202, self._json(202, {"started": True})
        if path == "/sim/v1/settle":
            ok = cluster.settle(float(query.get("timeout", 5)))
            return 200, self._json(200, {"settled": ok})
        return 404, self._json(404, {"error": f"no simulator endpoint {method} {path}"})


def _dry_run(query: dict[str, str]) -> bool:
    """`dryRun=All`: every stage runs, nothing is stored (the only value the API accepts)."""
    return query.get("dryRun") == "All"


def _api_group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def _scale_view(obj: Obj) -> Obj:
    from daemon.labels import to_string

    spec = obj.get("spec") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: obj["metadata"][k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in obj["metadata"]
        },
        "spec": {"replicas": spec.get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": to_string(spec.get("selector")),
        },
    }


def _preconditions(route: Route, obj: Obj, preconditions: dict[str, Any]) -> None:
    uid = preconditions.get("uid")
    if uid and uid != obj["metadata"].get("uid"):
        raise ApiError.conflict(
            route.resource.group_resource,
            route.name,
            f"Precondition failed: UID in precondition: {uid}, UID in object meta: {obj['metadata'].get('uid')}",
        )
    rv = preconditions.get("resourceVersion")
    if rv and rv != obj["metadata"].get("resourceVersion"):
        raise ApiError.conflict(
            route.resource.group_resource,
            route.name,
            f"Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: "
            f"{obj['metadata'].get('resourceVersion')}",
        )


def _review_attributes(spec: dict[str, Any]) -> Attributes:
    """The attributes an access review (self or not) asks about."""
    attributes = spec.get("resourceAttributes")
    if attributes:
        return Attributes(
            verb=attributes.get("verb", ""),
            group=attributes.get("group", ""),
            resource=attributes.get("resource", ""),
            subresource=attributes.get("subresource", ""),
            namespace=attributes.get("namespace", ""),
            name=attributes.get("name", ""),
        )
    non_resource = spec.get("nonResourceAttributes") or {}
    return Attributes(verb=non_resource.get("verb", ""), path=non_resource.get("path", ""))
