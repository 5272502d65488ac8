"""core/v1 Events and events.k8s.io/v1 Events are one stored object seen two ways."""

from __future__ import annotations

from typing import Any

_RENAMES = (  # core field, events.k8s.io field
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("source", "deprecatedSource"),
)
_SHARED = (
    "metadata",
    "reason",
    "type",
    "eventTime",
    "series",
    "action",
    "related",
    "reportingInstance",
)


def to_events_v1(core: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Event", "apiVersion": "events.k8s.io/v1"}
    for key in _SHARED:
        if key in core:
            out[key] = core[key]
    for old, new in _RENAMES:
        if old in core:
            out[new] = core[old]
    if "reportingController" not in out and isinstance(core.get("source"), dict):
        out["reportingController"] = core["source"].get("component", "")
    return out


def to_core(events_v1: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "Event", "apiVersion": "v1"}
    for key in _SHARED:
        if key in events_v1:
            out[key] = events_v1[key]
    for old, new in _RENAMES:
        if new in events_v1:
            out[old] = events_v1[new]
    if "source" not in out and events_v1.get("reportingController"):
        out["source"] = {"component": events_v1["reportingController"]}
    return out
