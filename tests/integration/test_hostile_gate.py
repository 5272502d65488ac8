"""Hostile review of the gate (docs/running.md "Rollbacks", docs/safety.md "Blast radius"):
once a run stopped because it was halted, lost its lease, was shutting down or met a stop
condition, nothing of that run may disrupt the cluster again, in any phase, including its
rollbacks replayed after a crash. Each test here was one break found by an independent
hostile review, judged from the simulator's ground truth (`sim.timeline()`, replicas read
back), never from aftershock's journal. All four are fixed; the tests stay as guards:
1. a replay after a crash only restores (`REPLAY_GATE`: its gate is closed from the start);
2./4. a stop abandons the pending activity at once and the shutdown bound cuts any wait
   (`Activities._wait`), so the rollbacks that restore play within the bound;
3. a scale is conditional on the replica count it was judged on (a JSON patch `test`), and
   judged again when that changed (`providers/scale.py`)."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from daemon.engine.runner import Runner
from daemon.kube.client import Connection, Kube
from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import TOKEN, cluster
from tests.integration.engine_helpers import plain_context, scale_webapp
from tests.integration.test_daemon_restart import assert_only_interrupted, start_serve
from tests.integration.test_engine import story
from tests.integration.test_engine_faults import arrival, faults
from tests.integration.test_halt_and_replay import serve_config
from tests.integration.test_run_cli import command

KILL_WEBAPP = {
    "type": "action",
    "name": "rollback-kill-webapp",
    "provider": {
        "type": "python",
        "module": "aftershock.pods",
        "func": "kill",
        "arguments": {"ns": "shop", "label_selector": "app=webapp", "mode": "one"},
    },
}
KILL_GREETER = {
    "type": "action",
    "name": "kill-greeter",
    "provider": {
        "type": "python",
        "module": "aftershock.pods",
        "func": "kill",
        "arguments": {"ns": "shop", "label_selector": "app=greeter", "mode": "one"},
    },
}


class Hold:
    """A local HTTP endpoint a rollback calls: it holds each request until released (the
    first run's rollbacks wait there, deterministically), and says when one arrived."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.release = threading.Event()
        hold = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hold.arrived.set()
                hold.release.wait(60)
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the caller was SIGKILLed meanwhile
                    pass

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def action(self) -> dict:
        return {
            "type": "action",
            "name": "rollback-wait-for-hold",
            "provider": {"type": "http", "url": self.url, "timeout": 30},
        }

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def bounded_cli(
    sim, tmp_path: Path, experiment: dict, bound: int, **groups: dict
) -> tuple[list[str], dict[str, str]]:
    """`aftershock run --no-dry-run` with permissive limits and a shutdown bound of `bound` s."""
    return command(
        sim,
        tmp_path,
        experiment,
        "--no-dry-run",
        settings={
            "safety": {"max_percent": 100, "min_ready_replicas": 0, "cooldown": "0s"},
            "scheduling": {"shutdown_timeout": f"{bound}s"},
            **groups,
        },
    )


def serve_story(make_sim):
    """The shop with an `aftershock` namespace (the daemon's Lease), fast readiness, ready."""
    spec = story(3, ready_delay="300ms")
    spec["namespaces"] += cluster()["namespaces"][1:]
    sim = make_sim(spec)
    sim.ready()
    return sim


def trigger(client: httpx.Client) -> httpx.Response:
    """Start a run of the `gate` experiment through the API (202)."""
    answer = client.post(
        "/api/v1/experiments/gate/runs", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 202, answer.text
    return answer


def replay_on_restart(sim, config: Path, log: Path, run_id: str) -> None:
    """Another `aftershock serve` on the same history: it replays the interrupted run
    `run_id` (recorded done), then is stopped."""
    second, url = start_serve(sim, config, log)
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(
                lambda: client.get(f"/api/v1/runs/{run_id}").json()["state"] == "done",
                40,
                "the interrupted run's replay",
            )
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    finally:
        second.kill()


def held_rollback(hold: Hold) -> dict:
    """`gate`: a greeter kill, then a 60 s pause; its one rollback waits on `hold`."""
    return {
        "title": "gate",
        "description": "d",
        "method": [{**KILL_GREETER, "pauses": {"after": 60}}],
        "rollbacks": [hold.action()],
    }


def crash_mid_run(sim, config: Path, log: Path) -> str:
    """`aftershock serve` starts a run of `gate` and is SIGKILLed once the method's kill is
    done: the run stays `running` in the history. Returns its id."""
    first, url = start_serve(sim, config, log)
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            run_id = str(trigger(client).json()["run_id"])
            wait_for(sim.timeline, 15, "the method's kill")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    return run_id


def lead_for_a_while(sim, config: Path, log: Path) -> None:
    """Another `aftershock serve` on the same history leads for 3 s (an interrupted run is
    replayed as soon as it leads), then is stopped."""
    second, url = start_serve(sim, config, log)
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            time.sleep(3)
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    finally:
        second.kill()


def scale_down_then_wait(before: int) -> tuple[Hold, dict]:
    """Scale webapp down by one, then wait in a harmless action held by the returned server
    (60 s timeout); the rollback scales it back to `before`."""
    hold = Hold()
    wait = hold.action()
    wait["provider"]["timeout"] = 60
    return hold, {
        "title": "gate",
        "description": "d",
        "method": [scale_webapp(before - 1), {**wait, "name": "harmless-slow-check"}],
        "rollbacks": [scale_webapp(before)],
    }


def _serve_config(sim, tmp_path: Path, experiment: dict, **groups: dict) -> Path:
    return serve_config(
        sim, tmp_path, experiment, "gate", logging={"format": "json", "level": "DEBUG"}, **groups
    )


def test_shutdown_then_sigkill_during_rollbacks_replays_a_rollback_kill(make_sim, tmp_path) -> None:
    """Attack: `aftershock serve` is shutting down (SIGTERM) during a run, so the run stops
    with `shutdown` and the gate closes; its rollbacks start (the first, an http action, is held
    by a test endpoint; the second kills a webapp pod); the process is then SIGKILLed (the kubelet's grace period ran out, an
    OOM kill, a node loss) before the rollbacks end. On restart the interrupted run's
    rollbacks are replayed, and the replayed rollback kill deletes a pod.

    Break: daemon/runtime/interrupted.py InterruptedRuns.replay_context /
    daemon/engine/runner.py Runner.rollbacks_only build a fresh RunContext whose
    `gate_closed` is empty, and nothing persisted says the run was stopped for a
    GATE_CLOSING reason (only the halt survives, through the store); the replay's gate
    (`Daemon.disruption_check`: lease, halt, stopping) is open, so the kill is sent.

    Evidence (ground truth): sim.timeline() holds a `webapp` pod delete whose requested_at
    is after the SIGTERM (the only kill before it was the method's greeter kill).

    Fix direction: persist the gate-closing stop reason with the run (e.g. a column or a
    journal field written by request_stop/stop_runs, or at least "rollbacks started under a
    closed gate"), and seed `ctx.gate_closed` from it in replay_context; a run interrupted
    while its gate state cannot be read should replay only restoring rollbacks."""
    sim = serve_story(make_sim)
    hold = Hold()
    experiment = {
        "title": "gate",
        "description": "d",
        "method": [{**KILL_GREETER, "pauses": {"after": 60}}],
        "rollbacks": [hold.action(), KILL_WEBAPP],
    }
    # A renew deadline of 6 s leaves the replayed kill time to be planned on a loaded machine.
    config = _serve_config(
        sim,
        tmp_path,
        experiment,
        leader={"lease_duration": "8s", "renew_deadline": "6s", "retry_period": "500ms"},
    )
    log = tmp_path / "first.log"
    first, url = start_serve(sim, config, log)
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            answer = trigger(client)
            run_id = answer.json()["run_id"]
            wait_for(sim.timeline, 15, "the method's kill")
        stopped_at = time.time()
        first.send_signal(signal.SIGTERM)
        assert hold.arrived.wait(15), "the rollbacks did not start"
        first.send_signal(signal.SIGKILL)  # while its first rollback waits on the endpoint
        first.wait(timeout=10)
    finally:
        first.kill()
        hold.release.set()  # from here on the endpoint answers at once
    assert [e["pod"].startswith("greeter-") for e in sim.timeline()] == [True]  # the gate held

    assert_only_interrupted(tmp_path / "history.db", run_id)

    second, url = start_serve(sim, config, tmp_path / "second.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(
                lambda: client.get(f"/api/v1/runs/{run_id}").json()["state"] == "done",
                40,
                "the interrupted run's replay",
            )
            replayed = client.get(f"/api/v1/runs/{run_id}").json()["journal"]["rollbacks"]
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    finally:
        second.kill()
        hold.close()
    late = [e for e in sim.timeline() if e["requested_at"] >= stopped_at]
    assert late == [], f"disrupted after the run was stopped for shutdown: {late}; {replayed}"


def test_sigterm_during_a_harmless_wait_leaves_the_scale_down_behind(make_sim, tmp_path) -> None:
    """Attack: `aftershock run` scales webapp down (method), then waits in a harmless
    activity (an http action with a 60 s timeout, as a slow health check or a
    `deployment_fully_available` would). SIGTERM arrives with `scheduling.shutdown_timeout`
    3 s: the run must stop with `shutdown` and, within the bound, play the rollback that
    scales webapp back up (docs/running.md "Rollbacks": what only restores still runs;
    nothing may be left behind).

    Break: daemon/engine/activities.py Activities._invoke waits on
    `future.result(timeout=timeout)` with the timeout computed before the signal: neither
    the stop nor the deadline that daemon/cli.py `_stopped_by_signals` sets afterwards cuts
    that wait, so the process is still waiting for the harmless activity long after its
    3 s bound. The kubelet (or an operator) then SIGKILLs it: the rollbacks never play and
    `aftershock run` has no replay, so the scale-down stays. (Had the bound been honoured,
    the rollbacks would get 0 s and `_send` in daemon/engine/providers/scale.py would refuse
    the scale-up as `ctx.cancelled()`: the same result.)

    Evidence (ground truth): 15 s after SIGTERM the process has not exited; after the
    SIGKILL, the Deployment read back with the kubernetes client still has the scaled-down
    replicas.

    Fix direction: wait for an activity on its future *or* the run's stop/deadline (re-read
    after a signal); on a stop, abandon at once an activity that cannot disrupt (its
    provider cannot send anything), and keep part of the shutdown bound for the rollbacks
    that restore (a scale-up, an uncordon)."""
    sim = make_sim(story(3))
    sim.ready()
    before = sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas
    assert before >= 2
    hold, experiment = scale_down_then_wait(before)
    argv, env = bounded_cli(sim, tmp_path, experiment, 3)
    process = subprocess.Popen(
        argv, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    exited = True
    try:
        assert hold.arrived.wait(30), "the method did not reach its slow check"
        assert sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas == before - 1
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)  # five times the bound
        except subprocess.TimeoutExpired:
            exited = False
            process.send_signal(signal.SIGKILL)  # what the kubelet does after its grace period
            process.wait(timeout=10)
    finally:
        process.kill()
        hold.close()
    replicas = sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas
    assert replicas == before, (
        f"webapp left at {replicas} of {before} replicas; "
        f"exited within 15 s of SIGTERM (bound 3 s): {exited}"
    )


def test_a_restoring_rollback_scale_lands_as_a_scale_down_after_the_stop(sim) -> None:
    """Attack: the run scales webapp 3 -> 2 and is halted; its rollback scales webapp back
    to 3, which the gate lets through as a scale-up (it "only restores"). Its PATCH is slow
    (API latency on that one request); meanwhile webapp is scaled to 5 by someone else (an
    HPA reacting to the load the chaos caused, an operator). The rollback's PATCH then lands
    on 5 replicas and sets 3: a scale-down of 2 pods, sent after the gate closed.

    Break: daemon/engine/providers/scale.py guarded_scale decides the direction from one
    read (`current`, under the run's budget lock only) and `_send` asks only
    `ctx.cancelled()` for what it judged a scale-up, then sends an unconditional patch of
    the scale subresource (daemon/kube/writes.py Kube.scale_deployment: no resourceVersion),
    so nothing stops it from removing pods when the Deployment changed in between.

    Evidence (ground truth): Deployment replicas read back with the kubernetes client:
    5 once the other scale is applied, 3 after the rollback's request landed (and the
    halted run's rollbacks are the only writer of 3).

    Fix direction: make the scale conditional on what was read (replace the scale
    subresource with the read resourceVersion, or a patch with a resourceVersion
    precondition); on 409, read again and decide again (a scale-down behind a closed gate is
    refused). Never send a replicas value without knowing it is not below the live one."""
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=10))
    assert sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas == 3
    ctx = plain_context(kube)
    document = {
        "title": "scale down, halted, the rollback restores",
        "description": "d",
        "method": [{**scale_webapp(2), "pauses": {"after": 30}}],
        "rollbacks": [scale_webapp(3)],
    }
    rollback_started = threading.Event()

    def progress(event: str, fields: dict) -> None:
        if event == "activity" and fields.get("phase") == "rollback":
            rollback_started.set()

    box: dict = {}
    runner = threading.Thread(
        target=lambda: box.setdefault("r", Runner(ctx, document, progress=progress).run()),
        daemon=True,
    )
    runner.start()
    try:
        wait_for(
            lambda: sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas == 2,
            20,
            "the method's scale-down",
        )
        # only the rollback's request (replicas 3) is slow: 6 s at the API server. The scale
        # is a JSON patch (a `test` of the replicas read, then the `replace`): matched on
        # the replace, as '"replicas": 3' (a merge patch's body) no longer matched anything
        restoring = '"/spec/replicas", "value": 3}]'
        faults(
            sim,
            {
                "verb": "patch",
                "resource": "deployments.apps/scale",
                "body_contains": restoring,
                "latency": "6s",
            },
        )
        held = arrival(sim, "patch", "deployments.apps/scale", restoring)
        ctx.request_stop("halted", "test: API halt")
        assert rollback_started.wait(20), "the rollbacks did not start"
        # the rollback read 2 replicas and its PATCH is held at the server (not a fixed 2 s)
        assert held.wait(20), "the rollback's scale never reached the API server"
        sim.apps.patch_namespaced_deployment_scale("webapp", "shop", {"spec": {"replicas": 5}})
        assert sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas == 5
        runner.join(30)
        assert not runner.is_alive()
    finally:
        faults(sim)
        ctx.request_stop("shutdown", "test over")
        runner.join(30)
        kube.close()
    replicas = sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas
    assert replicas >= 5, (
        f"the halted run's rollback scaled webapp down from 5 to {replicas}: "
        f"{box['r'].journal['rollbacks']}"
    )


