"""The engine end to end against the simulated cluster, through the real kubernetes client."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.integration.conftest import exhaust_webapp_budget, shop, wait_for
from tests.integration.engine_helpers import greeter_experiment, run_experiment, scale_webapp


def story(greeters: int, ready_delay: str = "1500ms") -> dict:
    spec = shop()
    spec["timing"]["shutdown_delay"] = "300ms"
    workloads = spec["namespaces"][0]["workloads"]
    greeter = next(w for w in workloads if w["name"] == "greeter")
    greeter.update(replicas=greeters, timing={"ready_delay": ready_delay})
    return spec


def test_seed_001_one_greeter_deviates(make_sim) -> None:
    sim = make_sim(story(1))
    sim.ready()
    result = run_experiment(sim, greeter_experiment())
    journal = result.journal
    assert result.outcome == "deviated"
    assert result.reason == "hypothesis_after"
    assert journal["status"] == "completed"
    assert journal["deviated"] is True
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    after = journal["steady_states"]["after"]
    assert after["steady_state_met"] is False
    assert after["probes"][-1]["output"]["status"] == 503
    killed = journal["run"][0]["output"]
    assert len(killed) == 1
    assert killed[0].startswith("greeter-")


def test_seed_001_three_greeters_pass_and_recovery_matches_ground_truth(make_sim) -> None:
    sim = make_sim(story(3))
    sim.ready()
    result = run_experiment(
        sim, greeter_experiment(), aftershock={"recovery": {"timeout": "20s", "slo": "10s"}}
    )
    assert result.outcome == "passed", result.journal["aftershock"]
    record = result.journal["aftershock"]
    (recovery,) = record["recovery"]
    assert (recovery["kind"], recovery["name"], recovery["recovered"]) == (
        "Deployment",
        "greeter",
        True,
    )
    (truth,) = sim.timeline()
    truth_seconds = truth["workload_status_ready_at"] - truth["requested_at"]
    assert abs(recovery["recovery_seconds"] - truth_seconds) < 0.1, (recovery, truth)
    assert (
        recovery["first_replacement_created_seconds"]
        <= recovery["first_replacement_ready_seconds"]
        <= recovery["recovery_seconds"]
    )
    assert (
        abs(
            recovery["first_replacement_created_seconds"]
            - (truth["replacement_created_at"] - truth["requested_at"])
        )
        < 0.1
    )
    assert (
        abs(
            recovery["first_replacement_ready_seconds"]
            - (truth["replacement_ready_at"] - truth["requested_at"])
        )
        < 0.1
    )
    (plan,) = record["plans"]
    assert plan["targets"] == [f"shop/{truth['pod']}"]
    assert len(plan["candidates"]) == 3
    events = sim.core.list_namespaced_event(
        "shop", field_selector="reason=AftershockPodKilled"
    ).items
    assert {e.involved_object.kind for e in events} == {"Pod", "Deployment"}
    assert all("test-run" in e.message for e in events)


def test_recovery_slo_missed_deviates(make_sim) -> None:
    sim = make_sim(story(3, ready_delay="1200ms"))
    sim.ready()
    result = run_experiment(
        sim, greeter_experiment(), aftershock={"recovery": {"timeout": "20s", "slo": "500ms"}}
    )
    assert (result.outcome, result.reason) == ("deviated", "recovery_slo")


def test_recovery_timeout_deviates(make_sim) -> None:
    sim = make_sim(story(3, ready_delay="5s"))
    sim.ready(timeout=20)
    result = run_experiment(sim, greeter_experiment(), aftershock={"recovery": {"timeout": "1s"}})
    assert (result.outcome, result.reason) == ("deviated", "recovery_timeout")
    assert result.journal["aftershock"]["recovery"][0]["timed_out"] is True


def evict_method(selector: str, mode: str = "one", value: float = 1) -> list:
    return [
        {
            "type": "action",
            "name": "evict",
            "provider": {
                "type": "python",
                "module": "aftershock.pods",
                "func": "kill",
                "arguments": {
                    "ns": "shop",
                    "label_selector": selector,
                    "mode": mode,
                    "value": value,
                    "method": "evict",
                },
            },
        }
    ]


def test_pdb_refusal_is_refused_not_failed(sim) -> None:
    exhaust_webapp_budget(sim)
    result = run_experiment(sim, greeter_experiment(method=evict_method("app=webapp")))
    assert (result.outcome, result.reason) == ("refused", "pdb")
    assert sim.timeline() == []
    # Without the pre-check the Eviction API itself says 429, which is still a refusal.
    result = run_experiment(
        sim, greeter_experiment(method=evict_method("app=webapp")), safety={"respect_pdb": False}
    )
    assert (result.outcome, result.reason) == ("refused", "pdb")
    assert sim.timeline() == []


def test_min_ready_refusal(sim) -> None:
    result = run_experiment(sim, greeter_experiment(), safety={"min_ready_replicas": 1})
    assert (result.outcome, result.reason) == ("refused", "min_ready_replicas")
    assert result.journal["status"] == "aborted"
    assert sim.timeline() == []


def test_opt_in_missing_is_refused(make_sim) -> None:
    spec = shop()
    spec["namespaces"][0]["labels"] = {}
    sim = make_sim(spec)
    sim.ready()
    result = run_experiment(sim, greeter_experiment())
    assert (result.outcome, result.reason) == ("refused", "opt_in")
    assert sim.timeline() == []


def test_no_targets(sim) -> None:
    method = evict_method("app=nothing-matches")
    result = run_experiment(sim, greeter_experiment(method=method))
    assert (result.outcome, result.reason) == ("refused", "no_targets")


def test_dry_run_kills_nothing_but_journals_the_plan(sim) -> None:
    before = {p.metadata.name for p in sim.core.list_namespaced_pod("shop").items}
    result = run_experiment(sim, greeter_experiment(), dry_run=True)
    assert result.outcome == "passed"
    (plan,) = result.journal["aftershock"]["plans"]
    assert len(plan["targets"]) == 1
    assert result.journal["run"][0]["output"] == []
    assert sim.timeline() == []
    assert {p.metadata.name for p in sim.core.list_namespaced_pod("shop").items} == before
    assert result.journal["aftershock"]["dry_run"] is True


def test_not_steady_runs_no_chaos(sim) -> None:
    experiment = greeter_experiment()
    experiment["steady-state-hypothesis"]["probes"][1]["tolerance"] = 418
    result = run_experiment(sim, experiment)
    assert (result.outcome, result.reason) == ("not_steady", "hypothesis_before")
    assert result.journal["status"] == "completed"  # chaoslib 1.44: tolerance miss, probes ran
    assert result.journal["run"] == []
    assert sim.timeline() == []


def test_missing_env_configuration_fails_before_chaos(sim) -> None:
    experiment = greeter_experiment()
    experiment["configuration"]["needed"] = {"type": "env", "key": "AFTERSHOCK_TEST_UNSET_VARIABLE"}
    result = run_experiment(sim, experiment)
    assert (result.outcome, result.reason) == ("failed", "invalid_configuration")
    assert "AFTERSHOCK_TEST_UNSET_VARIABLE" in result.journal["aftershock"]["error"]
    assert sim.timeline() == []


class FakePrometheus(ThreadingHTTPServer):
    """Answers instant queries; `firing` decides whether the result has a sample."""

    def __init__(self):
        self.firing = False
        self.delay = 0.0  # seconds before answering: a slow Prometheus
        self.queries: list[str] = []
        super().__init__(("127.0.0.1", 0), _PromHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _PromHandler(BaseHTTPRequestHandler):
    server: FakePrometheus

    def log_message(self, *args) -> None:
        return

    def do_GET(self) -> None:
        import time
        from urllib.parse import parse_qs, urlsplit

        time.sleep(self.server.delay)
        self.server.queries.append(parse_qs(urlsplit(self.path).query).get("query", [""])[0])
        result = [{"metric": {}, "value": [0, "7"]}] if self.server.firing else []
        body = json.dumps(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        ).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            return  # the client gave up waiting (slow-Prometheus tests)


@pytest.fixture
def prometheus():
    server = FakePrometheus()
    yield server
    server.shutdown()
    server.server_close()


def test_stop_condition_mid_run_aborts_and_plays_rollbacks(sim, prometheus) -> None:
    experiment = greeter_experiment()
    experiment["method"][0]["pauses"] = {"after": 3}
    experiment["rollbacks"] = [scale_webapp(4)]

    def fire_after_kill() -> None:
        wait_for(sim.timeline, 10, "the kill")
        prometheus.firing = True

    threading.Thread(target=fire_after_kill, daemon=True).start()
    result = run_experiment(
        sim, experiment, aftershock={"stop_conditions": ["up == 0"]}, prometheus_url=prometheus.url
    )
    assert (result.outcome, result.reason) == ("aborted", "stop_condition")
    assert result.journal["status"] == "interrupted"
    assert [r["activity"]["name"] for r in result.journal["rollbacks"]] == ["scale-webapp-4"]
    assert result.journal["rollbacks"][0]["status"] == "succeeded"
    assert sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas == 4
    assert "up == 0" in prometheus.queries
    assert any(s["result"] == "true" for s in result.journal["aftershock"]["stop_conditions"])


def test_unreachable_prometheus_refuses_before_chaos(sim) -> None:
    result = run_experiment(sim, greeter_experiment(), aftershock={"stop_conditions": ["up == 0"]})
    assert (result.outcome, result.reason) == ("refused", "stop_conditions_unavailable")
    assert sim.timeline() == []


def test_halt_switch_aborts(sim) -> None:
    result = run_experiment(sim, greeter_experiment(), halted=lambda: "halted by test")
    assert (result.outcome, result.reason) == ("aborted", "halted")
    assert sim.timeline() == []
