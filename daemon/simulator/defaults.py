"""Defaulting as the API server does it on every write, for the fields clients read back.

`kubectl rollout status` refuses a DaemonSet or StatefulSet without `updateStrategy`, and
clients expect a Service to carry its `clusterIP`; a real server fills these in before the
object is stored, so the simulator does too (per kind, a registry of defaulters).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
Allocate = Callable[[], str]


def _setdefaults(target: dict[str, Any], defaults: dict[str, Any]) -> None:
    for key, value in defaults.items():
        if key not in target or target[key] is None:
            target[key] = copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(target[key], dict):
            _setdefaults(target[key], value)


def _deployment(obj: Obj, _: Allocate) -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(spec, {"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600})
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _setdefaults(strategy, {"rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})


def _statefulset(obj: Obj, _: Allocate) -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(
        spec,
        {
            "replicas": 1,
            "podManagementPolicy": "OrderedReady",
            "revisionHistoryLimit": 10,
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Retain",
                "whenScaled": "Retain",
            },
        },
    )
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _setdefaults(strategy, {"rollingUpdate": {"partition": 0}})


def _daemonset(obj: Obj, _: Allocate) -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(spec, {"revisionHistoryLimit": 10})
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _setdefaults(strategy, {"rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})


def _replicaset(obj: Obj, _: Allocate) -> None:
    _setdefaults(obj.setdefault("spec", {}), {"replicas": 1})


def _service(obj: Obj, allocate: Allocate) -> None:
    spec = obj.setdefault("spec", {})
    _setdefaults(
        spec,
        {
            "type": "ClusterIP",
            "sessionAffinity": "None",
            "internalTrafficPolicy": "Cluster",
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
        },
    )
    if spec["type"] != "ExternalName" and not spec.get("clusterIP"):
        spec["clusterIP"] = allocate()
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "port" in port:
                port.setdefault("targetPort", port["port"])
    obj.setdefault("status", {"loadBalancer": {}})


DEFAULTERS: dict[str, Callable[[Obj, Allocate], None]] = {
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "DaemonSet": _daemonset,
    "ReplicaSet": _replicaset,
    "Service": _service,
}


def apply_defaults(kind: str, obj: Obj, allocate_ip: Allocate) -> Obj:
    """Fill in `obj`'s defaults in place (and return it); kinds without defaulters pass."""
    defaulter = DEFAULTERS.get(kind)
    if defaulter is not None:
        defaulter(obj, allocate_ip)
    return obj
