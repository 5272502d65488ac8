"""Journals the engine writes against the simulated cluster read back through the typed
record unchanged (daemon/records.py), and their disruptions match the simulator's timeline."""

from __future__ import annotations

from daemon.outcomes import Outcome
from daemon.records import RunRecord, WorkloadKey
from tests.integration.engine_helpers import greeter_experiment, run_experiment, scale_webapp


def test_a_real_journal_round_trips_through_the_typed_record(sim) -> None:
    experiment = greeter_experiment()
    experiment["rollbacks"] = [scale_webapp(4)]
    result = run_experiment(sim, experiment)
    assert result.outcome in (Outcome.PASSED, Outcome.DEVIATED)  # one greeter: may deviate
    raw = result.journal["aftershock"]
    record = RunRecord.from_json(raw)
    assert record.to_json() == raw
    assert record.outcome is result.outcome
    assert [c.phase for c in record.hypothesis_checks or []] == ["before", "after"]
    disrupted = record.disrupted or []
    assert [str(d.workload) for d in disrupted] == [d["workload"] for d in raw["disrupted"]]
    assert [d.workload for d in disrupted] == [WorkloadKey("shop", "Deployment", "greeter")]
    assert [d.pod for d in disrupted] == [f"shop/{e['pod']}" for e in sim.timeline()]


def test_a_refused_journal_round_trips(sim) -> None:
    result = run_experiment(sim, greeter_experiment(), safety={"min_ready_replicas": 1})
    assert result.outcome is Outcome.REFUSED
    raw = result.journal["aftershock"]
    assert RunRecord.from_json(raw).to_json() == raw
    assert sim.timeline() == []
