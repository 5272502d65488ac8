"""The writes aftershock makes (pod deletes and evictions, Events, scale, node patches,
leases, access reviews): a mixin of `Kube` (daemon/kube/client.py), which owns the API objects
and `call`, the one place deadlines and error translation happen."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kubernetes import client


def _delete_options(grace_period: int | None, uid: str | None, dry_run: bool) -> Any:
    """The uid precondition makes a delete or eviction miss a same-named replacement pod."""
    return client.V1DeleteOptions(
        grace_period_seconds=grace_period,
        preconditions=client.V1Preconditions(uid=uid) if uid else None,
        dry_run=["All"] if dry_run else None,
    )


class KubeWrites:
    core: client.CoreV1Api
    apps: client.AppsV1Api
    coordination: client.CoordinationV1Api
    authentication: client.AuthenticationV1Api
    authorization: client.AuthorizationV1Api

    def call(
        self, verb: str, resource: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        raise NotImplementedError  # Kube's

    def delete_pod(
        self,
        namespace: str,
        name: str,
        *,
        grace_period: int | None = None,
        uid: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        body = _delete_options(grace_period, uid, dry_run)
        result: dict[str, Any] = self.call(
            "delete", "pods", self.core.delete_namespaced_pod, name, namespace, body=body
        )
        return result

    def evict_pod(
        self,
        namespace: str,
        name: str,
        *,
        grace_period: int | None = None,
        uid: str | None = None,
        dry_run: bool = False,
    ) -> None:
        options = _delete_options(grace_period, uid, dry_run)
        body = client.V1Eviction(
            metadata=client.V1ObjectMeta(name=name, namespace=namespace), delete_options=options
        )
        self.call(
            "create",
            "pods/eviction",
            self.core.create_namespaced_pod_eviction,
            name,
            namespace,
            body,
        )

    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        self.call("create", "events", self.core.create_namespaced_event, namespace, body)

    def scale_deployment(
        self, namespace: str, name: str, replicas: int, expect: int | None = None
    ) -> dict[str, Any]:
        """With `expect`, conditional on the replica count (a JSON patch whose `test` fails
        with 422 Invalid if spec.replicas is no longer `expect`): a scale judged on one count
        never lands on another, while writes that leave the count alone do not stop it."""
        body: Any = {"spec": {"replicas": replicas}}
        if expect is not None:
            body = [
                {"op": "test", "path": "/spec/replicas", "value": expect},
                {"op": "replace", "path": "/spec/replicas", "value": replicas},
            ]
        result: dict[str, Any] = self.call(
            "patch",
            "deployments/scale",
            self.apps.patch_namespaced_deployment_scale,
            name,
            namespace,
            body,
        )
        return result

    def patch_node(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """A strategic-merge patch of a Node (cordon, uncordon and aftershock's annotations);
        `metadata.resourceVersion` in the body makes it conditional (409 on a race)."""
        result: dict[str, Any] = self.call("patch", "nodes", self.core.patch_node, name, body)
        return result

    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "create", "leases", self.coordination.create_namespaced_lease, namespace, body
        )
        return result

    def replace_lease(
        self, namespace: str, name: str, body: dict[str, Any], *, timeout: float | None = None
    ) -> dict[str, Any]:
        """PUT with the body's resourceVersion: a concurrent writer gets Conflict (409).
        `timeout` (seconds) overrides the client's request deadline."""
        extra: dict[str, Any] = {} if timeout is None else {"_request_timeout": timeout}
        result: dict[str, Any] = self.call(
            "update",
            "leases",
            self.coordination.replace_namespaced_lease,
            name,
            namespace,
            body,
            **extra,
        )
        return result

    def review_token(self, token: str) -> dict[str, Any]:
        """TokenReview: who presented this token (status.authenticated, status.user)."""
        body: dict[str, Any] = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        }
        result: dict[str, Any] = self.call(
            "create", "tokenreviews", self.authentication.create_token_review, body
        )
        return result.get("status") or {}

    def review_access(
        self,
        user: str,
        groups: Sequence[str],
        *,
        verb: str,
        group: str,
        resource: str,
        namespace: str,
    ) -> tuple[bool, str]:
        """SubjectAccessReview: may this user do verb on the (virtual) resource?"""
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": user,
                "groups": [*groups],
                "resourceAttributes": {
                    "verb": verb,
                    "group": group,
                    "resource": resource,
                    "namespace": namespace,
                },
            },
        }
        result: dict[str, Any] = self.call(
            "create",
            "subjectaccessreviews",
            self.authorization.create_subject_access_review,
            body,
        )
        status = result.get("status") or {}
        return bool(status.get("allowed")), str(status.get("reason") or "")
