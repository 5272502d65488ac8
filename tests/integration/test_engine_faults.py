"""API faults from the simulator during a run: the run ends `failed`, or measures recovery
after reconnecting and re-listing; it never kills more than planned and never raises."""

from __future__ import annotations

import json
import threading
from typing import Any

from tests.integration.conftest import shop, wait_for
from tests.integration.engine_helpers import greeter_experiment, run_experiment
from tests.integration.test_engine import evict_method, story


def faults(sim, *rules: dict) -> None:
    sim.control("PUT", "/sim/v1/faults", {"rules": list(rules)})


def arrival(sim, verb: str, resource: str, body_contains: str | None = None) -> threading.Event:
    """Set once a `verb` request on `resource` (as a fault rule names it: "pods", "nodes")
    reaches the simulated API server, before a latency fault holds it: a request on the
    wire, which the timeline shows only once applied. The simulator runs in this process,
    so this sees every client's requests (an `aftershock` subprocess's too)."""
    seen = threading.Event()
    state = sim.sim.faults
    original = state.verdict

    def verdict(v: str, label: str, namespace: str, body: Any = None) -> Any:
        if (
            v == verb
            and resource in (label, label.split("/", maxsplit=1)[0])
            and (body_contains is None or body_contains in json.dumps(body))
        ):
            seen.set()
        return original(v, label, namespace, body)

    state.verdict = verdict
    return seen


class after_kill:  # noqa: N801 - reads as a phrase at the call site
    """Run `action` as soon as the simulator has recorded the kill; `done()` re-raises."""

    def __init__(self, sim, action) -> None:
        self.error: BaseException | None = None

        def body() -> None:
            try:
                wait_for(sim.timeline, 15, "the kill")
                action()
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                self.error = exc

        self.thread = threading.Thread(target=body, daemon=True)
        self.thread.start()

    def done(self) -> None:
        self.thread.join(timeout=20)
        assert not self.thread.is_alive(), "fault injection did not finish"
        if self.error is not None:
            raise self.error


def test_delete_500_fails_the_run_and_kills_nothing(sim) -> None:
    faults(sim, {"verb": "delete", "resource": "pods", "error_rate": 1.0, "code": 500})
    result = run_experiment(sim, greeter_experiment())
    assert (result.outcome, result.reason) == ("failed", "activity_failed")
    assert result.journal["status"] == "completed"  # chaoslib: a failed action is not a failed run
    record = result.journal["run"][0]
    assert record["status"] == "failed"
    assert "500" in record["exception"][-1]
    assert sim.timeline() == []


def test_eviction_rate_limited_without_budget_is_a_failure_not_a_refusal(sim) -> None:
    faults(sim, {"verb": "create", "resource": "pods/eviction", "error_rate": 1.0, "code": 429})
    result = run_experiment(sim, greeter_experiment(method=evict_method("app=greeter")))
    assert (result.outcome, result.reason) == ("failed", "activity_failed")
    assert "429" in result.journal["run"][0]["exception"][-1]
    assert sim.timeline() == []


def test_probe_errors_before_chaos_fail_the_run_without_chaos(sim) -> None:
    faults(sim, {"verb": "list", "resource": "pods", "error_rate": 1.0, "code": 503})
    result = run_experiment(sim, greeter_experiment())
    assert (result.outcome, result.reason) == ("failed", "probe_failed")
    assert result.journal["status"] == "failed"  # chaoslib 1.44: an errored probe fails the run
    assert result.journal["run"] == []
    assert sim.timeline() == []


def test_dropped_watches_during_recovery_reconnect_without_losing_accuracy(make_sim) -> None:
    sim = make_sim(story(3))
    sim.ready()
    injected = after_kill(sim, lambda: sim.control("POST", "/sim/v1/faults/drop-watches"))
    result = run_experiment(sim, greeter_experiment(), aftershock={"recovery": {"timeout": "20s"}})
    injected.done()
    assert result.outcome == "passed", result.journal["aftershock"]
    (recovery,) = result.journal["aftershock"]["recovery"]
    (truth,) = sim.timeline()
    truth_seconds = truth["workload_status_ready_at"] - truth["requested_at"]
    assert recovery["recovered"] is True
    assert abs(recovery["recovery_seconds"] - truth_seconds) < 0.1, (recovery, truth)


def test_outage_and_410_during_recovery_relists_and_still_measures(make_sim) -> None:
    spec = story(3, ready_delay="2s")
    spec["watch"] = {"bookmark_interval": "200ms", "history": 10}
    sim = make_sim(spec)
    sim.ready()
    experiment = greeter_experiment()
    experiment["method"][0]["pauses"] = {"after": 4}  # the hypothesis after runs past the outage

    def outage_with_churn() -> None:
        # Once the tracker watches both its Deployment and its pods, cut everything.
        wait_for(
            lambda: len(sim.control("GET", "/sim/v1/stats")["open_watches"]) >= 2,
            10,
            "the recovery watches",
        )
        sim.control("POST", "/sim/v1/faults/outage", {"seconds": 1.0})
        # More events than the watch history holds while the watches are down: 410 on resume.
        sim.control("POST", "/sim/v1/churn", {"rate": 100, "seconds": 1.5, "namespaces": ["shop"]})

    injected = after_kill(sim, outage_with_churn)
    result = run_experiment(sim, experiment, aftershock={"recovery": {"timeout": "20s"}})
    injected.done()
    assert result.outcome == "passed", result.journal["aftershock"]
    (recovery,) = result.journal["aftershock"]["recovery"]
    assert recovery["recovered"] is True
    assert recovery["relists"] >= 1
    assert recovery["api_errors"] >= 1
    (truth,) = sim.timeline()  # exactly one kill: nothing retried behind our back
    truth_seconds = truth["workload_status_ready_at"] - truth["requested_at"]
    # Events missed in the outage cannot be timed more precisely than the relist allows,
    # but recovery is never reported before it happened.
    assert recovery["recovery_seconds"] >= truth_seconds - 0.1


def test_random_api_errors_never_exceed_the_plan_or_escape(make_sim) -> None:
    spec = shop()
    spec["namespaces"][0]["workloads"][0]["replicas"] = 6
    sim = make_sim(spec)
    sim.ready()
    faults(sim, {"error_rate": 0.3, "code": 500})
    outcomes = []
    for seed in range(4):
        sim.control("DELETE", "/sim/v1/timeline")
        result = run_experiment(
            sim,
            greeter_experiment(method=evict_method("app=webapp", mode="fixed", value=2)),
            safety={"respect_pdb": False},
            aftershock={"recovery": {"timeout": "10s"}},
            seed=seed,
        )
        outcomes.append(result.outcome)
        planned = sum(len(p["targets"]) for p in result.journal["aftershock"].get("plans", []))
        assert len(sim.timeline()) <= planned <= 2
        assert result.outcome in {"passed", "deviated", "failed", "refused"}, result.journal
        for record in result.journal["run"]:
            assert record["status"] in {"succeeded", "failed"}
        sim.control("PUT", "/sim/v1/faults", {"rules": []})
        sim.ready(timeout=20)
        faults(sim, {"error_rate": 0.3, "code": 500})
    assert "failed" in outcomes or "refused" in outcomes  # the faults did bite
