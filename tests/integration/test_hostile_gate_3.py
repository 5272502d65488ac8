"""Third hostile review: the scale bound across restarts, replays that only restore, replay
ordering and leadership, bounded shutdown, no lost data (docs/safety.md, docs/daemon.md "Run
history and restarts" and "Shutdown"). Each test is one break, judged from ground truth (the
simulator's timeline, objects read back with the kubernetes client, the Lease, process exit
times, the SQLite history read directly), never from aftershock's journal. Each docstring
says the attack, where it breaks, the evidence and a direction for the fix. All of them fail
on the code they were written against (hostile-3 branch, from fd2123b):
- I1 scale bound across restarts: a failed scale raises the replay's bound; a Deployment
  read but never scaled has no base, so the replay bounds it by what it finds;
- I3 replay ordering: runs start before the replay (a replay cut by a lost lease, a busy
  history at takeover); a frozen leader's live run is recorded ended twice (RWX);
- I3/I4/I5 rollbacks not played yet the run recorded ended: rollbacks cut at the shutdown
  bound; a replay whose configuration cannot be loaded;
- I4 bounded shutdown: the Lease release, the traffic attack's pool, uvicorn's graceful
  wait (runs keep killing meanwhile), an orphaned `process` tool that disrupts after exit;
- I5 cooldown data: pruning while an experiment does not load forgets its cooldown.
All twelve are fixed (CHANGELOG, docs/daemon.md) and stay as guards."""

from __future__ import annotations

import shutil
import signal
import socket
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from daemon.store.history import HistoryStore
from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import TOKEN
from tests.integration.engine_helpers import scale_webapp
from tests.integration.test_daemon_restart import start_serve
from tests.integration.test_engine import story
from tests.integration.test_engine_faults import arrival, faults
from tests.integration.test_hostile_gate import (
    KILL_GREETER,
    KILL_WEBAPP,
    Hold,
    _serve_config,
    bounded_cli,
    lead_for_a_while,
    replay_on_restart,
    serve_story,
    trigger,
)
from tests.integration.test_hostile_gate_2 import _replicas, _sigterm_then_maybe_kill, _tail

LEASE = ("aftershock-leader", "aftershock")


def _rows(path: Path, query: str, args: tuple = ()) -> list[tuple]:
    history = sqlite3.connect(path, timeout=10)
    try:
        return history.execute(query, args).fetchall()
    finally:
        history.close()


def _started_before_the_replay(history: Path, run_id: str) -> tuple[str, float | None, list]:
    """The interrupted run's state and end, and the runs started before that end (ground
    truth: the SQLite history read directly)."""
    ((state, ended_at),) = _rows(history, "SELECT state, ended_at FROM runs WHERE id=?", (run_id,))
    early = _rows(
        history,
        "SELECT id, started_at FROM runs WHERE id != ? AND started_at < ?",
        (run_id, ended_at if ended_at is not None else time.time() + 3600),
    )
    return state, ended_at, early


def _steal_lease(sim, holder: str = "intruder", seconds: int = 2) -> None:
    """Another writer takes the Lease for `seconds` (a replica that thinks it won, an
    operator): the daemon's next renewal meets a 409 and it steps down, then takes the Lease
    back once `seconds` have passed without a renewal."""
    lease = sim.coordination.read_namespaced_lease(*LEASE)
    lease.spec.holder_identity = holder
    lease.spec.lease_duration_seconds = seconds
    lease.spec.renew_time = datetime.now(UTC)
    sim.coordination.replace_namespaced_lease(*LEASE, lease)


def _crash_mid_run(sim, config: Path, log: Path) -> str:
    """A daemon triggers the `gate` run, which kills a greeter pod, then is SIGKILLed during
    the method's pause: the run stays `running` in the history. Its id."""
    first, url = start_serve(sim, config, log)
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            run_id = trigger(client).json()["run_id"]
            wait_for(sim.timeline, 15, "the method's kill")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    return str(run_id)


