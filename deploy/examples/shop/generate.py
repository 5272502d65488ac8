"""Write deploy/examples/shop/: the seed-001 shop as real Kubernetes manifests.

The shop is the simulator's demo cluster (config/demo/cluster.yaml): the same names,
replicas, labels, grace periods, dependencies, failure answers and PDB, run by
`aftershock demo-app` in the aftershock image. The demo catalog (config/experiments/)
becomes a ConfigMap in the `aftershock` namespace, for the Helm chart's
`existingCatalogConfigMap`. Run `python deploy/examples/shop/generate.py` after changing
either; tests/e2e/test_shop_manifests.py fails while the files are stale.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CLUSTER_FILE = REPO / "config" / "demo" / "cluster.yaml"
CATALOG = REPO / "config" / "experiments"
IMAGE = "aftershock"
TAG = "0.1.0"  # the chart's appVersion; `kustomize edit set image` or the kind workflow overrides
CATALOG_CONFIGMAP = "aftershock-demo-catalog"
DAEMON_NAMESPACE = "aftershock"
PART_OF = {"app.kubernetes.io/part-of": "aftershock-demo-shop"}
CONTAINER_PORT = 8080
SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "runAsGroup": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def shop_namespace() -> dict[str, Any]:
    spec = yaml.safe_load(CLUSTER_FILE.read_text())
    return next(ns for ns in spec["namespaces"] if ns["name"] == "shop")


def _env(workload: dict[str, Any]) -> list[dict[str, str]]:
    service = workload.get("service") or {}
    env = [{"name": "AFTERSHOCK_DEMO_SERVICE", "value": workload["name"]}]
    if service.get("depends_on"):
        env.append({"name": "AFTERSHOCK_DEMO_DEPENDS_ON", "value": ",".join(service["depends_on"])})
    unavailable = service.get("unavailable") or {}
    if "status" in unavailable:
        env.append(
            {"name": "AFTERSHOCK_DEMO_UNAVAILABLE_STATUS", "value": str(unavailable["status"])}
        )
    if "delay" in unavailable:
        env.append(
            {"name": "AFTERSHOCK_DEMO_UNAVAILABLE_DELAY", "value": str(unavailable["delay"])}
        )
    return env


def deployment(workload: dict[str, Any], namespace: str) -> dict[str, Any]:
    name, labels = workload["name"], dict(workload["labels"])
    probe = {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 2}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {**labels, **PART_OF}},
        "spec": {
            "replicas": workload.get("replicas", 1),
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": workload.get("grace_period", 30),
                    "enableServiceLinks": False,
                    "automountServiceAccountToken": False,
                    "securityContext": POD_SECURITY,
                    "containers": [
                        {
                            "name": "app",
                            "image": f"{IMAGE}:{TAG}",
                            "imagePullPolicy": "IfNotPresent",
                            "args": ["demo-app"],
                            "env": _env(workload),
                            "ports": [
                                {"name": "http", "containerPort": CONTAINER_PORT, "protocol": "TCP"}
                            ],
                            "readinessProbe": probe,
                            "livenessProbe": {
                                **probe,
                                "httpGet": {"path": "/healthz", "port": "http"},
                            },
                            "resources": {
                                "requests": {"cpu": "10m", "memory": "48Mi"},
                                "limits": {"memory": "128Mi"},
                            },
                            "securityContext": SECURITY,
                        }
                    ],
                },
            },
        },
    }


def service(workload: dict[str, Any], namespace: str) -> dict[str, Any]:
    port = (workload.get("service") or {}).get("port", 80)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": workload["name"],
            "namespace": namespace,
            "labels": {**workload["labels"], **PART_OF},
        },
        "spec": {
            "selector": dict(workload["labels"]),
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def pdb(spec: dict[str, Any], namespace: str) -> dict[str, Any]:
    body: dict[str, Any] = {"selector": {"matchLabels": dict(spec["selector"])}}
    if "min_available" in spec:
        body["minAvailable"] = spec["min_available"]
    if "max_unavailable" in spec:
        body["maxUnavailable"] = spec["max_unavailable"]
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": spec["name"], "namespace": namespace, "labels": dict(PART_OF)},
        "spec": body,
    }


def shop_objects(namespace: str = "shop") -> dict[str, list[dict[str, Any]]]:
    """{file name: objects} for the shop's workloads, in `namespace`."""
    shop = shop_namespace()
    files = {}
    for workload in shop["workloads"]:
        objects = [deployment(workload, namespace)]
        if workload.get("service") is not None:
            objects.append(service(workload, namespace))
        files[f"{workload['name']}.yaml"] = objects
    files["pdb.yaml"] = [pdb(p, namespace) for p in shop.get("pdbs", [])]
    return files


def catalog_configmap() -> dict[str, Any]:
    files = sorted(p for p in CATALOG.iterdir() if p.suffix in {".yaml", ".yml", ".json"})
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": CATALOG_CONFIGMAP,
            "namespace": DAEMON_NAMESPACE,
            "labels": dict(PART_OF),
        },
        "data": {p.name: p.read_text() for p in files},
    }


def helm_values() -> dict[str, Any]:
    """`helm install aftershock deploy/helm/aftershock -n aftershock -f helm-values.yaml`:
    the daemon on the shop with the demo catalog and the global limits `aftershock demo`
    loosens (max_percent 100, min_ready_replicas 0), so the seed-001 story, killing the only
    greeter, can unfold; each experiment's own limits and the PDB still apply."""
    return {
        "image": {"repository": IMAGE, "tag": TAG, "pullPolicy": "IfNotPresent"},
        "dryRun": False,
        "existingCatalogConfigMap": CATALOG_CONFIGMAP,
        "persistence": {"enabled": False},
        "settings": {
            "safety": {
                "max_percent": 100,
                "min_ready_replicas": 0,
                "protected_namespaces": [
                    "kube-system",
                    "kube-public",
                    "kube-node-lease",
                    DAEMON_NAMESPACE,
                ],
            }
        },
    }


def files() -> dict[str, list[dict[str, Any]]]:
    shop = shop_namespace()
    namespaces = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "shop", "labels": {**shop.get("labels", {}), **PART_OF}},
        },
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": DAEMON_NAMESPACE, "labels": dict(PART_OF)},
        },
    ]
    out = {"namespaces.yaml": namespaces, **shop_objects(), "catalog.yaml": [catalog_configmap()]}
    resources = list(out)
    out["helm-values.yaml"] = [helm_values()]
    out["kustomization.yaml"] = [
        {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": resources,
            "images": [{"name": IMAGE, "newTag": TAG}],
        }
    ]
    return out


class _Literal(str):
    """Multi-line strings (the catalog files) as YAML block scalars: readable diffs."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def _blocks(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _blocks(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blocks(v) for v in value]
    if (
        isinstance(value, str)
        and "\n" in value
        and not any(line.endswith(" ") for line in value.splitlines())
    ):
        return _Literal(value)
    return value


HEADER = (
    "# Generated by deploy/examples/shop/generate.py from config/demo/cluster.yaml; do not edit.\n"
)


def render() -> dict[str, str]:
    return {
        name: HEADER
        + yaml.dump_all([_blocks(o) for o in objects], Dumper=_Dumper, sort_keys=False, width=100)
        for name, objects in files().items()
    }


def main() -> int:
    for name, text in render().items():
        (HERE / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
