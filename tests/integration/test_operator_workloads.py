"""Pods run by operators (a custom owner aftershock cannot read): grouped by the owner's uid,
limited by their siblings, recovered when as many are Ready again; judged by ground truth."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import shop, wait_for
from tests.integration.engine_helpers import run_experiment

OPERATORS = {
    "stable": {"naming": "stable", "recreate_delay": "300ms"},  # StrimziPodSet: same names
    "generated": {  # CloudNativePG-like: new names
        "kind": "Cluster",
        "api_version": "postgresql.cnpg.io/v1",
        "naming": "generated",
        "recreate_delay": "300ms",
    },
    "rollout": {  # Argo Rollouts: Rollout -> ReplicaSet -> pods
        "kind": "Rollout",
        "api_version": "argoproj.io/v1alpha1",
        "naming": "generated",
        "pods_via": "ReplicaSet",
    },
}
KINDS = {"stable": "StrimziPodSet", "generated": "Cluster", "rollout": "Rollout"}


def operator_cluster(style: str) -> dict[str, Any]:
    spec = shop()
    spec["namespaces"][0]["workloads"].append(
        {
            "name": "kafka",
            "kind": "Operator",
            "replicas": 3,
            "labels": {"app": "kafka"},
            "grace_period": 1,
            "operator": OPERATORS[style],
        }
    )
    return spec


def kill(owner_kinds: list[str] | None = None, **arguments: Any) -> dict[str, Any]:
    return {
        "type": "action",
        "name": "kill-a-kafka-pod",
        "provider": {
            "type": "python",
            "module": "aftershock.pods",
            "func": "kill",
            "arguments": {
                "ns": "shop",
                "label_selector": "app=kafka",
                **({"owner_kinds": owner_kinds} if owner_kinds else {}),
                **arguments,
            },
        },
    }


def experiment(action: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": "Losing a broker keeps the cluster serving",
        "description": "operator-owned pods",
        "steady-state-hypothesis": {
            "title": "brokers run",
            "probes": [
                {
                    "type": "probe",
                    "name": "kafka-running",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "chaosk8s.pod.probes",
                        "func": "pods_in_phase",
                        "arguments": {
                            "label_selector": "app=kafka",
                            "phase": "Running",
                            "ns": "shop",
                        },
                    },
                }
            ],
        },
        "method": [{**action, "pauses": {"after": 2}}],  # replaced before "after"
        "rollbacks": [],
    }


def kafka_ready(sim) -> None:
    wait_for(
        lambda: (
            len(
                [
                    p
                    for p in sim.core.list_namespaced_pod("shop", label_selector="app=kafka").items
                    if p.status.phase == "Running"
                    and not p.metadata.deletion_timestamp
                    and any(
                        c.type == "Ready" and c.status == "True" for c in p.status.conditions or []
                    )
                ]
            )
            == 3
        ),
        10,
        "kafka ready",
    )


@pytest.mark.parametrize("style", ["stable", "generated", "rollout"])
def test_operator_owned_pods_are_grouped_limited_and_recovered(make_sim, style: str) -> None:
    sim = make_sim(operator_cluster(style))
    sim.ready()
    kafka_ready(sim)
    kind = KINDS[style]
    qualified = {
        "stable": "StrimziPodSet.core.strimzi.io",
        "generated": "Cluster.postgresql.cnpg.io",
        "rollout": "Rollout.argoproj.io",
    }[style]
    result = run_experiment(
        sim,
        experiment(kill([qualified], mode="fixed", value=1)),
        aftershock={"recovery": {"timeout": "20s"}},
    )
    record = result.journal["aftershock"]
    assert result.outcome == "passed", (result.reason, record.get("plans"), record.get("recovery"))
    (truth,) = sim.timeline()
    assert (truth["workload_kind"], truth["workload_name"]) == (kind, "kafka")
    assert [d["workload"] for d in record["disrupted"]] == [f"shop/{kind}/kafka"]
    (recovery,) = record["recovery"]
    assert (recovery["kind"], recovery["name"], recovery["recovered"]) == (kind, "kafka", True)
    assert recovery["measured"] is True
    truth_seconds = truth["workload_ready_at"] - truth["requested_at"]
    assert abs(recovery["recovery_seconds"] - truth_seconds) < 0.15, (recovery, truth)
    if style == "stable":
        assert truth["replacement"] == truth["pod"]  # the same name came back
    else:
        assert truth["replacement"] != truth["pod"]


def test_limits_count_the_owners_siblings(make_sim) -> None:
    sim = make_sim(operator_cluster("stable"))
    sim.ready()
    kafka_ready(sim)
    # max_percent 50 of 3 siblings allows 1: asking for 2 is refused, nothing disrupted
    result = run_experiment(
        sim,
        experiment(kill(mode="fixed", value=2)),
        safety={"max_percent": 50},
    )
    assert (result.outcome, result.reason) == ("refused", "max_percent")
    detail = result.journal["aftershock"]["plans"][0]["refused"]["detail"]
    assert "of 3 pods of shop/StrimziPodSet/kafka" in detail, detail
    assert sim.timeline() == []


def test_owner_kinds_with_a_group_select_only_that_group(make_sim) -> None:
    sim = make_sim(operator_cluster("stable"))
    sim.ready()
    kafka_ready(sim)
    result = run_experiment(sim, experiment(kill(["StrimziPodSet.example.com"])))
    assert (result.outcome, result.reason) == ("refused", "no_targets")
    assert sim.timeline() == []
