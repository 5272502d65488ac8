"""The recovery predicate: the owner's status alone must not declare a workload recovered."""

from __future__ import annotations

from daemon.recovery import RecoveryTracker, _State


def pod(name: str, uid: str, *, ready: bool = True, terminating: bool = False) -> dict:
    meta = {"name": name, "uid": uid, "creationTimestamp": "2030-01-01T00:00:00Z"}
    if terminating:
        meta["deletionTimestamp"] = "2030-01-01T00:00:01Z"
    return {
        "metadata": meta,
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def owner(ready: int, replicas: int = 3) -> dict:
    return {
        "kind": "Deployment",
        "metadata": {"generation": 2},
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": 2, "readyReplicas": ready},
    }


def tracker() -> RecoveryTracker:
    return RecoveryTracker(
        None,  # type: ignore[arg-type] - _check never calls the API
        "shop",
        "Deployment",
        "greeter",
        started_at=0.0,
        known_uids={"a", "b", "c"},
        killed_uids={"a"},
        timeout=10,
    )


def test_lagging_owner_status_with_killed_pod_still_listed_is_not_recovered() -> None:
    t = tracker()
    state = _State(owner(3), {n: pod(n, n) for n in ("a", "b", "c")})
    assert t._check(state, 1.0) is False
    assert t.result.recovered is False


def test_killed_pod_gone_but_no_replacement_yet_is_not_recovered() -> None:
    t = tracker()
    state = _State(owner(3), {n: pod(n, n) for n in ("b", "c")})
    assert t._check(state, 1.0) is False


def test_terminating_pod_blocks_recovery() -> None:
    t = tracker()
    pods = {n: pod(n, n) for n in ("b", "c", "d")}
    pods["x"] = pod("x", "x", terminating=True)
    assert t._check(_State(owner(3), pods), 1.0) is False


def test_replacement_ready_and_owner_ready_is_recovered_at_the_event_time() -> None:
    t = tracker()
    state = _State(owner(2), {n: pod(n, n) for n in ("b", "c")})
    state.pods["d"] = pod("d", "d", ready=False)
    assert t._check(state, 1.0) is False
    state.pods["d"] = pod("d", "d")
    assert t._check(state, 2.5) is False  # pods ready, owner status not yet
    assert t.result.first_replacement_ready_at == 2.5
    state.owner = owner(3)
    assert t._check(state, 2.75) is True
    assert (t.result.recovered_at, t.result.recovery_seconds) == (2.75, 2.75)
