"""Turn a cluster file into API objects, the way `kubectl apply` of manifests would."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from daemon.durations import format_duration
from daemon.simulator.cluster_file import ClusterFile, Namespace, OperatorSpec, Workload
from daemon.simulator.defaults import apply_defaults
from daemon.simulator.resources import (
    BY_KIND,
    Resource,
    crd_object,
    custom_resource,
    register,
)
from daemon.simulator.store import Obj

if TYPE_CHECKING:
    from daemon.simulator.cluster import Cluster

ANNOTATION = "sim.aftershock.io/"


def populate(cluster: Cluster) -> None:
    spec = cluster.spec
    for node in spec.node_list():
        obj = node_object(node.name, node.labels, node.unschedulable)
        if node.taints:
            obj["spec"]["taints"] = [t.model_dump() for t in node.taints]
        create(cluster, obj)
    for resource in operator_resources(spec):
        create(cluster, crd_object(resource))
    names = {n.name for n in spec.namespaces}
    for system in ("default", "kube-system", "kube-public", "kube-node-lease"):
        if system not in names:
            create_namespace(cluster, system, {})
    create(cluster, KUBERNETES_SERVICE)
    for namespace in spec.namespaces:
        create_namespace(cluster, namespace.name, namespace.labels)
        populate_namespace(cluster, namespace)
    for obj in [*spec.rbac.objects, *spec.objects]:
        create(cluster, obj)


def operator_resources(spec: ClusterFile) -> list[Resource]:
    """The custom kinds that the cluster file's Operator workloads need, registered once each."""
    seen: dict[str, Resource] = {}
    for namespace in spec.namespaces:
        for workload in namespace.workloads:
            if workload.kind == "Operator":
                op = workload.operator or OperatorSpec()
                resource = register(custom_resource(op.api_version, op.kind, op.plural))
                seen[resource.key] = resource
    return list(seen.values())


# The API server's own Service, which every real cluster has in `default`.
KUBERNETES_SERVICE: Obj = {
    "kind": "Service",
    "apiVersion": "v1",
    "metadata": {
        "name": "kubernetes",
        "namespace": "default",
        "labels": {"component": "apiserver", "provider": "kubernetes"},
    },
    "spec": {
        "clusterIP": "10.96.0.1",
        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
    },
}


def create(cluster: Cluster, obj: Obj) -> Obj:
    resource = BY_KIND.get((obj.get("apiVersion", ""), obj.get("kind", "")))
    if resource is None:
        raise ValueError(
            f"cluster file object of kind {obj.get('kind')!r} ({obj.get('apiVersion')}) is not served"
        )
    fresh = apply_defaults(resource.kind, json.loads(json.dumps(obj)), cluster.allocate_cluster_ip)
    return cluster.store.create(resource.storage or resource.key, resource.group_resource, fresh)


def node_object(name: str, labels: dict[str, str], unschedulable: bool) -> Obj:
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **labels},
        },
        "spec": {"unschedulable": unschedulable} if unschedulable else {},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "kubelet is posting ready status",
                }
            ],
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "nodeInfo": {
                "kubeletVersion": "v1.31.0-sim",
                "kubeProxyVersion": "v1.31.0-sim",
                "osImage": "aftershock simulated node",
                "kernelVersion": "6.1.0-sim",
                "containerRuntimeVersion": "sim://1.0",
                "architecture": "amd64",
                "operatingSystem": "linux",
                "machineID": uuid.uuid5(uuid.NAMESPACE_DNS, "machine." + name).hex,
                "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, "system." + name)),
                "bootID": str(uuid.uuid5(uuid.NAMESPACE_DNS, "boot." + name)),
            },
            "addresses": [{"type": "Hostname", "address": name}],
        },
    }


def create_namespace(cluster: Cluster, name: str, labels: dict[str, str]) -> None:
    create(
        cluster,
        {
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **labels}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        },
    )
    create(
        cluster,
        {
            "kind": "ServiceAccount",
            "apiVersion": "v1",
            "metadata": {"name": "default", "namespace": name},
        },
    )


def _timing_annotations(workload: Workload) -> dict[str, str]:
    out: dict[str, str] = {}
    for field, value in workload.timing.model_dump(exclude_none=True).items():
        key = ANNOTATION + field.replace("_", "-")
        out[key] = (
            str(value)
            if isinstance(value, float | int)
            else format_duration(getattr(workload.timing, field))
        )
    out[ANNOTATION + "logs"] = json.dumps(workload.logs)
    return out


