"""Issue 12, finding 9 (I10): recovery that could not be observed is `failed /
recovery_unmeasured`, and a delete whose answer was lost is read back before it is reported."""

from __future__ import annotations

from tests.integration.engine_helpers import greeter_experiment, run_experiment
from tests.integration.test_engine import story
from tests.integration.test_engine_faults import after_kill, faults


def kill_only() -> dict:
    experiment = greeter_experiment()
    experiment["steady-state-hypothesis"]["probes"] = experiment["steady-state-hypothesis"][
        "probes"
    ][:1]
    return experiment


def test_outage_after_the_kill_is_recovery_unmeasured(make_sim) -> None:
    # The replacement takes 3 s to be Ready, so the outage (begun right after the kill) is
    # sure to come before it, however late the injecting thread runs on a loaded machine.
    sim = make_sim(story(1, ready_delay="3s"))
    sim.ready(timeout=20)
    injected = after_kill(
        sim, lambda: sim.control("POST", "/sim/v1/faults/outage", {"seconds": 4.0})
    )
    result = run_experiment(sim, kill_only(), aftershock={"recovery": {"timeout": "2s"}})
    injected.done()
    assert (result.outcome, result.reason) == ("failed", "recovery_unmeasured")
    (recovery,) = result.journal["aftershock"]["recovery"]
    assert recovery["observed"] is False
    assert recovery["measured"] is False
    assert recovery["timed_out"] is False
    assert len(sim.timeline()) == 1


def test_a_delete_applied_after_the_client_gave_up_is_reported_as_done(sim) -> None:
    faults(sim, {"verb": "delete", "resource": "pods", "latency": "1500ms"})
    result = run_experiment(sim, kill_only(), kube_timeout=1.0)
    (truth,) = sim.timeline()  # the server did delete it
    record = result.journal["run"][0]
    assert record["status"] == "succeeded", record
    assert record["output"] == [truth["pod"]]
    (disrupted,) = result.journal["aftershock"]["disrupted"]
    assert disrupted["state"] == "done"
    assert "failed after 0 pod" not in str(result.journal)


def test_a_delete_that_cannot_be_verified_counts_against_the_budget(sim) -> None:
    faults(
        sim,
        {"verb": "delete", "resource": "pods", "latency": "1500ms"},
        {"verb": "get", "resource": "pods", "error_rate": 1.0, "code": 503},
    )
    experiment = kill_only()
    experiment["method"].append(experiment["method"][0] | {"name": "again"})
    result = run_experiment(sim, experiment, kube_timeout=1.0, safety={"max_pods": 1})
    assert len(sim.timeline()) == 1
    (disrupted,) = result.journal["aftershock"]["disrupted"]
    assert disrupted["state"] == "uncertain"
    assert (result.outcome, result.reason) == ("failed", "activity_failed")
    assert result.journal["aftershock"]["refusal"]["reason"] in ("max_pods", "max_percent")
    assert "could not be verified" in result.journal["run"][0]["exception"][-1]
