"""The API resources the simulator serves, with what discovery says about them."""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    singular: str = ""
    storage: str = ""  # another resource's key whose objects this one shows (events.k8s.io)
    list_kind: str = ""
    categories: tuple[str, ...] = ()
    status: bool = field(default=False)
    returns_deleted: bool = False  # DELETE answers the object, not a Status (Services)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """Storage key: `pods`, `deployments.apps`, ..."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_resource(self) -> str:
        """How error messages name it: `pods`, `leases.coordination.k8s.io`."""
        return self.key


R = Resource
RESOURCES: list[Resource] = [
    R("", "v1", "namespaces", "Namespace", False, ("ns",), subresources=("status",), status=True),
    R("", "v1", "nodes", "Node", False, ("no",), subresources=("status",), status=True),
    R(
        "",
        "v1",
        "pods",
        "Pod",
        True,
        ("po",),
        subresources=("status", "log", "eviction"),
        status=True,
        categories=("all",),
    ),
    R("", "v1", "events", "Event", True, ("ev",)),
    R("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    R("", "v1", "secrets", "Secret", True),
    R(
        "",
        "v1",
        "services",
        "Service",
        True,
        ("svc",),
        subresources=("status",),
        status=True,
        categories=("all",),
        returns_deleted=True,
    ),
    R("", "v1", "endpoints", "Endpoints", True, ("ep",)),
    R("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",), subresources=("token",)),
    R(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        True,
        ("deploy",),
        subresources=("status", "scale"),
        status=True,
        categories=("all",),
    ),
    R(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        True,
        ("rs",),
        subresources=("status", "scale"),
        status=True,
        categories=("all",),
    ),
    R(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        True,
        ("sts",),
        subresources=("status", "scale"),
        status=True,
        categories=("all",),
    ),
    R(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        True,
        ("ds",),
        subresources=("status",),
        status=True,
        categories=("all",),
    ),
    R(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        True,
        ("pdb",),
        subresources=("status",),
        status=True,
    ),
    R("coordination.k8s.io", "v1", "leases", "Lease", True),
    R("events.k8s.io", "v1", "events", "Event", True, ("ev",), storage="events"),
    R("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    R("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    R("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    R("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    R("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, verbs=("create",)),
    R(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        False,
        verbs=("create",),
    ),
    R(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        verbs=("create",),
    ),
    R(
        "authentication.k8s.io",
        "v1",
        "selfsubjectreviews",
        "SelfSubjectReview",
        False,
        verbs=("create",),
    ),
    R(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        ("crd", "crds"),
        subresources=("status",),
        status=True,
    ),
]

BY_PATH: dict[tuple[str, str, str], Resource] = {
    (r.group, r.version, r.plural): r for r in RESOURCES
}
BY_KEY: dict[str, Resource] = {r.key: r for r in RESOURCES if not r.storage}
BY_KIND: dict[tuple[str, str], Resource] = {(r.api_version, r.kind): r for r in RESOURCES}


def register(resource: Resource) -> Resource:
    """Serve a custom resource (a CRD's kind) from now on, in every simulator of the process.

    The tables above are shared by the process's simulators: a kind, once registered, is served
    by all of them (with no objects where none were created), which tests never notice.
    """
    existing = BY_PATH.get((resource.group, resource.version, resource.plural))
    if existing is not None:
        return existing
    RESOURCES.append(resource)
    BY_PATH[(resource.group, resource.version, resource.plural)] = resource
    BY_KEY[resource.key] = resource
    BY_KIND[(resource.api_version, resource.kind)] = resource
    return resource


def custom_resource(api_version: str, kind: str, plural: str | None = None) -> Resource:
    """The Resource of a namespaced custom kind, as its minimal CRD declares it."""
    group, _, version = api_version.rpartition("/")
    return Resource(
        group,
        version,
        plural or kind.lower() + "s",
        kind,
        True,
        subresources=("status",),
        status=True,
    )


def crd_object(resource: Resource) -> dict[str, object]:
    """A minimal CustomResourceDefinition for `resource`: enough for `kubectl get <kind>`."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": resource.key},
        "spec": {
            "group": resource.group,
            "scope": "Namespaced",
            "names": {
                "plural": resource.plural,
                "singular": resource.kind.lower(),
                "kind": resource.kind,
                "listKind": resource.kind + "List",
            },
            "versions": [
                {
                    "name": resource.version,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
        "status": {
            "conditions": [
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}
            ],
            "acceptedNames": {"plural": resource.plural, "kind": resource.kind},
            "storedVersions": [resource.version],
        },
    }


def group_versions() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for resource in RESOURCES:
        if resource.group:
            versions = out.setdefault(resource.group, [])
            if resource.version not in versions:
                versions.append(resource.version)
    return out


def resource_list(group: str, version: str) -> dict[str, object] | None:
    """An APIResourceList, as `/api/v1` or `/apis/apps/v1` returns it."""
    members = [r for r in RESOURCES if r.group == group and r.version == version]
    if not members:
        return None
    items: list[dict[str, object]] = []
    for r in members:
        entry: dict[str, object] = {
            "name": r.plural,
            "singularName": r.singular or r.kind.lower(),
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        items.append(entry)
        for sub in r.subresources:
            sub_kind = {
                "scale": "Scale",
                "eviction": "Eviction",
                "log": "Pod",
                "token": "TokenRequest",
            }.get(sub, r.kind)
            sub_verbs = {
                "status": ["get", "patch", "update"],
                "scale": ["get", "patch", "update"],
                "eviction": ["create"],
                "log": ["get"],
                "token": ["create"],
            }[sub]
            entry_sub: dict[str, object] = {
                "name": f"{r.plural}/{sub}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": sub_kind,
                "verbs": sub_verbs,
            }
            if sub == "scale":
                entry_sub["group"] = "autoscaling"
                entry_sub["version"] = "v1"
            if sub == "eviction":
                entry_sub["group"] = "policy"
                entry_sub["version"] = "v1"
            items.append(entry_sub)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": items,
    }