def pod_template(workload: Workload, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {
            "labels": dict(labels),
            "annotations": {**workload.annotations, **_timing_annotations(workload)},
        },
        "spec": {
            "terminationGracePeriodSeconds": workload.grace_period,
            "containers": [
                {
                    "name": workload.name,
                    "image": workload.image or f"registry.local/{workload.name}:1.0",
                    "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                    "readinessProbe": {
                        "httpGet": {"path": "/healthz", "port": 8080},
                        "periodSeconds": 1,
                    },
                }
            ],
        },
    }


def populate_namespace(cluster: Cluster, namespace: Namespace) -> None:
    ns = namespace.name
    for workload in namespace.workloads:
        labels = workload.labels or {"app": workload.name}
        template = pod_template(workload, labels)
        base_meta = {"name": workload.name, "namespace": ns, "labels": dict(labels)}
        common = {"selector": {"matchLabels": dict(labels)}, "template": template}
        extra: dict[str, Any] = {
            "Deployment": {
                "replicas": workload.replicas,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
                },
            },
            "StatefulSet": {
                "replicas": workload.replicas,
                "serviceName": workload.name,
                "podManagementPolicy": workload.pod_management_policy,
            },
            "DaemonSet": {},
        }
        if workload.kind == "Operator":
            op = workload.operator or OperatorSpec()
            create(
                cluster,
                {
                    "kind": op.kind,
                    "apiVersion": op.api_version,
                    "metadata": base_meta,
                    "spec": {
                        **common,
                        "replicas": workload.replicas,
                        "podNaming": op.naming,
                        "podsVia": op.pods_via,
                        "recreateDelay": format_duration(op.recreate_delay),
                    },
                },
            )
        elif workload.kind in extra:
            create(
                cluster,
                {
                    "kind": workload.kind,
                    "apiVersion": "apps/v1",
                    "metadata": base_meta,
                    "spec": {**common, **extra[workload.kind]},
                },
            )
        else:
            for index in range(workload.replicas):
                name = workload.name if workload.replicas == 1 else f"{workload.name}-{index}"
                create(
                    cluster,
                    {
                        "kind": "Pod",
                        "apiVersion": "v1",
                        "metadata": {**template["metadata"], "name": name, "namespace": ns},
                        "spec": {
                            **template["spec"],
                            "restartPolicy": "Always",
                            "schedulerName": "default-scheduler",
                        },
                        "status": {"phase": "Pending"},
                    },
                )
        if workload.service is not None:
            service = workload.service
            annotations = (
                {ANNOTATION + "depends-on": ",".join(service.depends_on)}
                if service.depends_on
                else {}
            )
            annotations[ANNOTATION + "unavailable-status"] = str(service.unavailable.status)
            annotations[ANNOTATION + "unavailable-delay"] = format_duration(
                service.unavailable.delay
            )
            if service.endpoint_lag:
                annotations[ANNOTATION + "endpoint-lag"] = format_duration(service.endpoint_lag)
            if service.http:
                annotations[ANNOTATION + "listen-port"] = str(service.listen_port)
            create(
                cluster,
                {
                    "kind": "Service",
                    "apiVersion": "v1",
                    "metadata": {
                        "name": workload.name,
                        "namespace": ns,
                        "labels": dict(labels),
                        "annotations": annotations,
                    },
                    "spec": {
                        "selector": dict(labels),
                        "type": "ClusterIP",
                        "ports": [
                            {
                                "name": "http",
                                "port": service.port,
                                "targetPort": 8080,
                                "protocol": "TCP",
                            }
                        ],
                    },
                },
            )
    for pdb in namespace.pdbs:
        spec: dict[str, Any] = {"selector": {"matchLabels": dict(pdb.selector)}}
        if pdb.min_available is not None:
            spec["minAvailable"] = pdb.min_available
        else:
            spec["maxUnavailable"] = pdb.max_unavailable
        create(
            cluster,
            {
                "kind": "PodDisruptionBudget",
                "apiVersion": "policy/v1",
                "metadata": {"name": pdb.name, "namespace": ns},
                "spec": spec,
            },
        )
    for raw in namespace.objects:
        obj = json.loads(json.dumps(raw))
        obj.setdefault("metadata", {}).setdefault("namespace", ns)
        create(cluster, obj)
