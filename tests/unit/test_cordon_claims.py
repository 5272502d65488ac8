"""The claim rule for cordons in flight (daemon/engine/claims.py), as properties.

Whatever claims, annotations, clocks and order of arrival, admitting one claim at a time
(which the Lease's compare-and-swap makes the only order there is) never lets the nodes
held by aftershock, cordoned or in flight, exceed `max_nodes`, nor the schedulable nodes left
once everything in flight has landed fall under the floor.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.engine.claims import (
    CLAIM_TTL,
    CLAIMS_ANNOTATION,
    Claim,
    ClaimRefusedError,
    NodesNow,
    admit,
    encode,
    fresh,
    parse,
)

NODES = [f"node-{i}" for i in range(6)]
NOW = 1_000_000.0


def _nodes(held: dict[str, str], floor: int = 0) -> NodesNow:
    schedulable = frozenset(n for n in NODES if n not in held)
    return NodesNow(held, schedulable, len(NODES), floor)


def test_a_claim_is_refused_when_the_slots_are_held_by_a_cordon_or_one_in_flight() -> None:
    in_flight = [Claim("node-1", "other", NOW - 1)]
    with pytest.raises(ClaimRefusedError, match=r"max_nodes 1: 1 node\(s\).*in flight for run"):
        admit(in_flight, _nodes({}), "node-2", "me", max_nodes=1, now=NOW)
    with pytest.raises(ClaimRefusedError, match="node-0: cordoned by run old"):
        admit([], _nodes({"node-0": "old"}), "node-2", "me", max_nodes=1, now=NOW)


def test_a_node_in_flight_for_another_run_is_not_claimed_twice() -> None:
    with pytest.raises(ClaimRefusedError, match="node-1 is already taken"):
        admit([Claim("node-1", "other", NOW)], _nodes({}), "node-1", "me", max_nodes=3, now=NOW)


def test_an_expired_claim_stops_counting_and_is_dropped_from_the_lease() -> None:
    stale = Claim("node-1", "crashed", NOW - CLAIM_TTL - 1)
    written = admit([stale], _nodes({}), "node-2", "me", max_nodes=1, now=NOW)
    assert written == [Claim("node-2", "me", NOW)]


def test_a_claim_stamped_by_a_clock_ahead_of_ours_still_counts() -> None:
    ahead = Claim("node-1", "other", NOW + 30)
    assert fresh([ahead], NOW) == [ahead]


def test_the_floor_counts_cordons_in_flight_as_landed() -> None:
    in_flight = [Claim("node-1", "other", NOW)]
    nodes = NodesNow({}, frozenset(NODES[:3]), 3, 1)  # 3 schedulable, floor 1
    with pytest.raises(
        ClaimRefusedError,
        match=r"min_schedulable_nodes 1: .*leave 0 .*of 2 \(cordons in flight: node-1\)",
    ):
        admit(
            in_flight,
            NodesNow({}, frozenset(NODES[:2]), 2, 1),
            "node-0",
            "me",
            max_nodes=5,
            now=NOW,
        )
    assert len(admit(in_flight, nodes, "node-0", "me", max_nodes=5, now=NOW)) == 2


def test_an_unreadable_lease_fails_closed_naming_the_annotation() -> None:
    lease = {"metadata": {"annotations": {CLAIMS_ANNOTATION: "{not json"}}}
    with pytest.raises(ClaimRefusedError, match=CLAIMS_ANNOTATION):
        parse(lease)
    lease["metadata"]["annotations"][CLAIMS_ANNOTATION] = json.dumps({"node-1": {"run": "x"}})
    with pytest.raises(ClaimRefusedError, match="cannot be read"):
        parse(lease)


@given(
    st.lists(
        st.builds(
            Claim,
            st.sampled_from(NODES),
            st.text(min_size=1, max_size=4),
            st.floats(NOW - 400, NOW + 60),
        )
    )
)
def test_claims_round_trip_through_the_annotation(claims: list[Claim]) -> None:
    unique = {c.node: c for c in claims}
    lease = {"metadata": {"annotations": {CLAIMS_ANNOTATION: encode(list(unique.values()))}}}
    back = {c.node: c for c in parse(lease)}
    assert back.keys() == unique.keys()
    for node, claim in unique.items():
        assert back[node].run_id == claim.run_id
        assert abs(back[node].at - claim.at) < 1e-5


# One step of the world: a claimer arrives (node, max_nodes, floor), a claim's PATCH lands
# (the claim becomes an annotation and is dropped), a cordon is lifted, or time passes.
STEP = st.one_of(
    st.tuples(
        st.just("claim"),
        st.sampled_from(NODES),
        st.integers(1, 4),
        st.integers(0, 5),
    ),
    st.tuples(st.just("land"), st.sampled_from(NODES)),
    st.tuples(st.just("lift"), st.sampled_from(NODES)),
    st.tuples(st.just("wait"), st.floats(0, CLAIM_TTL * 1.5)),
)


@settings(max_examples=300)
@given(st.lists(STEP, max_size=40))
def test_admitted_claims_never_exceed_the_claimers_limits(steps: list[tuple]) -> None:
    """Ground truth kept here: `cordoned` (annotations) and `claims` (the Lease). A claim whose
    PATCH may still land (not expired) counts as cordoned for the check, since it may land."""
    now = NOW
    claims: list[Claim] = []
    cordoned: dict[str, str] = {}
    for step in steps:
        if step[0] == "claim":
            _, node, max_nodes, floor = step
            if node in cordoned:
                continue  # the planner never picks a cordoned node
            view = NodesNow(
                dict(cordoned), frozenset(n for n in NODES if n not in cordoned), len(NODES), floor
            )
            try:
                claims = admit(
                    claims, view, node, f"run-{len(steps)}", max_nodes=max_nodes, now=now
                )
            except ClaimRefusedError:
                continue
            may_land = set(cordoned) | {c.node for c in fresh(claims, now)}
            assert len(may_land) <= max_nodes
            assert len(NODES) - len(may_land) >= floor
        elif step[0] == "land":
            claim = next((c for c in fresh(claims, now) if c.node == step[1]), None)
            if claim is not None:
                cordoned[claim.node] = claim.run_id
                claims = [c for c in claims if c is not claim]
        elif step[0] == "lift":
            cordoned.pop(step[1], None)
        else:
            now += step[1]