def test_serve_shutdown_abandons_the_run_and_its_scale_down_stays_for_good(
    make_sim, tmp_path
) -> None:
    """Attack: `aftershock serve` runs an experiment that scales webapp down, then waits in
    a harmless activity (an http action, 60 s timeout). SIGTERM (a rolling update of the
    daemon): the run stops with `shutdown`; its rollback that scales webapp back up must
    still play, or at the latest be replayed by the next start.

    Break: the run thread is still waiting for the harmless activity
    (daemon/engine/activities.py Activities._invoke: `future.result(timeout)` is not cut by
    the stop) when daemon/service.py Daemon.stop reaches its bound; daemon/runtime/executor.py
    RunExecutor.abandon then records the run *finished* (aborted, shutdown_timeout), so
    daemon/runtime/interrupted.py never replays its rollbacks on the next start: nothing
    ever restores the Deployment.

    Evidence (ground truth): the Deployment read back with the kubernetes client after the
    daemon exited and after a second daemon started and led: still at the scaled-down
    replicas.

    Fix direction: on a stop, do not wait for an activity that cannot disrupt; keep part of
    the bound for the rollbacks; a run abandoned at the bound with rollbacks unplayed must
    stay `running` (or be marked for replay) so the next leader restores what it can."""
    sim = serve_story(make_sim)
    before = sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas
    assert before >= 2
    hold, experiment = scale_down_then_wait(before)
    config = _serve_config(sim, tmp_path, experiment, scheduling={"shutdown_timeout": "4s"})
    first, url = start_serve(sim, config, tmp_path / "first.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            trigger(client)
        assert hold.arrived.wait(30), "the method did not reach its slow check"
        assert sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas == before - 1
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    finally:
        first.kill()
        hold.release.set()

    try:
        lead_for_a_while(sim, config, tmp_path / "second.log")
    finally:
        hold.close()
    replicas = sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas
    assert replicas == before, f"webapp left at {replicas} of {before} replicas for good"
