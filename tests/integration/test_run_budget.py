"""Issue 12, findings 1 and 4 (engine side): one disruption budget for the whole run, intents
recorded before the act. Kills are counted from the simulator's timeline (ground truth)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from daemon.engine.budget import RunBudget
from daemon.safety.budget import Intent
from daemon.store.history import HistoryStore, StoreError
from tests.integration.conftest import shop
from tests.integration.engine_helpers import run_experiment, scale_webapp

WEB4 = ("shop", "Deployment", "web4")


def four_replicas() -> dict[str, Any]:
    """The fast shop plus two 4-replica Deployments without PDBs."""
    spec = shop()
    spec["namespaces"][0]["workloads"] += [
        {"name": name, "replicas": 4, "labels": {"app": name}, "grace_period": 1}
        for name in ("web4", "api4")
    ]
    return spec


def kill(name: str, app: str = "web4", *, mode: str = "fixed", value: int = 2, **extra: Any):
    return {
        "type": "action",
        "name": name,
        "provider": {
            "type": "python",
            "module": "aftershock.pods",
            "func": "kill",
            "arguments": {
                "ns": "shop",
                "label_selector": f"app={app}",
                "mode": mode,
                "value": value,
            },
        },
        **extra,
    }


def experiment(method: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {"title": "budget", "description": "d", "method": method, "rollbacks": [], **more}


def opened(kind: type[HistoryStore], tmp_path) -> HistoryStore:
    return kind(tmp_path / "h.db", retention=timedelta(days=1), max_runs_per_experiment=5).open()


def kills_per_workload(sim) -> Counter[tuple[str, str, str]]:
    return Counter((d["namespace"], d["workload_kind"], d["workload_name"]) for d in sim.timeline())


def test_four_background_kills_share_one_budget(make_sim) -> None:
    """Finding 1: 4 background kills of 2 on a 4-replica workload under max_pods 2,
    max_percent 50, min_ready 2 killed all 4; the run's budget allows 2 in total."""
    sim = make_sim(four_replicas())
    sim.ready()
    method = [kill(f"kill-{i}", background=True) for i in range(4)]
    radius = {"blast_radius": {"max_pods": 2, "max_percent": 50, "min_ready_replicas": 2}}
    result = run_experiment(sim, experiment(method), aftershock=radius)
    assert kills_per_workload(sim)[WEB4] <= 2
    assert len(sim.timeline()) <= 2
    assert result.outcome != "passed"
    assert (result.outcome, result.reason) == ("aborted", "budget_exhausted")


def test_sequential_kills_under_max_pods_1_kill_one(make_sim) -> None:
    sim = make_sim(four_replicas())
    sim.ready()
    method = [
        kill(f"kill-{i}", app=app, mode="one", value=1)
        for i, app in enumerate(["web4", "api4", "web4"])
    ]
    result = run_experiment(sim, experiment(method), aftershock={"blast_radius": {"max_pods": 1}})
    assert len(sim.timeline()) == 1
    assert (result.outcome, result.reason) == ("aborted", "budget_exhausted")
    refusal = result.journal["aftershock"]["refusal"]
    assert refusal["reason"] == "max_pods"


def test_a_workload_disrupted_earlier_in_the_run_is_in_cooldown(make_sim) -> None:
    sim = make_sim(four_replicas())
    sim.ready()
    method = [
        kill("first", mode="one", value=1, pauses={"after": 1.0}),  # web4 ready again
        kill("second", mode="one", value=1),
    ]
    result = run_experiment(sim, experiment(method), safety={"cooldown": "10m", "max_pods": 5})
    assert kills_per_workload(sim)[WEB4] == 1
    assert result.journal["aftershock"]["refusal"]["reason"] == "cooldown"


