"""The claim rule for cordons (daemon/engine/claims.py), as properties.

The protocol: a claimer writes its claim on the node, then lists every node and goes ahead
only if `admit` accepts what it sees. Whatever claimers, limits and order of arrival, the
cordons that go ahead never exceed any claimer's `max_nodes` at the moment it went ahead,
nor leave fewer schedulable nodes than its floor: the last writer of any set of claimers
that all went ahead saw all the others.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.engine.claims import (
    CLAIM_ANNOTATION,
    CLAIM_TTL,
    Claim,
    ClaimRefusedError,
    NodesNow,
    admit,
    encode,
    expired,
    read_claim,
)

NODES = [f"node-{i}" for i in range(6)]
NOW = 1_000_000.0


def view(held: dict[str, str], claims: list[Claim], floor: int = 0) -> NodesNow:
    schedulable = frozenset(n for n in NODES if n not in held)
    return NodesNow(held, claims, schedulable, len(NODES), floor)


def node(name: str, annotation: str | None) -> dict:
    annotations = {} if annotation is None else {CLAIM_ANNOTATION: annotation}
    return {"metadata": {"name": name, "annotations": annotations}}


def test_slots_held_by_a_cordon_refuse_for_good_and_by_a_claim_for_a_retry() -> None:
    with pytest.raises(ClaimRefusedError, match="node-0: cordoned by run old") as cordon:
        admit(view({"node-0": "old"}, []), "node-2", "me", max_nodes=1, now=NOW)
    assert cordon.value.retry is False
    flying = [Claim("node-1", "other", NOW - 1)]
    with pytest.raises(ClaimRefusedError, match=r"max_nodes 1: .*in flight for run other") as claim:
        admit(view({}, flying), "node-2", "me", max_nodes=1, now=NOW)
    assert claim.value.retry is True


def test_our_own_claim_is_counted_once() -> None:
    mine = [Claim("node-2", "me", NOW)]
    admit(view({}, mine), "node-2", "me", max_nodes=1, now=NOW)
    with pytest.raises(ClaimRefusedError, match="being cordoned by run other"):
        admit(view({}, [Claim("node-2", "other", NOW)]), "node-2", "me", max_nodes=3, now=NOW)


def test_an_expired_claim_does_not_count_and_one_from_a_clock_ahead_does() -> None:
    stale = Claim("node-1", "crashed", NOW - CLAIM_TTL)
    admit(view({}, [stale]), "node-2", "me", max_nodes=1, now=NOW)
    assert expired([stale], NOW) == [stale]
    ahead = Claim("node-1", "other", NOW + 30)
    assert expired([ahead], NOW) == []
    with pytest.raises(ClaimRefusedError):
        admit(view({}, [ahead]), "node-2", "me", max_nodes=1, now=NOW)


def test_the_floor_counts_claims_in_flight_as_landed() -> None:
    flying = [Claim("node-1", "other", NOW)]
    small = NodesNow({}, flying, frozenset(NODES[:2]), 2, 1)
    with pytest.raises(
        ClaimRefusedError,
        match=r"min_schedulable_nodes 1: .*leave 0 .*of 2 \(cordons in flight: node-1\)",
    ):
        admit(small, "node-0", "me", max_nodes=5, now=NOW)
    admit(NodesNow({}, flying, frozenset(NODES[:3]), 3, 1), "node-0", "me", max_nodes=5, now=NOW)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        json.dumps({"run": "x"}),
        json.dumps({"run": 5, "at": 1.0}),
        json.dumps({"run": "x", "at": True}),
        '{"run": "x", "at": NaN}',
        '{"run": "x", "at": Infinity}',
        '{"run": "x", "at": 1' + "0" * 400 + "}",
        "[" * 50_000 + "]" * 50_000,
        json.dumps(["run", "at"]),
    ],
    ids=["json", "no-at", "run-type", "bool-at", "nan", "inf", "huge", "deep", "list"],
)
def test_an_unreadable_claim_fails_closed_naming_node_and_annotation(text: str) -> None:
    with pytest.raises(ClaimRefusedError, match=f"node node-3: annotation {CLAIM_ANNOTATION}"):
        read_claim(node("node-3", text))


@given(st.text(min_size=1, max_size=20), st.floats(NOW - 400, NOW + 60))
def test_claims_round_trip_through_the_annotation(run: str, at: float) -> None:
    claim = read_claim(node("node-1", encode(run, at)))
    assert claim is not None
    assert claim.run_id == run
    assert math.isclose(claim.at, at, abs_tol=1e-5)


# The world, one step at a time. A claimer writes its claim on a node (at `now`) and, at some
# later step, lists and judges ("judge"); a claim that went ahead may land ("land": claim
# and cordon swap in one write); a cordon may be lifted; time may pass. Expired claims are
# cleared before anyone judges (a write to that node, so their cordon can no longer land:
# the model drops them). Every claimer has the same limits, as the contract states them.
STEP = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(NODES)),
    st.tuples(st.just("judge"), st.integers(0, 7)),
    st.tuples(st.just("land"), st.integers(0, 7)),
    st.tuples(st.just("lift"), st.sampled_from(NODES)),
    st.tuples(st.just("wait"), st.floats(0, CLAIM_TTL * 0.6)),
)


@settings(max_examples=500)
@given(st.integers(1, 4), st.integers(0, 5), st.lists(STEP, max_size=60))
def test_claims_that_go_ahead_never_exceed_the_limits(
    max_nodes: int, floor: int, steps: list[tuple]
) -> None:
    now = NOW
    claims: dict[str, Claim] = {}  # node -> the claim on it (one per node: writes are CAS)
    ahead: set[str] = set()  # runs that judged and went ahead
    cordoned: dict[str, str] = {}
    runs = 0
    for step in steps:
        if step[0] == "write":
            name = step[1]
            if name in cordoned or name in claims:
                continue  # the conditional write finds the node claimed or cordoned
            runs += 1
            claims[name] = Claim(name, f"run-{runs}", now)
        elif step[0] == "judge":
            for stale in expired(list(claims.values()), now):
                del claims[stale.node]
            pending = [c for c in claims.values() if c.run_id not in ahead]
            if not pending:
                continue
            mine = pending[step[1] % len(pending)]
            seen = NodesNow(
                dict(cordoned),
                list(claims.values()),
                frozenset(n for n in NODES if n not in cordoned),
                len(NODES),
                floor,
            )
            try:
                admit(seen, mine.node, mine.run_id, max_nodes=max_nodes, now=now)
            except ClaimRefusedError:
                del claims[mine.node]  # withdrawn
                continue
            ahead.add(mine.run_id)
        elif step[0] == "land":
            ready = [c for c in claims.values() if c.run_id in ahead]
            if ready:
                claim = ready[step[1] % len(ready)]
                del claims[claim.node]
                cordoned[claim.node] = claim.run_id
        elif step[0] == "lift":
            cordoned.pop(step[1], None)
        else:
            now += step[1]
        # at every moment: what is cordoned, or went ahead and may still land
        may = set(cordoned) | {c.node for c in claims.values() if c.run_id in ahead}
        assert len(may) <= max_nodes
        if may:
            assert len(NODES) - len(may) >= floor


def test_a_claim_dated_beyond_the_clock_skew_ahead_has_expired() -> None:
    """No live claimer's clock is over MAX_SKEW ahead: such a claim is cleared, not counted."""
    from daemon.engine.claims import MAX_SKEW

    far = Claim("node-1", "broken-clock", NOW + MAX_SKEW + 1)
    assert expired([far], NOW) == [far]
    admit(view({}, [far]), "node-2", "me", max_nodes=1, now=NOW)


def test_a_node_no_longer_schedulable_is_not_claimed() -> None:
    """Someone cordoned it (or it went NotReady) since the plan: never adopt that cordon."""
    seen = NodesNow({}, [], frozenset(NODES) - {"node-2"}, len(NODES), 0)
    with pytest.raises(ClaimRefusedError, match="node-2 is no longer schedulable") as refused:
        admit(seen, "node-2", "me", max_nodes=3, now=NOW)
    assert refused.value.retry is False
