"""The per-run budget as pure accounting: whatever sequence of requests a run makes, the
guard (with the ledger) and `admit` never let cumulative kills exceed the run's limits."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.engine.budget import MemoryRecorder, RunBudget
from daemon.safety.budget import Intent, Ledger, admit, merged_history
from daemon.safety.guard import History, Limits, Plan, Request, Workload, plan

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WORKLOADS = [("shop", "Deployment", f"w{i}") for i in range(3)]


def limits(**overrides: Any) -> Limits:
    values: dict[str, Any] = {
        "max_pods": 3,
        "max_percent": 50,
        "min_ready": (0,),
        "require_workload_ready": False,
        "respect_pdb": False,
        "cooldown": timedelta(0),
        "max_disruptions_per_day": 100,
        "on_limit": "cap",
        "require_opt_in": False,
        "opt_in_label": "aftershock/enabled",
        "protected_namespaces": frozenset({"kube-system"}),
        "allow_bare_pods": False,
    }
    values.update(overrides)
    return Limits(**values)


def pod(key: tuple[str, str, str], index: int) -> dict[str, Any]:
    return {
        "metadata": {
            "namespace": key[0],
            "name": f"{key[2]}-{index}",
            "uid": f"{key[2]}-{index}",
            "ownerReferences": [{"kind": "ReplicaSet", "name": key[2], "controller": True}],
        },
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


requests = st.lists(
    st.tuples(
        st.sampled_from(WORKLOADS),
        st.sampled_from(["one", "all", "fixed", "fixed-percent", "random-max-percent"]),
        st.integers(1, 10),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(
    requests=requests,
    replicas=st.integers(1, 8),
    max_pods=st.integers(1, 6),
    max_percent=st.sampled_from([10, 25, 50, 100]),
    on_limit=st.sampled_from(["cap", "refuse"]),
    seed=st.integers(0, 2**16),
)
def test_cumulative_kills_never_exceed_the_run_limits(
    requests, replicas, max_pods, max_percent, on_limit, seed
) -> None:
    """Each request plans with what the run already spent; each pod is admitted again before
    its act. Pods killed are gone; the ledger is the run's ground truth."""
    rng = random.Random(seed)
    lim = limits(max_pods=max_pods, max_percent=max_percent, on_limit=on_limit)
    budget = RunBudget(MemoryRecorder())
    alive = {key: [pod(key, i) for i in range(replicas)] for key in WORKLOADS}
    killed: dict[tuple[str, str, str], int] = {}
    for key, mode, value in requests:
        pods = alive[key]
        workloads = {key: Workload(key, replicas, len(pods))}
        result = plan(
            pods,
            Request(mode, value),  # type: ignore[arg-type]
            workload_of={f"{key[0]}/{p['metadata']['name']}": key for p in pods},
            workloads=workloads,
            namespace_labels={},
            budgets=[],
            limits=lim,
            history=budget.history(NOW),
            now=NOW,
            rng=rng,
            spent=dict(budget.ledger.per_workload),
            spent_total=budget.ledger.total,
        )
        if not isinstance(result, Plan):
            continue
        for target in result.targets:
            ready_now = len(alive[key])
            if admit(
                budget.ledger,
                key,
                desired=replicas,
                ready_now=ready_now,
                limits=lim,
                disrupted_last_24h=budget.history(NOW).disrupted_last_24h,
            ):
                break
            uid = target.pod["metadata"]["uid"]
            budget.intent("run", key, pod=uid, uid=uid, method="delete", now=NOW)
            alive[key] = [p for p in alive[key] if p["metadata"]["uid"] != uid]
            killed[key] = killed.get(key, 0) + 1
    assert sum(killed.values()) <= max_pods
    for count in killed.values():
        assert count <= max_percent / 100 * replicas
    assert budget.ledger.total == sum(killed.values())


