"""Every disruption declares the RBAC it needs (daemon.disruptions); the chart grants exactly
the pod disruptions by default and the node drain only with nodeDrills.enabled."""

from __future__ import annotations

from daemon import disruptions
from tests.e2e.test_helm_chart import by_kind, render


def granted(values: dict) -> set[tuple[str, str, str]]:
    (role,) = by_kind(render(values), "ClusterRole")
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule.get("verbs", [])
    }


def needed(*names: str) -> set[tuple[str, str, str]]:
    return {(v.group, v.resource, v.verb) for v in disruptions.verbs(list(names))}


def test_the_chart_grants_what_each_disruption_declares() -> None:
    default = granted({})
    assert needed("delete", "evict") <= default
    assert not needed("drain") <= default  # no node patch unless node drills are enabled
    assert ("", "nodes", "patch") not in default
    assert needed("delete", "evict", "drain") <= granted({"nodeDrills": {"enabled": True}})


def test_the_registry_is_the_list() -> None:
    assert set(disruptions.registry()) == {"delete", "evict", "drain"}
    assert {d.counts for d in disruptions.registry().values()} == {"pods", "nodes"}