def test_a_kill_as_continuous_probe_never_runs(make_sim) -> None:
    """Finding 1: a kill as a `continuously` steady-state probe killed 4 pods and the run
    said `refused` (no chaos). Probes are read-only (I2): even past validation, the engine
    refuses a mutating provider as a probe before calling it, so nothing is killed and the
    run cannot claim a verdict."""
    sim = make_sim(four_replicas())
    sim.ready()
    probe = kill("probe-kill", mode="one", value=1)
    probe["type"] = "probe"
    probe["tolerance"] = {"type": "jsonpath", "path": "$.method", "expect": "delete"}
    doc = experiment(
        [
            {
                "type": "action",
                "name": "wait",
                "provider": {"type": "process", "path": "true"},
                "pauses": {"after": 1.0},
            }
        ],
        **{"steady-state-hypothesis": {"title": "kill as probe", "probes": [probe]}},
    )
    result = run_experiment(
        sim,
        doc,
        aftershock={
            "blast_radius": {"max_pods": 1},
            "hypothesis": {"strategy": "continuously", "frequency": "100ms"},
        },
        safety={"process_allowlist": ["true"]},
    )
    assert sim.timeline() == []
    assert (result.outcome, result.reason) == ("failed", "invalid_configuration")
    assert "read-only" in result.journal["aftershock"]["error"], result.journal["aftershock"]


def test_intent_that_cannot_be_written_means_nothing_is_disrupted(make_sim, tmp_path) -> None:
    """I4: if the intent cannot be written, nothing is disrupted; the run ends failed."""

    class FullDisk(HistoryStore):
        def record_intent(self, intent: Intent) -> int:
            raise StoreError("disk full")

    store = opened(FullDisk, tmp_path)
    sim = make_sim(four_replicas())
    sim.ready()
    result = run_experiment(sim, experiment([kill("k", mode="one")]), budget=RunBudget(store))
    assert sim.timeline() == []
    assert (result.outcome, result.reason) == ("failed", "history_unavailable")
    assert "disk full" in result.journal["aftershock"]["error"]
    store.close()


@pytest.mark.parametrize("replicas", [6, 2], ids=["up", "down"])
def test_a_scale_whose_base_cannot_be_written_is_not_sent(make_sim, tmp_path, replicas) -> None:
    """A scale is judged only once the replicas the run first read (the base of its
    scale-up bound, which a replay after a crash bounds its scale-ups by) are in the history:
    when the disk refuses, neither a scale-up nor a scale-down leaves, and the run ends failed
    as for an intent that cannot be written. Ground truth: the replicas read back, no pod
    deleted."""

    class FullDisk(HistoryStore):
        def record_scale_base(self, run_id, workload, base) -> None:
            raise StoreError("disk full")

    store = opened(FullDisk, tmp_path)
    sim = make_sim(four_replicas())
    sim.ready()
    result = run_experiment(
        sim, experiment([scale_webapp(replicas, "web4")]), budget=RunBudget(store)
    )
    assert sim.apps.read_namespaced_deployment("web4", "shop").spec.replicas == 4
    assert sim.timeline() == []
    assert (result.outcome, result.reason) == ("failed", "history_unavailable")
    assert "disk full" in result.journal["aftershock"]["error"]
    assert store.disruptions() == []  # refused at the first read, before any intent
    store.close()


def test_intents_are_settled_in_the_history(make_sim, tmp_path) -> None:
    store = opened(HistoryStore, tmp_path)
    sim = make_sim(four_replicas())
    sim.ready()
    run_experiment(sim, experiment([kill("k", value=2)]), budget=RunBudget(store))
    rows = store.disruptions()
    assert [r["state"] for r in rows] == ["done", "done"]
    assert sorted(r["uid"] for r in rows) == sorted(d["pod_uid"] for d in sim.timeline())
    store.close()


def test_a_kill_in_the_rollbacks_spends_the_same_budget(make_sim) -> None:
    sim = make_sim(four_replicas())
    sim.ready()
    doc = experiment([kill("kill", mode="one", value=1)])
    doc["rollbacks"] = [kill("rollback-kill", app="api4", mode="one", value=1)]
    result = run_experiment(
        sim, doc, aftershock={"blast_radius": {"max_pods": 1}, "rollbacks": {"strategy": "always"}}
    )
    assert len(sim.timeline()) == 1
    assert "max_pods" in result.journal["rollbacks"][0]["exception"][-1]