@given(
    spent=st.integers(0, 10),
    count=st.integers(1, 5),
    ready=st.integers(0, 10),
    desired=st.integers(1, 10),
    max_pods=st.integers(1, 10),
    floor=st.integers(0, 5),
    day=st.integers(0, 20),
)
def test_admit_is_exactly_the_limits(spent, count, ready, desired, max_pods, floor, day) -> None:
    lim = limits(max_pods=max_pods, max_percent=50, min_ready=(floor,), max_disruptions_per_day=20)
    ledger = Ledger()
    if spent:
        ledger.spend(WORKLOADS[0], NOW, count=spent)
    verdict = admit(
        ledger,
        WORKLOADS[0],
        desired=desired,
        ready_now=ready,
        limits=lim,
        disrupted_last_24h=day,
        count=count,
    )
    ok = (
        spent + count <= max_pods
        and spent + count <= desired // 2
        and ready - count >= floor
        and day + count <= 20
    )
    assert (verdict is None) == ok


def test_a_failed_request_is_given_back_and_uncertain_counts() -> None:
    budget = RunBudget(MemoryRecorder())
    key = WORKLOADS[0]
    first = budget.intent("r", key, pod="a", uid="a", method="delete", now=NOW)
    second = budget.intent("r", key, pod="b", uid="b", method="delete", now=NOW)
    budget.settle(first, key, "a", "failed")
    budget.settle(second, key, "b", "uncertain")
    assert budget.ledger.total == 1
    assert budget.history(NOW).disrupted_last_24h == 1
    assert budget.history(NOW).last_disruption[key] == NOW


def test_history_merges_the_persisted_and_the_run() -> None:
    key = WORKLOADS[1]
    earlier = NOW - timedelta(hours=1)
    persisted = History({key: earlier}, 5)
    ledger = Ledger()
    ledger.spend(key, NOW)
    merged = merged_history(persisted, ledger)
    assert merged.last_disruption[key] == NOW
    assert merged.disrupted_last_24h == 5  # the recorder already holds this run's intents


def test_an_intent_left_by_a_crash_counts() -> None:
    recorder = MemoryRecorder()
    recorder.record_intent(Intent("crashed", WORKLOADS[2], "p", "u", "delete", NOW.timestamp()))
    history = RunBudget(recorder).history(NOW + timedelta(minutes=1))
    assert history.last_disruption[WORKLOADS[2]] == NOW
    assert history.disrupted_last_24h == 1


def test_store_intents_count_until_failed_and_old_files_migrate(tmp_path) -> None:
    import sqlite3

    from daemon.store.history import HistoryStore

    path = tmp_path / "h.db"
    old = sqlite3.connect(path)  # a history written before intents existed
    old.execute(
        "CREATE TABLE disruptions (run_id TEXT NOT NULL, namespace TEXT NOT NULL, kind TEXT NOT"
        " NULL, workload TEXT NOT NULL, pod TEXT NOT NULL, method TEXT NOT NULL, at REAL NOT NULL)"
    )
    old.execute(
        "INSERT INTO disruptions VALUES ('old', 'shop', 'Deployment', 'w0', 'p', 'delete', ?)",
        (NOW.timestamp() - 60,),
    )
    old.commit()
    old.close()
    store = HistoryStore(path, retention=timedelta(days=1), max_runs_per_experiment=5).open()
    key = WORKLOADS[1]
    kept = store.record_intent(Intent("r", key, "a", "ua", "delete", NOW.timestamp()))
    lost = store.record_intent(Intent("r", key, "b", "ub", "delete", NOW.timestamp() + 1))
    history = store.guard_history(NOW)
    assert history.disrupted_last_24h == 3  # the old row and both pending intents
    store.settle_disruption(lost, "failed", "404")
    store.settle_disruption(kept, "done")
    history = store.guard_history(NOW)
    assert history.disrupted_last_24h == 2
    assert history.last_disruption[key].timestamp() == NOW.timestamp()
    assert [r["state"] for r in store.disruptions("r")] == ["done", "failed"]
    pending = store.record_intent(Intent("crashed", key, "c", "uc", "evict", NOW.timestamp()))
    assert store.settle_pending("crashed", "crash") == 1
    assert store.disruptions("crashed")[0]["state"] == "uncertain"
    assert store.guard_history(NOW).disrupted_last_24h == 3
    assert pending
    store.close()
