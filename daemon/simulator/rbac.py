"""RBAC as the API server evaluates it: roles and bindings from the store, 403s in its words."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from daemon.simulator.cluster import UserInfo
    from daemon.simulator.store import Store


@dataclass(frozen=True)
class Attributes:
    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""  # for non-resource requests

    @property
    def resource_request(self) -> bool:
        return bool(self.resource)


def _rule_allows(rule: dict[str, Any], attrs: Attributes) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and attrs.verb not in verbs:
        return False
    if not attrs.resource_request:
        urls = rule.get("nonResourceURLs") or []
        return any(
            u in ("*", attrs.path) or (u.endswith("*") and attrs.path.startswith(u[:-1]))
            for u in urls
        )
    groups = rule.get("apiGroups") or []
    if "*" not in groups and attrs.group not in groups:
        return False
    wanted = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    resources = rule.get("resources") or []
    if (
        "*" not in resources
        and wanted not in resources
        and f"*/{attrs.subresource}" not in resources
    ):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _subject_matches(subject: dict[str, Any], user: UserInfo, binding_namespace: str) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return bool(subject.get("name") == user.username)
    if kind == "Group":
        return subject.get("name") in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.username == f"system:serviceaccount:{namespace}:{subject.get('name')}"
    return False


def authorize(store: Store, user: UserInfo, attrs: Attributes) -> tuple[bool, str]:
    """(allowed, reason). system:masters may do anything, as in a real cluster."""
    if "system:masters" in user.groups:
        return True, "system:masters"
    if not attrs.resource_request and attrs.path in ("/version", "/healthz", "/readyz", "/livez"):
        return True, "system:public-info-viewer"  # bound to everyone, anonymous included
    if (
        not attrs.resource_request
        and "system:authenticated" in user.groups
        and (attrs.path.startswith("/api") or attrs.path.startswith("/openapi"))
        and attrs.verb == "get"
    ):
        return True, "system:discovery"  # authenticated users only, as since Kubernetes 1.14
    if (
        attrs.resource_request
        and "system:authenticated" in user.groups
        and attrs.verb == "create"
        and _self_review(attrs)
    ):
        return True, "system:basic-user"
    bindings: list[tuple[dict[str, Any], str]] = [
        (b, "") for b in store.items("clusterrolebindings.rbac.authorization.k8s.io")
    ]
    if attrs.namespace:
        bindings += [
            (b, attrs.namespace)
            for b in store.items("rolebindings.rbac.authorization.k8s.io", attrs.namespace)
        ]
    for binding, namespace in bindings:
        if not any(_subject_matches(s, user, namespace) for s in binding.get("subjects") or []):
            continue
        ref = binding.get("roleRef") or {}
        if ref.get("kind") == "ClusterRole":
            role = store.get("clusterroles.rbac.authorization.k8s.io", None, ref.get("name", ""))
        else:
            role = store.get("roles.rbac.authorization.k8s.io", namespace, ref.get("name", ""))
        if role is None:
            continue
        for rule in role.get("rules") or []:
            if _rule_allows(rule, attrs):
                where = f"RoleBinding {namespace}/" if namespace else "ClusterRoleBinding "
                return True, f"RBAC: allowed by {where}{binding['metadata']['name']}"
    return False, ""


def forbidden_message(user: UserInfo, attrs: Attributes) -> str:
    if not attrs.resource_request:
        return f'forbidden: User "{user.username}" cannot {attrs.verb} path "{attrs.path}"'
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    group_resource = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    subject = f'{group_resource} "{attrs.name}"' if attrs.name else group_resource
    scope = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    return (
        f'{subject} is forbidden: User "{user.username}" cannot {attrs.verb} resource "{resource}" '
        f'in API group "{attrs.group}" {scope}'
    )


def _self_review(attrs: Attributes) -> bool:
    return (attrs.group, attrs.resource) in (
        ("authorization.k8s.io", "selfsubjectaccessreviews"),
        ("authorization.k8s.io", "selfsubjectrulesreviews"),
        ("authentication.k8s.io", "selfsubjectreviews"),
    )
