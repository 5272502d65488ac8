"""Server-side printing (`meta.k8s.io/v1 Table`), so `kubectl get` shows the usual columns."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
Column = tuple[str, str, Callable[[Obj], Any], int]  # name, type, cell, priority (1 = -o wide)


def age(stamp: str | None) -> str:
    if not stamp:
        return "<unknown>"
    try:
        then = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return "<unknown>"
    seconds = max(0, int(time.time() - then))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    return f"{hours}h" if hours < 48 else f"{hours // 24}d"


def _status(o: Obj) -> dict[str, Any]:
    value: dict[str, Any] = o.get("status") or {}
    return value


def _spec(o: Obj) -> dict[str, Any]:
    value: dict[str, Any] = o.get("spec") or {}
    return value


def _pod_status(pod: Obj) -> str:
    if "deletionTimestamp" in pod["metadata"]:
        return "Terminating"
    for container in _status(pod).get("containerStatuses") or []:
        state = container.get("state") or {}
        if "waiting" in state:
            return str(state["waiting"].get("reason", "Waiting"))
    phase = _status(pod).get("phase", "Pending")
    if phase == "Pending" and _spec(pod).get("nodeName"):
        return "ContainerCreating"
    return str(phase)


def _pod_ready(pod: Obj) -> str:
    statuses = _status(pod).get("containerStatuses") or []
    total = len(_spec(pod).get("containers") or statuses)
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _restarts(pod: Obj) -> int:
    return sum(s.get("restartCount", 0) for s in _status(pod).get("containerStatuses") or [])


def _none(_: Obj) -> str:
    return "<none>"


def _name(o: Obj) -> str:
    return str(o["metadata"]["name"])


def _age(o: Obj) -> str:
    return age(o["metadata"].get("creationTimestamp"))


COLUMNS: dict[str, list[Column]] = {
    "pods": [
        ("Name", "string", _name, 0),
        ("Ready", "string", _pod_ready, 0),
        ("Status", "string", _pod_status, 0),
        ("Restarts", "string", lambda o: str(_restarts(o)), 0),
        ("Age", "string", _age, 0),
        ("IP", "string", lambda o: _status(o).get("podIP", "<none>"), 1),
        ("Node", "string", lambda o: _spec(o).get("nodeName", "<none>"), 1),
    ],
    "deployments.apps": [
        ("Name", "string", _name, 0),
        (
            "Ready",
            "string",
            lambda o: f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 1)}",
            0,
        ),
        ("Up-to-date", "integer", lambda o: _status(o).get("updatedReplicas", 0), 0),
        ("Available", "integer", lambda o: _status(o).get("availableReplicas", 0), 0),
        ("Age", "string", _age, 0),
    ],
    "replicasets.apps": [
        ("Name", "string", _name, 0),
        ("Desired", "integer", lambda o: _spec(o).get("replicas", 1), 0),
        ("Current", "integer", lambda o: _status(o).get("replicas", 0), 0),
        ("Ready", "integer", lambda o: _status(o).get("readyReplicas", 0), 0),
        ("Age", "string", _age, 0),
    ],
    "statefulsets.apps": [
        ("Name", "string", _name, 0),
        (
            "Ready",
            "string",
            lambda o: f"{_status(o).get('readyReplicas', 0)}/{_spec(o).get('replicas', 1)}",
            0,
        ),
        ("Age", "string", _age, 0),
    ],
    "daemonsets.apps": [
        ("Name", "string", _name, 0),
        ("Desired", "integer", lambda o: _status(o).get("desiredNumberScheduled", 0), 0),
        ("Current", "integer", lambda o: _status(o).get("currentNumberScheduled", 0), 0),
        ("Ready", "integer", lambda o: _status(o).get("numberReady", 0), 0),
        ("Up-to-date", "integer", lambda o: _status(o).get("updatedNumberScheduled", 0), 0),
        ("Available", "integer", lambda o: _status(o).get("numberAvailable", 0), 0),
        ("Age", "string", _age, 0),
    ],
    "events": [
        (
            "Last Seen",
            "string",
            lambda o: age(
                o.get("lastTimestamp")
                or o.get("deprecatedLastTimestamp")
                or o["metadata"].get("creationTimestamp")
            ),
            0,
        ),
        ("Type", "string", lambda o: o.get("type", ""), 0),
        ("Reason", "string", lambda o: o.get("reason", ""), 0),
        (  # core/v1 says involvedObject and message, events.k8s.io/v1 regarding and note
            "Object",
            "string",
            lambda o: (
                f"{(o.get('involvedObject') or o.get('regarding') or {}).get('kind', '').lower()}/"
                f"{(o.get('involvedObject') or o.get('regarding') or {}).get('name', '')}"
            ),
            0,
        ),
        ("Message", "string", lambda o: o.get("message") or o.get("note") or "", 0),
    ],
    "nodes": [
        ("Name", "string", _name, 0),
        (
            "Status",
            "string",
            lambda o: "Ready,SchedulingDisabled" if _spec(o).get("unschedulable") else "Ready",
            0,
        ),
        ("Roles", "string", _none, 0),
        ("Age", "string", _age, 0),
        (
            "Version",
            "string",
            lambda o: (_status(o).get("nodeInfo") or {}).get("kubeletVersion", ""),
            0,
        ),
    ],
    "namespaces": [
        ("Name", "string", _name, 0),
        ("Status", "string", lambda o: _status(o).get("phase", "Active"), 0),
        ("Age", "string", _age, 0),
    ],
    "services": [
        ("Name", "string", _name, 0),
        ("Type", "string", lambda o: _spec(o).get("type", "ClusterIP"), 0),
        ("Cluster-IP", "string", lambda o: _spec(o).get("clusterIP", "<none>"), 0),
        ("External-IP", "string", _none, 0),
        (
            "Port(s)",
            "string",
            lambda o: ",".join(
                f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in _spec(o).get("ports") or []
            ),
            0,
        ),
        ("Age", "string", _age, 0),
    ],
    "poddisruptionbudgets.policy": [
        ("Name", "string", _name, 0),
        ("Min Available", "string", lambda o: str(_spec(o).get("minAvailable", "N/A")), 0),
        ("Max Unavailable", "string", lambda o: str(_spec(o).get("maxUnavailable", "N/A")), 0),
        ("Allowed Disruptions", "integer", lambda o: _status(o).get("disruptionsAllowed", 0), 0),
        ("Age", "string", _age, 0),
    ],
}
DEFAULT: list[Column] = [("Name", "string", _name, 0), ("Age", "string", _age, 0)]


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def to_table(storage: str, objects: list[Obj], metadata: dict[str, Any], include: str) -> Obj:
    columns = COLUMNS.get(storage, DEFAULT)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [cell(obj) for _, _, cell, _ in columns]}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": [
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" else "",
                "description": "",
                "priority": prio,
            }
            for name, kind, _, prio in columns
        ],
        "rows": rows,
    }
