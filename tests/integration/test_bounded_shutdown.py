"""Issue 12, findings 8 and 7 (runtime half): shutdown keeps its bound whatever a provider
does, and no exception escapes a run: it ends `failed`, rollbacks played, chaos recorded."""

from __future__ import annotations

import signal
import socket
import time
from datetime import timedelta

import httpx
import yaml

from daemon.engine.hypothesis import Hypothesis
from daemon.store.history import HistoryStore
from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import TOKEN, write_catalog
from tests.integration.engine_helpers import greeter_experiment, run_experiment, scale_webapp
from tests.integration.test_daemon_restart import long_run_setup, start_serve
from tests.integration.test_hostile_gate import replay_on_restart

BOUND = 3.0


def test_sigterm_with_a_hanging_rollback_exits_within_the_bound(make_sim, tmp_path) -> None:
    silent = socket.socket()  # accepts connections (backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    sim, config = long_run_setup(make_sim, tmp_path)
    experiment = greeter_experiment()
    experiment["method"][0]["pauses"] = {"after": 60}
    experiment["rollbacks"] = [
        {
            "type": "action",
            "name": "hangs",
            "provider": {
                "type": "http",
                "url": f"http://127.0.0.1:{silent.getsockname()[1]}/",
                "timeout": 120,
            },
        }
    ]
    write_catalog(tmp_path / "catalog", {"long": experiment})
    values = yaml.safe_load(config.read_text())
    values["scheduling"] = {"shutdown_timeout": f"{BOUND:g}s"}
    values["engine"] = {"activity_timeout": "300s"}
    config.write_text(yaml.safe_dump(values))
    daemon, url = start_serve(sim, config, tmp_path / "daemon.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            run_id = client.post(
                "/api/v1/experiments/long/runs", headers={"Authorization": f"Bearer {TOKEN}"}
            ).json()["run_id"]
            wait_for(sim.timeline, 15, "the kill")
        signalled = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=BOUND + 10)
        elapsed = time.monotonic() - signalled
    finally:
        daemon.kill()
        silent.close()
    # The bound plus the process's own exit on a loaded machine; never the rollback's 120 s.
    assert elapsed < BOUND + 4, f"shutdown took {elapsed:.1f}s (bound {BOUND}s)"
    # Its rollback was cut at the bound, so the run is not recorded ended: it stays
    # `running`, and the next start replays the rollback (which fails at once now that the
    # endpoint is gone) and records the run aborted, interrupted.
    store = HistoryStore(
        tmp_path / "history.db", retention=timedelta(days=1), max_runs_per_experiment=10
    ).open()
    assert [row.id for row, _ in store.interrupted()] == [run_id]
    store.close()
    replay_on_restart(sim, config, tmp_path / "second.log", run_id)
    store = HistoryStore(
        tmp_path / "history.db", retention=timedelta(days=1), max_runs_per_experiment=10
    ).open()
    found = store.run(run_id)
    store.close()
    assert found is not None
    row, journal = found
    assert (row.outcome, row.reason) == ("aborted", "interrupted")
    assert journal is not None
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == ["hangs"]


def test_an_unusable_pause_fails_the_activity_not_the_process(sim) -> None:
    experiment = greeter_experiment()
    experiment["method"][0]["pauses"] = {"after": 1.0e300}
    experiment["rollbacks"] = [scale_webapp(4)]
    result = run_experiment(sim, experiment)
    assert (result.outcome, result.reason) == ("failed", "activity_failed")
    assert "pauses.after" in result.journal["run"][0]["exception"][-1]
    assert len(sim.timeline()) == 1
    assert len(result.journal["aftershock"]["disrupted"]) == 1
    assert [r["status"] for r in result.journal["rollbacks"]] == ["succeeded"]
    assert sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas == 4


def test_an_unexpected_error_ends_the_run_failed_with_rollbacks(sim, monkeypatch) -> None:
    def broken(self, phase):  # a bug anywhere in the engine, after the chaos
        if phase == "after":
            raise RuntimeError("boom")
        return original(self, phase)

    original = Hypothesis.check
    monkeypatch.setattr(Hypothesis, "check", broken)
    experiment = greeter_experiment()
    experiment["rollbacks"] = [scale_webapp(4)]
    result = run_experiment(sim, experiment)
    assert (result.outcome, result.reason) == ("failed", "internal_error")
    assert "boom" in result.journal["aftershock"]["error"]
    assert len(result.journal["aftershock"]["disrupted"]) == 1
    assert [r["status"] for r in result.journal["rollbacks"]] == ["succeeded"]
    assert sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas == 4