def test_a_replay_cut_by_a_lost_lease_lets_runs_start_before_it_is_replayed(
    make_sim, tmp_path
) -> None:
    """Attack: a daemon crashed mid-run; the next start replays the interrupted run's
    rollbacks (the first is slow: an http action held by a test endpoint). During the
    replay the daemon loses the Lease for ~2 s (another writer takes it: a 409 on the
    renewal) and wins it back while the replay's rollback is still waiting. The rollback then
    answers; the replay, cut by the lost lease, leaves the run `running` (as documented), and
    a run is triggered through the API.

    Break: daemon/runtime/interrupted.py InterruptedRuns.begin returns at once when the
    leadership comes back while the cut replay's thread is still alive (`recovering()`), and
    nothing begins it again when that thread ends (`_recover` sets `done = False`) except
    housekeeping, up to `min(catalog.reload_interval, 10 s)` later. Meanwhile
    daemon/service.py Daemon._closed_reason / _refuse_trigger only ask `recovering()` (a
    thread alive), not `recovery.done`: the replica leads, is not "recovering", and starts
    runs while an interrupted run of its own history was never replayed.

    Evidence (ground truth): the SQLite history read directly: a new run row started while the
    interrupted run was still `running` (its end recorded only later, or never), and
    sim.timeline() holds the new run's kill.

    Fix direction: closed while `not recovery.done` too (the launcher and triggers answer
    `Recovering` until every interrupted run was replayed); on leadership regained with a cut
    replay still alive, mark it to begin again as soon as that thread ends."""
    sim = serve_story(make_sim)
    hold = Hold()
    experiment = {
        "title": "gate",
        "description": "d",
        "method": [{**KILL_GREETER, "pauses": {"after": 60}}],
        "rollbacks": [hold.action()],
    }
    config = _serve_config(
        sim,
        tmp_path,
        experiment,
        leader={"lease_duration": "4s", "renew_deadline": "3s", "retry_period": "300ms"},
    )
    history = tmp_path / "history.db"
    run_id = _crash_mid_run(sim, config, tmp_path / "first.log")

    second, url = start_serve(sim, config, tmp_path / "second.log")
    answer = None
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            assert hold.arrived.wait(40), "the interrupted run's replay did not start"
            _steal_lease(sim)
            wait_for(lambda: not client.get("/readyz").json().get("leader"), 10, "the loss")
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leading again")
            hold.release.set()  # the cut replay's rollback answers: its thread ends
            wait_for(lambda: "replay cut" in (tmp_path / "second.log").read_text(), 10, "the cut")
            answer = client.post(
                "/api/v1/experiments/gate/runs", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            if answer.status_code == 202:
                wait_for(lambda: len(sim.timeline()) == 2, 15, "the new run's kill")
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    finally:
        second.kill()
        hold.close()
    state, ended_at, early = _started_before_the_replay(history, run_id)
    assert answer is not None
    assert early == [], (
        f"run(s) {early} started while the interrupted run {run_id} was not replayed yet "
        f"(its row: {state}, ended at {ended_at}); trigger answered {answer.status_code}; "
        f"kills: {[e['pod'] for e in sim.timeline()]}"
    )


ENDS_TRIGGER = """
CREATE TABLE IF NOT EXISTS hostile_ends (run_id TEXT, outcome TEXT, reason TEXT, at REAL);
CREATE TRIGGER IF NOT EXISTS hostile_end AFTER UPDATE OF state ON runs
WHEN NEW.state = 'done'
BEGIN
    INSERT INTO hostile_ends VALUES (NEW.id, NEW.outcome, NEW.reason, NEW.ended_at);
END;
"""


def _watch_ends(path: Path) -> None:
    """Every write that records a run ended, whoever makes it, leaves a row in
    `hostile_ends` (an SQLite trigger in the history file itself: ground truth)."""
    history = sqlite3.connect(path, timeout=10)
    try:
        history.executescript(ENDS_TRIGGER)
    finally:
        history.close()


def test_a_live_run_of_a_frozen_leader_is_recorded_ended_twice(make_sim, tmp_path) -> None:
    """Attack: two replicas share one history (RWX; deploy/helm values.yaml allows it).
    Replica A leads and runs an experiment (a greeter kill, then a 60 s pause). A freezes
    (SIGSTOP: a VM pause, a stalled node) past its lease; replica B takes the lease and
    "recovers" A's run from the shared history. A is then thawed: it finds the lease lost,
    stops its run (`leadership_lost`), plays its rollbacks and records its end.

    Break: daemon/runtime/interrupted.py InterruptedRuns._recover replays every `running`
    row of the shared history that is not in *its own* ActiveRuns and
    _recover_one -> daemon/store/history.py HistoryStore.finish_run records it ended
    (aborted, interrupted) while its owner is alive and its own rollbacks have not played;
    then A's HistoryListener records the same run ended again: finish_run's UPDATE has no
    `WHERE state='running'` guard, so the second end silently overwrites the first (outcome,
    reason, journal, ended_at), and metrics/listeners see the run end twice.

    Evidence (ground truth): an SQLite trigger in the history file logs every write that sets
    a run `done`: two for the one run (B's `interrupted`, then A's `leadership_lost`).

    Fix direction: record the owner (leader identity) with the run and replay only runs whose
    owner provably cannot act any more (its lease expired and not renewed by it since, or a
    heartbeat older than lease_duration); make finish_run conditional
    (`WHERE id=? AND state='running'`) and treat 0 rows changed as "already ended elsewhere"."""
    sim = serve_story(make_sim)
    experiment = {
        "title": "gate",
        "description": "d",
        "method": [{**KILL_GREETER, "pauses": {"after": 60}}],
    }
    config = _serve_config(sim, tmp_path, experiment)
    history = tmp_path / "history.db"
    a, a_url = start_serve(sim, config, tmp_path / "a.log")
    b = None
    try:
        with httpx.Client(base_url=a_url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "A leads")
            _watch_ends(history)
            b, _b_url = start_serve(sim, config, tmp_path / "b.log")
            run_id = trigger(client).json()["run_id"]
            wait_for(sim.timeline, 15, "the method's kill")
        a.send_signal(signal.SIGSTOP)
        wait_for(
            lambda: _rows(history, "SELECT 1 FROM hostile_ends WHERE run_id=?", (run_id,)),
            30,
            "B recording A's run ended",
        )
        a.send_signal(signal.SIGCONT)
        with httpx.Client(base_url=a_url, timeout=10) as client:
            wait_for(lambda: not client.get("/readyz").json().get("leader"), 15, "A steps down")
        time.sleep(4)  # A's run stops (lease lost), plays its rollbacks, records its end
    finally:
        a.send_signal(signal.SIGCONT)
        for process in (a, b):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                finally:
                    process.kill()
    ends = _rows(history, "SELECT outcome, reason FROM hostile_ends WHERE run_id=?", (run_id,))
    assert len(ends) == 1, f"run {run_id} recorded ended {len(ends)} times: {ends}"


def test_sigterm_while_the_lease_api_is_slow_overruns_the_bound(make_sim, tmp_path) -> None:
    """Attack: `aftershock serve` leads (nothing running); the API server becomes slow on
    Leases (30 s: an overloaded apiserver, a slow etcd). SIGTERM arrives a moment later,
    with `scheduling.shutdown_timeout` 1 s.

    Break: daemon/kube/lease.py LeaderElector.stop bounds its join of the renewal loop by the
    shutdown deadline, but then, still leading (the renew deadline is not over), releases the
    Lease with a GET and a PUT under the client's `kube.request_timeout` (10 s each), not the
    deadline: daemon/service.py Daemon.stop waits for them.

    Evidence (ground truth): the process exit time after SIGTERM, over the bound + 4 s that
    tests/integration/test_bounded_shutdown.py allows.

    Fix direction: give the release's requests the time left before the deadline (the
    client's per-call `timeout`), or skip the release when no time is left (the Lease then
    expires after lease_duration, as after a crash)."""
    sim = serve_story(make_sim)
    experiment = {"title": "gate", "description": "d", "method": [KILL_GREETER]}
    bound = 1.0
    config = _serve_config(
        sim,
        tmp_path,
        experiment,
        leader={"lease_duration": "12s", "renew_deadline": "10s", "retry_period": "500ms"},
        scheduling={"shutdown_timeout": "1s"},
    )
    daemon, url = start_serve(sim, config, tmp_path / "serve.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
        faults(sim, {"resource": "leases.coordination.k8s.io", "latency": "30s"})
        time.sleep(0.3)
        signalled = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=bound + 30)
        finally:
            elapsed = time.monotonic() - signalled
    finally:
        daemon.kill()
        faults(sim)
    assert elapsed < bound + 4, f"shutdown took {elapsed:.1f}s (bound {bound}s)"


def test_a_failed_scale_raises_the_replays_scale_up_bound(make_sim, tmp_path) -> None:
    """Attack: a run first reads webapp at 3 replicas (a scale to 3: nothing to do), so its
    scale-up bound is max(2 x 3, 3 + 5) = 8. An HPA then scales webapp to 20; the run's next
    scale (20 -> 19, one pod, within its budget) is refused by the API server (500: nothing
    applied). The HPA scales webapp back to 3, and the daemon is SIGKILLed during the run's
    pause. Its rollback asks for 20 replicas: the run itself refuses that (`scale_up_bound`
    8: it never scaled webapp from 20); the replay after the crash must refuse it too.

    Break: daemon/engine/providers/scale.py _send writes the scale base
    (daemon/engine/budget.py RunBudget.scale_base -> HistoryStore.record_scale_base,
    INSERT OR IGNORE: the first record stays) *before* the request, with `scaled_from` = 20,
    but the run's ledger only takes `scaled_from` once a scale was not refused; so the
    history says "this run scaled webapp from 20" when it never did, and
    daemon/store/replay.py seeded_ledger gives the replay a bound of
    max(2 x 3, 3 + 5, 20) = 20 where the run's own was 8.

    Evidence (ground truth): webapp's replicas read back with the kubernetes client after the
    replay: 20, over the run's bound of 8.

    Fix direction: record the base as the run's ledger holds it (first_seen only) before the
    request, and `scaled_from` only once the scale was applied or uncertain (a second write,
    or update the row then); or seed the replay's `scaled_from` only from scales whose
    intents/records say they landed."""
    sim = serve_story(make_sim)
    assert _replicas(sim) == 3
    hold = Hold()
    experiment = {
        "title": "gate",
        "description": "d",
        "method": [
            {**scale_webapp(3), "name": "first-read"},
            {**hold.action(), "name": "harmless-check"},
            {**scale_webapp(19), "pauses": {"after": 60}},
        ],
        "rollbacks": [{**scale_webapp(20), "name": "back-to-20"}],
    }
    config = _serve_config(sim, tmp_path, experiment)
    first, url = start_serve(sim, config, tmp_path / "first.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            run_id = trigger(client).json()["run_id"]
        assert hold.arrived.wait(30), "the run did not reach its harmless check"
        sim.apps.patch_namespaced_deployment_scale("webapp", "shop", {"spec": {"replicas": 20}})
        wait_for(
            lambda: (
                sim.apps.read_namespaced_deployment("webapp", "shop").status.ready_replicas == 20
            ),
            20,
            "20 ready webapp pods",
        )
        refused = arrival(sim, "patch", "deployments.apps/scale")
        faults(sim, {"verb": "patch", "resource": "deployments.apps/scale", "error_rate": 1.0})
        hold.release.set()
        assert refused.wait(30), "the run's scale 20 -> 19 never reached the API server"
        time.sleep(2)  # its read-back: nothing applied, the intents settled `failed`
        faults(sim)
        assert _replicas(sim) == 20
        sim.apps.patch_namespaced_deployment_scale("webapp", "shop", {"spec": {"replicas": 3}})
        first.send_signal(signal.SIGKILL)  # during the run's 60 s pause
        first.wait(timeout=10)
    finally:
        first.kill()
        faults(sim)
        hold.close()
    assert _replicas(sim) == 3
    replay_on_restart(sim, config, tmp_path / "second.log", run_id)
    replicas = _replicas(sim)
    assert replicas <= 8, f"webapp scaled to {replicas} by the run's replay; its bound is 8"


def test_a_run_whose_rollbacks_were_cut_at_the_bound_is_recorded_ended(make_sim, tmp_path) -> None:
    """Attack: `aftershock serve` runs an experiment that scales webapp 3 -> 2, then waits
    (a harmless check held by a test endpoint); its rollbacks are a slow health check (the
    same endpoint: held) and then the scale back to 3. SIGTERM (a rolling update) with
    `scheduling.shutdown_timeout` 4 s: the method's wait is abandoned at once, the first
    rollback is cut at the bound, the restoring scale never gets to run. Then the next
    daemon leads for a while on the same history.

    Break: daemon/engine/activities.py Activities._invoke abandons the rollbacks at the
    bound and the Runner returns in time, so daemon/service.py Daemon.stop does not see the
    run thread alive at the bound and never calls RunExecutor.abandon; instead
    daemon/runtime/executor.py RunExecutor.finish records the run ended (aborted, shutdown)
    although its journal says rollbacks were `abandoned`. A run recorded ended is never
    replayed (daemon/runtime/interrupted.py only takes `running` rows): the restoring rollback
    is lost for good. (tests/integration/test_bounded_shutdown.py even asserts this: a run
    whose rollback was abandoned is "never left `running`".)

    Evidence (ground truth): webapp's replicas read back with the kubernetes client after the
    second daemon led for 3 s: still 2; the SQLite history row: `done`.

    Fix direction: a run whose rollbacks were abandoned or not played (cut by the deadline,
    `abandoned` with phase `rollback`) must stay `running` (as RunExecutor.abandon does), so
    the next leader replays them; only a run whose rollbacks all finished is recorded ended."""
    sim = serve_story(make_sim)
    before = _replicas(sim)
    hold = Hold()
    experiment = {
        "title": "gate",
        "description": "d",
        "method": [scale_webapp(before - 1), {**hold.action(), "name": "harmless-slow-check"}],
        "rollbacks": [{**hold.action(), "name": "slow-health-check"}, scale_webapp(before)],
    }
    config = _serve_config(sim, tmp_path, experiment, scheduling={"shutdown_timeout": "4s"})
    first, url = start_serve(sim, config, tmp_path / "first.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            run_id = trigger(client).json()["run_id"]
        assert hold.arrived.wait(30), "the method did not reach its slow check"
        assert _replicas(sim) == before - 1
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    finally:
        first.kill()
    try:
        hold.release.set()  # from here on the endpoint answers at once: a replay would pass
        lead_for_a_while(sim, config, tmp_path / "second.log")
    finally:
        hold.close()
    rows = _rows(
        tmp_path / "history.db", "SELECT state, outcome, reason FROM runs WHERE id=?", (run_id,)
    )
    replicas = _replicas(sim)
    assert replicas == before, f"webapp left at {replicas} of {before} replicas for good; {rows}"


def test_pruning_forgets_the_cooldown_of_an_experiment_that_does_not_load(
    make_sim, tmp_path
) -> None:
    """Attack: experiment `gate` kills a webapp pod under its own `blast_radius.cooldown` of
    72 h (global cooldown 0, `store.retention` 1 d); it last did so 2 days ago (the
    history's disruption row, as a run of 2 days ago leaves it). The daemon restarts (a
    rolling update) while the experiment's file holds a bad edit (invalid YAML); the edit is
    fixed a few seconds later and the experiment triggered. Its cooldown has 1 day to go.

    Break: daemon/runtime/housekeeping.py prunes from its first pass, with
    daemon/runtime/catalog.py Catalog.longest_cooldown counting only experiments that
    *loaded*: the invalid file's 72 h is not "in effect", so
    daemon/store/history.py HistoryStore.prune deletes every disruption row older than 24 h,
    webapp's included, and once the file loads again the cooldown finds no earlier
    disruption. ("Pruning never shortens a cooldown", docs/daemon.md.)

    Evidence (ground truth): the SQLite history read directly: the 2-day-old disruption row
    is gone; sim.timeline() holds the triggered run's webapp kill, within 72 h of it.

    Fix direction: never prune disruption rows by a cooldown computed from a partial catalog
    (skip the prune while any file is invalid or the index unreadable, as an unreadable index
    never means looser limits), or keep the longest cooldown ever seen durably (the `state`
    table) and prune by the longest of that and today's."""
    spec_cooldown = {"name": "aftershock", "blast_radius": {"cooldown": "72h"}}
    sim = serve_story(make_sim)
    experiment = {
        "title": "gate",
        "description": "d",
        "method": [{**KILL_WEBAPP, "name": "kill-webapp"}],
        "extensions": [spec_cooldown],
    }
    catalog = tmp_path / "catalog"
    history = tmp_path / "history.db"
    config = _serve_config(
        sim,
        tmp_path,
        experiment,
        catalog={"path": str(catalog), "reload_interval": "1s"},
        store={"path": str(history), "retention": "1d"},  # runs kept a day; cooldowns longer
    )
    valid = (catalog / "gate.yaml").read_text()
    store = HistoryStore(history, retention=timedelta(days=30), max_runs_per_experiment=10)
    store.open().close()  # the schema
    two_days_ago = time.time() - 2 * 86400
    db = sqlite3.connect(history)
    db.execute(
        "INSERT INTO disruptions (run_id, namespace, kind, workload, pod, method, at, state)"
        " VALUES ('gate-old', 'shop', 'Deployment', 'webapp', 'webapp-old', 'kill', ?, 'done')",
        (two_days_ago,),
    )
    db.commit()
    db.close()
    (catalog / "gate.yaml").write_text(valid + "\nmethod: [unclosed\n")  # a bad edit
    daemon, url = start_serve(sim, config, tmp_path / "serve.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            time.sleep(4)  # a few housekeeping passes
            (catalog / "gate.yaml").write_text(valid)  # the edit is fixed
            wait_for(
                lambda: (
                    client.post(
                        "/api/v1/experiments/gate/runs",
                        headers={"Authorization": f"Bearer {TOKEN}"},
                    ).status_code
                    == 202
                ),
                15,
                "the fixed experiment triggered",
            )
            time.sleep(3)  # the run plans (refused by its cooldown) or kills
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    finally:
        daemon.kill()
    kept = _rows(history, "SELECT pod FROM disruptions WHERE run_id='gate-old'")
    killed = [e["pod"] for e in sim.timeline()]
    assert killed == [], (
        f"webapp disrupted within the 72 h cooldown of its disruption 2 days ago: {killed}; "
        f"that disruption's row after the prune: {kept}"
    )


def _half_sent_request(url: str) -> socket.socket:
    """An API client that sent a request's headers, not its body yet (a slow network, a
    proxy that buffers): the request is in progress at the server."""
    host, port = url.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=10)
    conn.sendall(
        (
            "POST /api/v1/halt HTTP/1.1\r\n"
            f"Host: {host}\r\n"
            f"Authorization: Bearer {TOKEN}\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 64\r\n\r\n"
        ).encode()
    )
    return conn


def test_runs_keep_killing_after_sigterm_while_a_request_is_in_progress(make_sim, tmp_path) -> None:
    """Attack: `aftershock serve` runs an experiment that kills a pod every second (greeter, webapp, in turn).
    An API client has a request in progress (headers sent, body not yet: a slow network, a
    proxy) when SIGTERM arrives (`scheduling.shutdown_timeout` 1 s).

    Break: daemon/server.py serve: uvicorn owns SIGTERM and first waits for the requests in
    progress (`timeout_graceful_shutdown=3`); only then does daemon/service.py Daemon.stop
    set `_stopping` and stop the runs. For those 3 s nothing of the daemon knows it is
    shutting down: Daemon.disruption_check answers "go", the run goes on killing, and the
    shutdown bound starts counting only afterwards.

    Evidence (ground truth): sim.timeline() holds pod deletes requested more than 1 s after
    the SIGTERM; the process exit time.

    Fix direction: on the signal, stop the daemon's runs first (set `_stopping`, stop_runs
    with the deadline, as Daemon.stop does) and let the HTTP server drain within the same
    bound: e.g. install our own signal handler that calls Daemon.stop's first half at once,
    then asks uvicorn to exit (server.should_exit)."""
    sim = serve_story(make_sim)
    kills = [  # three pods of each, one a second: max_percent 100 of each workload
        {**kill, "name": f"kill-{n}", "pauses": {"after": 1}}
        for n in range(3)
        for kill in (KILL_GREETER, KILL_WEBAPP)
    ]
    experiment = {"title": "gate", "description": "d", "method": kills}
    config = _serve_config(
        sim,
        tmp_path,
        experiment,
        safety={
            "dry_run": False,
            "max_pods": 50,
            "max_percent": 100,
            "min_ready_replicas": 0,
            "require_workload_ready": False,
            "cooldown": "0s",
        },
        scheduling={"shutdown_timeout": "1s"},
    )
    daemon, url = start_serve(sim, config, tmp_path / "serve.log")
    slow = None
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            trigger(client)
            wait_for(sim.timeline, 20, "the run's first kill")
        slow = _half_sent_request(url)
        signalled_at, signalled = time.time(), time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        finally:
            elapsed = time.monotonic() - signalled
    finally:
        daemon.kill()
        if slow is not None:
            slow.close()
    late = [
        (e["pod"], round(e["requested_at"] - signalled_at, 2))
        for e in sim.timeline()
        if e["requested_at"] > signalled_at + 1.0
    ]
    assert late == [], f"killed after SIGTERM (s after it): {late}; exited after {elapsed:.1f}s"


def test_a_busy_history_at_takeover_lets_runs_start_before_the_replay(make_sim, tmp_path) -> None:
    """Attack: a daemon crashed mid-run (its run stays `running`). The next daemon starts
    while the Lease still names the crashed pod (it takes over once the Lease expires, 1 s);
    at that moment the history is busy (another process holds SQLite's write lock for 6 s: a
    backup, an operator's `sqlite3`). Once the history is free, the status API is read (as
    the status page does) and a run is triggered.

    Break: daemon/runtime/interrupted.py InterruptedRuns._recover cannot read the interrupted
    runs (StoreError) and returns with `done` False and no replay thread; the next
    successful history read (the API's GET /api/v1/runs: daemon/store/history.py `_tx`
    clears `store.error`) reopens daemon/service.py Daemon._closed_reason, which never asks
    `recovery.done`: the replica leads, is not "recovering", and starts runs before
    housekeeping (up to 10 s later) begins the replay.

    Evidence (ground truth): the SQLite history read directly: a new run row started while the
    interrupted run was still `running`.

    Fix direction: as for test_a_replay_cut_by_a_lost_lease_lets_runs_start_before_it_is_replayed:
    closed (`Recovering`) until `recovery.done`; retry the recovery as soon as the history
    answers again, not on the next housekeeping pass."""
    sim = serve_story(make_sim)
    experiment = {
        "title": "gate",
        "description": "d",
        "method": [{**KILL_GREETER, "pauses": {"after": 60}}],
    }
    config = _serve_config(sim, tmp_path, experiment)
    history = tmp_path / "history.db"
    run_id = _crash_mid_run(sim, config, tmp_path / "first.log")
    _steal_lease(sim, holder="crashed-pod", seconds=1)
    second, url = start_serve(sim, config, tmp_path / "second.log")
    locker = sqlite3.connect(history, timeout=10, isolation_level=None)
    answer = None
    try:
        locker.execute("BEGIN IMMEDIATE")
        with httpx.Client(base_url=url, timeout=15) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "the takeover")
            # the recovery's read of the history gives up (5 s); released well before the
            # first housekeeping pass (10 s after the start), which would begin the replay
            time.sleep(5.5)
            locker.execute("ROLLBACK")
            client.get("/api/v1/runs")
            answer = client.post(
                "/api/v1/experiments/gate/runs", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            time.sleep(1)
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    finally:
        locker.close()
        second.kill()
    state, ended_at, early = _started_before_the_replay(history, run_id)
    assert answer is not None
    assert early == [], (
        f"run(s) {early} started while the interrupted run {run_id} was not replayed yet "
        f"(its row: {state}, ended at {ended_at}); trigger answered {answer.status_code}"
    )


def test_sigterm_during_a_traffic_attack_on_a_slow_service_overruns_the_bound(
    make_sim, tmp_path
) -> None:
    """Attack: `aftershock run` loads a service with `aftershock.traffic.attack` (5 req/s for
    60 s, per-request timeout 30 s) while the service is overloaded: it holds every request
    (a test endpoint that never answers in time). SIGTERM arrives with
    `scheduling.shutdown_timeout` 2 s.

    Break: daemon/engine/providers/traffic.py attack sends its requests from a
    `concurrent.futures.ThreadPoolExecutor`. The stop abandons the activity at once and the
    run ends within its bound, but the pool's worker threads are still blocked in their
    requests, and CPython joins every ThreadPoolExecutor worker at interpreter exit
    (daemon/engine/threads.py `spawn` even says so): `aftershock run` cannot exit before
    the last held request times out (30 s). (The same holds for `aftershock serve`, which
    exits normally when no run was abandoned at the bound.)

    Evidence (ground truth): the process exit time after SIGTERM: not within the bound + 4 s.

    Fix direction: send the attack's requests from daemon threads (no ThreadPoolExecutor), or
    cap each request's timeout by the run's deadline and close the session on a stop so the
    held requests fail at once."""
    sim = make_sim(story(3))
    sim.ready()
    hold = Hold()
    experiment = {
        "title": "gate",
        "description": "d",
        "method": [
            {
                "type": "action",
                "name": "load-the-shop",
                "provider": {
                    "type": "python",
                    "module": "aftershock.traffic",
                    "func": "attack",
                    "arguments": {"url": hold.url, "rate": 5, "duration": "60s", "timeout": "30s"},
                },
            }
        ],
    }
    bound = 2.0
    argv, env = bounded_cli(sim, tmp_path, experiment, int(bound))
    log = (tmp_path / "run.log").open("w")
    process = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log)
    try:
        assert hold.arrived.wait(30), "the attack did not start"
        time.sleep(1)  # a few requests held
        took = _sigterm_then_maybe_kill(process, patience=bound + 10)
    finally:
        process.kill()
        log.close()
        hold.close()
    assert took is not None, (
        f"SIGTERM with a {bound:g} s bound: not exited within {bound + 10:g} s; "
        f"last log lines: {_tail(tmp_path)}"
    )
    assert took < bound + 4, f"SIGTERM with a {bound:g} s bound: exited after {took:.1f} s"


def _in_ns_from_env(activity: dict) -> dict:
    """The activity with its namespace taken from the run's configuration (`${shop_ns}`)."""
    provider = {**activity["provider"]}
    provider["arguments"] = {**provider["arguments"], "ns": "${shop_ns}"}
    return {**activity, "provider": provider}


def test_a_replay_that_cannot_load_its_configuration_records_the_run_ended(
    make_sim, tmp_path, monkeypatch
) -> None:
    """Attack: an experiment takes its namespace from the environment (configuration
    `shop_ns: {type: env, key: SHOP_NS}`, as Chaos Toolkit files do); it scales webapp
    3 -> 2 and its rollback scales it back. The daemon is SIGKILLed mid-run. The next start
    runs without SHOP_NS for a while (a rollout that renamed the variable, a Secret not
    mounted yet); the start after that has it again.

    Break: daemon/engine/rollbacks.py Rollbacks.only returns a failed record when
    RunState.load raises InvalidRun (the configuration cannot be loaded: no rollback
    played), and daemon/runtime/interrupted.py InterruptedRuns._recover_one records the run
    ended (aborted, interrupted) all the same: it is never replayed again, and the
    restoring rollback is lost for good, even once SHOP_NS is back.

    Evidence (ground truth): webapp's replicas read back with the kubernetes client after the
    second and third daemons led: still 2; the SQLite history row: `done`.

    Fix direction: a replay whose rollbacks could not be loaded (InvalidRun, a missing secret)
    must leave the run `running` (and say so loudly: log, metric, /readyz), to be replayed by
    a later start or leader once it can; never record it ended."""
    sim = serve_story(make_sim)
    before = _replicas(sim)
    experiment = {
        "title": "gate",
        "description": "d",
        "configuration": {"shop_ns": {"type": "env", "key": "SHOP_NS"}},
        "method": [{**_in_ns_from_env(scale_webapp(before - 1)), "pauses": {"after": 60}}],
        "rollbacks": [_in_ns_from_env(scale_webapp(before))],
    }
    config = _serve_config(sim, tmp_path, experiment)
    monkeypatch.setenv("SHOP_NS", "shop")
    first, url = start_serve(sim, config, tmp_path / "first.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            run_id = trigger(client).json()["run_id"]
        wait_for(lambda: _replicas(sim) == before - 1, 15, "the method's scale-down")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    monkeypatch.delenv("SHOP_NS")
    lead_for_a_while(sim, config, tmp_path / "second.log")
    monkeypatch.setenv("SHOP_NS", "shop")
    lead_for_a_while(sim, config, tmp_path / "third.log")
    rows = _rows(
        tmp_path / "history.db", "SELECT state, outcome, reason FROM runs WHERE id=?", (run_id,)
    )
    replicas = _replicas(sim)
    assert replicas == before, f"webapp left at {replicas} of {before} replicas for good; {rows}"


def test_a_replay_bounds_scale_ups_by_replicas_the_run_never_read(make_sim, tmp_path) -> None:
    """Attack: a run first "ensures" webapp at 3 replicas (a scale to 3: nothing to send), so
    its scale-up bound is max(2 x 3, 3 + 5) = 8; its rollback asks for 25 (the run itself
    refuses that: `scale_up_bound`). The daemon is SIGKILLed during the run's pause; while it
    is down an HPA scales webapp to 20. The next start replays the rollbacks.

    Break: the run's first read of webapp sets `ledger.first_seen` in memory only
    (daemon/engine/providers/scale.py _judge); the base is written to the history only by
    `_send`, before a request that is actually sent (RunBudget.scale_base). With no base,
    daemon/store/replay.py seeded_ledger leaves webapp unknown, and the replay's _judge takes
    the *current* 20 as what the run "first read": bound max(2 x 20, 20 + 5) = 40, and 25 is
    sent.

    Evidence (ground truth): webapp's replicas read back with the kubernetes client after the
    replay: 25, over the run's bound of 8 (the HPA's 20 is not the run's).

    Fix direction: write the base when the run first reads a Deployment for a scale (in
    _judge, before any decision), not only before a sent scale; a replay must refuse the
    scale-up of a Deployment the run read but whose base it cannot find."""
    sim = serve_story(make_sim)
    assert _replicas(sim) == 3
    experiment = {
        "title": "gate",
        "description": "d",
        "method": [{**scale_webapp(3), "name": "ensure-3", "pauses": {"after": 60}}],
        "rollbacks": [scale_webapp(25)],
    }
    config = _serve_config(sim, tmp_path, experiment)
    first, url = start_serve(sim, config, tmp_path / "first.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            run_id = trigger(client).json()["run_id"]
            wait_for(
                lambda: (
                    "ensure-3" in client.get(f"/api/v1/runs/{run_id}").text
                    or "ensure-3" in (tmp_path / "first.log").read_text()
                ),
                15,
                "the run's first read of webapp",
            )
        time.sleep(1)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    sim.apps.patch_namespaced_deployment_scale("webapp", "shop", {"spec": {"replicas": 20}})
    replay_on_restart(sim, config, tmp_path / "second.log", run_id)
    replicas = _replicas(sim)
    assert replicas == 20, (
        f"webapp scaled from 20 to {replicas} by the run's replay; the run's bound is 8 "
        "(it first read 3)"
    )


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
def test_a_process_activity_stopped_by_sigterm_keeps_disrupting_after_exit(
    make_sim, tmp_path
) -> None:
    """Attack: `aftershock run` runs the operator's allow-listed chaos script (`process`
    provider), which runs its tool as a child of its own (`sh -c ...`: any script that is not
    a single `exec`); the tool deletes a webapp pod a few seconds in. SIGTERM arrives while
    the script runs (`scheduling.shutdown_timeout` 3 s): the run stops, `aftershock run`
    exits, and nothing of the run may disrupt the cluster any more.

    Break: daemon/engine/providers/process.py run_process kills only its direct child
    (`child.kill()`: SIGKILL to the script's shell, not its process group); the tool the
    script started is orphaned and goes on. (`child.communicate()` after the kill then waits
    for the orphan's end, as it holds the pipes.) The fix of
    test_hostile_gate_2.py::test_a_process_activity_abandoned_at_the_halt_keeps_disrupting
    only covers a script whose last command is `exec`.

    Evidence (ground truth): sim.timeline() holds a webapp pod delete requested after the
    SIGTERM, after `aftershock run` had exited.

    Fix direction: start the child in a session/process group of its own
    (`start_new_session=True`) and kill the group (`os.killpg`, SIGTERM then SIGKILL after a
    short grace); do not wait on pipes an orphan may hold."""
    late, took = late_deletes_of_a_chaos_script(make_sim, tmp_path)
    assert late == [], (
        f"disrupted after SIGTERM (aftershock run exited after {took} s): {late}; "
        f"last log lines: {_tail(tmp_path)}"
    )


def late_deletes_of_a_chaos_script(
    make_sim, tmp_path: Path, launcher: str = ""
) -> tuple[list[str], float | None]:
    """`aftershock run` (3 s bound) runs an allow-listed script whose tool (started through
    `launcher`, e.g. "setsid ") deletes a webapp pod 4 s in; SIGTERM 1 s after the script
    started. The pods deleted after the SIGTERM (ground truth), and the exit time."""
    sim = make_sim(story(3))
    sim.ready()
    pod = sim.core.list_namespaced_pod("shop", label_selector="app=webapp").items[0]
    script = tmp_path / "chaos.sh"
    script.write_text(
        "#!/bin/sh\n"
        f"{launcher}sh -c 'sleep 4; kubectl --kubeconfig {sim.sim.kubeconfig} delete pod "
        f"-n shop {pod.metadata.name} --wait=false'\n"
    )
    script.chmod(0o755)
    experiment = {
        "title": "gate",
        "description": "d",
        "method": [
            {
                "type": "action",
                "name": "chaos-script",
                "provider": {"type": "process", "path": str(script), "timeout": 30},
            }
        ],
    }
    argv, env = bounded_cli(
        sim,
        tmp_path,
        experiment,
        3,
        safety={
            "max_percent": 100,
            "min_ready_replicas": 0,
            "cooldown": "0s",
            "process_allowlist": [str(script)],
        },
    )
    log = (tmp_path / "run.log").open("w")
    process = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_for(
            lambda: "chaos-script" in (tmp_path / "run.log").read_text(), 30, "the chaos script"
        )
        time.sleep(1)
        signalled_at = time.time()
        took = _sigterm_then_maybe_kill(process, patience=10)
        time.sleep(6)  # the script's tool is done by now, if it still runs
    finally:
        process.kill()
        log.close()
    return [e["pod"] for e in sim.timeline() if e["requested_at"] >= signalled_at], took
