"""A thin client over `kubernetes` returning plain JSON dicts, with deadlines on every call.

Plain dicts keep domain code independent of the client's generated models (which reject
objects real servers send, e.g. partial nodeInfo) and cheaper to copy and journal.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from daemon.kube.errors import Gone, KubeError, Unavailable, from_status
from daemon.kube.writes import KubeWrites

RequestHook = Callable[[str, str, int], None]  # (verb, resource, status code; 0 = no answer)


@dataclass(frozen=True)
class Connection:
    mode: str = "auto"  # auto | in-cluster | kubeconfig | url
    kubeconfig: Path | None = None
    context: str | None = None
    api_url: str | None = None
    token: str | None = None
    timeout: float = 10.0


def _configuration() -> client.Configuration:
    cfg = client.Configuration()
    # No hidden retries: urllib3 would otherwise sleep on Retry-After (429/503) outside any
    # deadline of ours. Callers retry explicitly where that is safe.
    cfg.retries = False
    return cfg


def api_client_for(conn: Connection) -> client.ApiClient:
    """kubeconfig when given or found, else in-cluster (mode auto), like `chaos run` and kubectl."""
    cfg = _configuration()
    if conn.mode == "url" or (conn.mode == "auto" and conn.api_url):
        cfg.host = conn.api_url or ""
        if conn.token:
            cfg.api_key = {"authorization": f"Bearer {conn.token}"}
        return client.ApiClient(cfg)
    if conn.mode == "in-cluster":
        config.load_incluster_config(client_configuration=cfg)
        return client.ApiClient(cfg)
    try:
        config.load_kube_config(
            config_file=str(conn.kubeconfig) if conn.kubeconfig else None,
            context=conn.context,
            client_configuration=cfg,
        )
    except UnicodeDecodeError:
        raise KubeError(
            f"cannot load kubeconfig {conn.kubeconfig or '(default)'}: not UTF-8 text"
        ) from None
    except (config.ConfigException, OSError) as exc:
        if conn.mode == "kubeconfig" or conn.kubeconfig is not None:
            raise KubeError(f"cannot load kubeconfig: {exc}") from None
        try:
            config.load_incluster_config(client_configuration=cfg)
        except config.ConfigException:
            raise KubeError(
                f"no kubeconfig found ({exc}) and not running in a cluster; pass --kubeconfig"
            ) from None
    except (ValueError, TypeError, AttributeError, KeyError, yaml.YAMLError) as exc:
        # A file that is YAML but not a kubeconfig (or not YAML at all): a clear error.
        raise KubeError(
            f"cannot load kubeconfig {conn.kubeconfig or '(default)'}: {type(exc).__name__}: {exc}"
        ) from None
    return client.ApiClient(cfg)


_ERRORS = (urllib3.exceptions.HTTPError, OSError, ValueError)


class Kube(KubeWrites):
    """The calls aftershock makes. Every one has a deadline and translated errors."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        timeout: float = 10.0,
        on_request: RequestHook | None = None,
    ):
        self.api_client = api_client
        self.timeout = timeout
        self.on_request = on_request
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.policy = client.PolicyV1Api(api_client)
        self.coordination = client.CoordinationV1Api(api_client)
        self.authentication = client.AuthenticationV1Api(api_client)
        self.authorization = client.AuthorizationV1Api(api_client)

    @classmethod
    def connect(cls, conn: Connection, on_request: RequestHook | None = None) -> Kube:
        return cls(api_client_for(conn), timeout=conn.timeout, on_request=on_request)

    def close(self) -> None:
        self.api_client.close()

    # ------------------------------------------------------------------ plumbing

    def _record(self, verb: str, resource: str, code: int) -> None:
        if self.on_request is not None:
            self.on_request(verb, resource, code)

    def call(
        self,
        verb: str,
        resource: str,
        fn: Callable[..., Any],
        *args: Any,
        raw: bool = False,
        **kwargs: Any,
    ) -> Any:
        """One request with a deadline and translated errors; the JSON body, or bytes if raw."""
        kwargs.setdefault("_request_timeout", self.timeout)
        kwargs["_preload_content"] = False
        code = 0
        try:
            response = fn(*args, **kwargs)
            code = response.status
            data = response.data
            if raw:
                return data
            return json.loads(data) if data else {}
        except ApiException as exc:
            code = exc.status or 0
            raise from_status(code, exc.body, exc.headers, f"{verb} {resource}") from None
        except _ERRORS as exc:
            raise Unavailable(f"{verb} {resource}: {type(exc).__name__}: {exc}") from None
        finally:
            self._record(verb, resource, code)

    # ------------------------------------------------------------------ reads

    def list(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 500,
    ) -> tuple[list[dict[str, Any]], str]:
        """All pages of a list; returns (items, resourceVersion to watch from)."""
        fn = self._lister(resource, namespace)
        items: list[dict[str, Any]] = []
        token = None
        resource_version = ""
        while True:
            kwargs: dict[str, Any] = {"limit": limit}
            if label_selector:
                kwargs["label_selector"] = label_selector
            if field_selector:
                kwargs["field_selector"] = field_selector
            if token:
                kwargs["_continue"] = token
            args = (namespace,) if namespace is not None else ()
            page = self.call("list", resource, fn, *args, **kwargs)
            items.extend(page.get("items") or [])
            resource_version = resource_version or page.get("metadata", {}).get(
                "resourceVersion", ""
            )
            token = page.get("metadata", {}).get("continue")
            if not token:
                return items, resource_version

    def get(
        self, resource: str, namespace: str | None, name: str, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """One object; `timeout` (seconds) overrides the client's request deadline."""
        readers: dict[str, Callable[..., Any]] = {
            "pods": self.core.read_namespaced_pod,
            "namespaces": self.core.read_namespace,
            "nodes": self.core.read_node,
            "deployments": self.apps.read_namespaced_deployment,
            "statefulsets": self.apps.read_namespaced_stateful_set,
            "daemonsets": self.apps.read_namespaced_daemon_set,
            "replicasets": self.apps.read_namespaced_replica_set,
            "configmaps": self.core.read_namespaced_config_map,
            "leases": self.coordination.read_namespaced_lease,
        }
        reader = readers[resource]
        args = (name,) if namespace is None else (name, namespace)
        extra: dict[str, Any] = {} if timeout is None else {"_request_timeout": timeout}
        result: dict[str, Any] = self.call("get", resource, reader, *args, **extra)
        return result

    def _lister(self, resource: str, namespace: str | None) -> Callable[..., Any]:
        namespaced: dict[str, Callable[..., Any]] = {
            "pods": self.core.list_namespaced_pod,
            "events": self.core.list_namespaced_event,
            "deployments": self.apps.list_namespaced_deployment,
            "statefulsets": self.apps.list_namespaced_stateful_set,
            "daemonsets": self.apps.list_namespaced_daemon_set,
            "replicasets": self.apps.list_namespaced_replica_set,
            "poddisruptionbudgets": self.policy.list_namespaced_pod_disruption_budget,
        }
        cluster: dict[str, Callable[..., Any]] = {
            "pods": self.core.list_pod_for_all_namespaces,
            "events": self.core.list_event_for_all_namespaces,
            "deployments": self.apps.list_deployment_for_all_namespaces,
            "statefulsets": self.apps.list_stateful_set_for_all_namespaces,
            "daemonsets": self.apps.list_daemon_set_for_all_namespaces,
            "replicasets": self.apps.list_replica_set_for_all_namespaces,
            "poddisruptionbudgets": self.policy.list_pod_disruption_budget_for_all_namespaces,
            "namespaces": self.core.list_namespace,
            "nodes": self.core.list_node,
        }
        return namespaced[resource] if namespace is not None else cluster[resource]

    def pod_log(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None = None,
        since_seconds: int | None = None,
        previous: bool = False,
        tail_lines: int | None = None,
    ) -> str:
        kwargs: dict[str, Any] = {"previous": previous, "timestamps": True}
        if container:
            kwargs["container"] = container
        if since_seconds:
            kwargs["since_seconds"] = since_seconds
        if tail_lines is not None:
            kwargs["tail_lines"] = tail_lines
        data: bytes = self.call(
            "get",
            "pods/log",
            self.core.read_namespaced_pod_log,
            name,
            namespace,
            raw=True,
            **kwargs,
        )
        return data.decode("utf-8", errors="replace")

    # ------------------------------------------------------------------ watch

    def watch(
        self,
        resource: str,
        namespace: str | None,
        *,
        resource_version: str,
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int = 60,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """(type, object) events incl. BOOKMARKs; Gone on 410, Unavailable on a broken stream."""
        fn = self._lister(resource, namespace)
        kwargs: dict[str, Any] = {
            "watch": True,
            "resource_version": resource_version,
            "allow_watch_bookmarks": True,
            "timeout_seconds": timeout_seconds,
            "_preload_content": False,
            "_request_timeout": (self.timeout, timeout_seconds + self.timeout),
        }
        if label_selector:
            kwargs["label_selector"] = label_selector
        if field_selector:
            kwargs["field_selector"] = field_selector
        args = (namespace,) if namespace is not None else ()
        code = 0
        try:
            response = fn(*args, **kwargs)
            code = response.status
        except ApiException as exc:
            code = exc.status or 0
            self._record("watch", resource, code)
            raise from_status(code, exc.body, exc.headers, f"watch {resource}") from None
        except _ERRORS as exc:
            self._record("watch", resource, 0)
            raise Unavailable(f"watch {resource}: {exc}") from None
        self._record("watch", resource, code)
        try:
            buffer = b""
            for chunk in response.stream(amt=None, decode_content=False):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        error = from_status(
                            int(status.get("code") or 500), status, None, f"watch {resource}"
                        )
                        if isinstance(error, Gone):
                            raise error
                        raise error
                    yield event["type"], event["object"]
        except _ERRORS as exc:
            raise Unavailable(
                f"watch {resource} stream broke: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            response.release_conn()
