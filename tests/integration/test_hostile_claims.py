"""Hostile review of cordon claims (daemon/engine/claims.py, daemon/engine/cordons.py).

Written against a first design that kept the claims on one Lease in `kube.namespace`; the
attacks on that Lease now target the claims on the nodes, which replaced it. Each docstring's
"Break" is what the attack found in that design; the tests now guard the fix.

Each test names the invariant it attacks. Judged from the simulator's ground truth
(`/sim/v1/timeline/nodes`, the Node objects read back through the real client), never from
aftershock's own journal. Tests that expose a break fail against the code they were written
against; their docstrings say which code path breaks and why.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from daemon.engine.claims import CLAIM_ANNOTATION
from daemon.engine.cordons import RUN_ANNOTATION
from daemon.kube.client import Kube
from tests.integration.test_hostile_node_drills import (
    OTHER_PROCESS,
    chaosk8s,
    hostile_context,
    hostile_run,
    human_cordon,
)
from tests.integration.test_node_drills import annotated, cordoned, drill_cluster, ready


def node_truth(sim) -> dict[str, Any]:
    return sim.control("GET", "/sim/v1/timeline/nodes")


def changes(sim) -> list[dict[str, Any]]:
    return list(node_truth(sim)["changes"])


def run_holding_a_cordon(sim, node: str, pause: float) -> tuple[threading.Thread, dict]:
    """A run in a thread whose cordon of `node` has landed (held `pause` s); its result
    lands in the box under "result"."""
    action = chaosk8s("cordon_node", name=node)
    action["pauses"] = {"after": pause}
    box: dict[str, Any] = {}
    runner = threading.Thread(
        target=lambda: box.setdefault(
            "result", hostile_run(sim, {"title": "t", "description": "d", "method": [action]})
        ),
        daemon=True,
    )
    runner.start()
    deadline = time.monotonic() + 20
    while node not in annotated(sim):
        assert time.monotonic() < deadline, "never cordoned"
        time.sleep(0.05)
    return runner, box


def _write_claim(sim, annotation: str, node: str = "node-4") -> None:
    """A claim annotation on a node, as a hostile or broken writer would leave it."""
    sim.core.patch_node(node, {"metadata": {"annotations": {CLAIM_ANNOTATION: annotation}}})


def _journal_text(result) -> str:
    return json.dumps(
        {"run": result.journal.get("run"), "aftershock": result.journal.get("aftershock")},
        default=str,
    )


def _other_aftershock_cordon(sim, node: str, run_id: str = "other-process-run") -> None:
    """What a cordon landed by another aftershock process looks like on the Node."""
    sim.core.patch_node(
        node,
        {
            "metadata": {
                "annotations": {
                    RUN_ANNOTATION: run_id,
                    "aftershock.io/cordoned-at": "2026-01-01T00:00:00+00:00",
                }
            },
            "spec": {"unschedulable": True},
        },
    )


# ------------------------------------------------- invariant 6: never half-applied


def test_a_two_node_cordon_refused_at_its_second_claim_leaves_its_first_cordon_for_the_run(
    make_sim, monkeypatch
) -> None:
    """Invariant 6 (never half-applied), with invariant 1's cross-process race as the trigger.

    Attack: chaosk8s cordon_node over the two nodes of zone-1 (node-1, node-3) under
    max_nodes 2. The plan (guarded_nodes -> _plan_nodes) admits both. Right after the first
    cordon lands, another aftershock process lands its own cordon of node-2 (it claimed when
    only one node was held: legal). The claim for node-3 is then refused (max_nodes 2), and
    the drill fails with "cordoned before it: ['node-1']".

    Break: daemon/engine/providers/nodes.py guarded_nodes turns the CordonRefusedError into
    ActivityFailed without taking back the cordons it already made in this drill: node-1
    stays cordoned, holding a max_nodes slot and the node's capacity, for the rest
    of the run (here a 4 s pause; in a real experiment every later activity, pause and
    rollback). A refused drill has cordoned a node. The drain failure path (_release_now)
    does uncordon at once; the cordon loop's failure path (and its halt/stop path,
    "cordon not sent ... cordoned before it") does not.
    Fix direction: on any failure inside the cordon loop, _release_now every node in
    `cordoned` before raising (as the eviction failure path does)."""
    sim = make_sim(drill_cluster())
    ready(sim)
    sim.control("DELETE", "/sim/v1/timeline/nodes")
    original = Kube.patch_node
    fired = threading.Event()

    def patch_then_other_process(self, name, body):
        answer = original(self, name, body)
        if (body.get("spec") or {}).get("unschedulable") and not fired.is_set():
            fired.set()
            _other_aftershock_cordon(sim, "node-2")
        return answer

    monkeypatch.setattr(Kube, "patch_node", patch_then_other_process)
    action = chaosk8s("cordon_node", label_selector="topology.kubernetes.io/zone=zone-1")
    later = chaosk8s("cordon_node", activity="later", name="node-does-not-exist")
    later["pauses"] = {"before": 6}
    result = hostile_run(
        sim,
        {"title": "t", "description": "d", "method": [action, later]},
        nodes={"max_nodes": 2, "min_schedulable_nodes": 0},
    )
    monkeypatch.setattr(Kube, "patch_node", original)
    assert fired.is_set(), _journal_text(result)
    ours = [c for c in changes(sim) if c.get("node") in ("node-1", "node-3")]
    cordons = [c for c in ours if c.get("cordoned")]
    uncordons = [c for c in ours if not c.get("cordoned")]
    assert cordons, ours
    assert "node-3" not in [c["node"] for c in cordons]  # its claim was refused
    held_for = float(uncordons[0]["at"]) - float(cordons[0]["at"])
    assert held_for < 3.0, (  # at once (round trips on a loaded machine), not the 6 s pause
        f"the refused drill's cordon of node-1 was held {held_for:.1f}s, until the run ended",
        ours,
        result.journal["run"][0].get("exception"),
    )


# ------------------------------------------------- invariant 5: fail closed on hostile state


def test_a_claim_with_an_out_of_range_time_refuses_cleanly_naming_the_annotation(
    make_sim,
) -> None:
    """Invariant 5 (fail closed, clear error, no traceback).

    Attack: the claims annotation is valid JSON of the right shape, but a claim's "at" is an
    integer with 400 digits (json.loads keeps it an int). claims.parse calls float() on it,
    which raises OverflowError: not one of the (ValueError, TypeError, KeyError,
    AttributeError) parse turns into ClaimRefusedError, nor a KubeError that cordons.cordon
    catches. So it escapes cordons.cordon and the provider as a bare OverflowError ("int too
    large to convert to float"): the run's error does not name the Lease or the annotation.
    Fix direction: parse must catch every exception from decoding (at least ArithmeticError
    and RecursionError, see the next test) and check that "at" is finite."""
    sim = make_sim(drill_cluster())
    ready(sim)
    _write_claim(sim, '{"run": "x", "at": 1' + "0" * 400 + "}")
    result = hostile_run(
        sim, {"title": "t", "description": "d", "method": [chaosk8s("cordon_node", name="node-2")]}
    )
    text = _journal_text(result)
    assert node_truth(sim)["peak_cordoned"] == 0
    assert "Traceback" not in text, text
    assert CLAIM_ANNOTATION in text, text


def test_a_deeply_nested_claim_annotation_refuses_cleanly_naming_it(make_sim) -> None:
    """Invariant 5 (fail closed, clear error, no traceback).

    Attack: the claims annotation is 50 000 nested JSON arrays (100 kB, under the 256 kB
    annotation limit). json.loads raises RecursionError, which claims.parse does not catch
    (it catches ValueError, TypeError, KeyError, AttributeError): it escapes cordons.cordon
    as a RecursionError whose message names neither the Lease nor the annotation.
    Fix direction: as above, catch every decoding failure in parse."""
    sim = make_sim(drill_cluster())
    ready(sim)
    _write_claim(sim, "[" * 50_000 + "]" * 50_000)
    result = hostile_run(
        sim, {"title": "t", "description": "d", "method": [chaosk8s("cordon_node", name="node-2")]}
    )
    text = _journal_text(result)
    assert node_truth(sim)["peak_cordoned"] == 0
    assert "Traceback" not in text, text
    assert CLAIM_ANNOTATION in text, text


def test_a_claim_corrupted_mid_run_still_ends_the_run_cleanly_and_uncordons(
    make_sim,
) -> None:
    """Invariants 3 and 5: the claims Lease is corrupted (out-of-range time, as above) while
    a run holds its cordon. The end of the run must still take the cordon back, journal it,
    and report a clear error naming the Lease.

    Break (the journal, not the node): cordons.release uncordons node-2 (ground truth holds),
    then _drop_all -> Ledger.claims -> parse raises OverflowError, which _drop_all does not
    catch (it catches KubeError and ClaimRefusedError). The exception escapes release before
    it journals `uncordoned`, and the runner records "uncordon at the end of the run:
    OverflowError: int too large to convert to float": the journal says the uncordon
    failed and holds no `uncordoned` record although the node was taken back, and the error
    names neither the Lease nor the annotation (the run's outcome stays "passed").
    Fix direction: parse fails closed on every decoding error; _drop_all catches it."""
    sim = make_sim(drill_cluster())
    ready(sim)
    runner, box = run_holding_a_cordon(sim, "node-2", 3)
    _write_claim(sim, '{"run": "x", "at": 1' + "0" * 400 + "}")
    runner.join(40)
    assert not runner.is_alive()
    assert "result" in box, "the run raised instead of returning a result"
    result = box["result"]
    text = _journal_text(result)
    assert cordoned(sim) == [], text
    assert "Traceback" not in text, text
    assert result.journal["aftershock"].get("uncordoned"), text


# ------------------------------------------------- invariant 4: never lifts what it did not make


def test_a_human_recordon_after_lifting_aftershocks_cordon_is_not_lifted_by_the_run(
    make_sim,
) -> None:
    """Invariant 4 (never uncordon a node cordoned by a human).

    Attack: a run cordons node-2 and pauses. An operator runs `kubectl uncordon node-2`
    (aborting the drill by hand) and, a moment later, `kubectl cordon node-2` for their own
    maintenance. kubectl patches only spec.unschedulable, so aftershock's annotation
    `aftershock.io/cordoned-by-run` is still on the node although the cordon now there is
    the operator's.

    Break: cordons.release (end of run) and cordons.uncordon trust the annotation alone as
    proof of ownership, so the run lifts the operator's cordon. Ground truth: node-2 is
    schedulable after the run although its last cordon was a human's.
    Fix direction: prove the current cordon is aftershock's own before lifting it, e.g. keep
    the node's resourceVersion / managedFields manager of spec.unschedulable from the cordon
    patch's answer and compare, or drop ownership (clear the annotation, never uncordon)
    once the node has been seen schedulable while annotated."""
    sim = make_sim(drill_cluster())
    ready(sim)
    runner, _box = run_holding_a_cordon(sim, "node-2", 3)
    sim.core.patch_node("node-2", {"spec": {"unschedulable": False}})  # kubectl uncordon
    time.sleep(0.2)
    human_cordon(sim, "node-2")  # kubectl cordon
    runner.join(40)
    assert not runner.is_alive()
    assert cordoned(sim) == ["node-2"], (
        "the operator's cordon of node-2 was lifted by the run",
        [c for c in changes(sim) if c.get("node") == "node-2"],
    )
    assert annotated(sim) == []  # aftershock let go of node-2: nothing of it is left there


# ------------------------------------------------- invariant 1: across processes

OTHER_NAMESPACE_PROCESS = OTHER_PROCESS  # argv: kubeconfig, signal file, namespace, limits


def test_two_processes_whose_kube_namespace_differs_still_share_max_nodes(
    make_sim, tmp_path
) -> None:
    """Invariant 1 (max_nodes cluster-wide, every process with the same max_nodes).

    Attack: the daemon runs in namespace `chaos` (kube.namespace: chaos, as the chart sets
    for its release namespace); an operator's `aftershock run` keeps the default
    kube.namespace `aftershock`, which also exists. Both have max_nodes 1. The other
    process's cordon PATCH of node-1 is slow on the wire (2 s) after its claim; this
    process cordons node-2 meanwhile.

    Break: the claims Lease is per kube.namespace (claims.Ledger(kube, ctx.settings.kube
    .namespace)), so the two processes claim on two different Leases and neither sees the
    other's cordon in flight: the check-then-act race the Lease was meant to close is open
    again, and two nodes are cordoned at once under max_nodes 1. Nothing refuses or warns;
    the docs only ask that every process "name the same namespace".
    Fix direction: keep the claims where every process must look whatever its settings:
    a cluster-scoped place (e.g. claims on the Node objects themselves with their
    resourceVersion, or a fixed, non-configurable namespace), or refuse to cordon while
    another aftershock-managed claims Lease exists elsewhere."""
    spec = drill_cluster(namespaces=[{"name": "chaos", "workloads": []}])
    sim = make_sim(spec)
    ready(sim)
    mine, output = _race_beside_slow_other(sim, tmp_path, namespace="chaos")
    truth = node_truth(sim)
    assert truth["peak_cordoned"] <= 1, (truth, (mine.outcome, mine.reason), output)
    assert cordoned(sim) == []


def _start_slow_other(
    sim,
    tmp_path,
    namespace: str = "aftershock",
    sleep: float = 2.0,
    *,
    argv: list[str] | None = None,
    limits: dict[str, Any] | None = None,
    prefix: str = "",
) -> tuple[Any, Path]:
    signal_file = tmp_path / "b-sent"
    script = prefix + OTHER_NAMESPACE_PROCESS.replace("time.sleep(2.0)", f"time.sleep({sleep})")
    extra = [json.dumps(limits)] if limits else []
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            script,
            sim.sim.kubeconfig,
            str(signal_file),
            *(argv or [namespace]),
            *extra,
        ],
        cwd=Path.cwd(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not signal_file.exists():
        if time.monotonic() > deadline or other.poll() is not None:
            other.kill()
            raise AssertionError(f"the other process never cordoned: {other.communicate()[0]}")
        time.sleep(0.02)
    return other, signal_file


def _race_beside_slow_other(
    sim,
    tmp_path,
    *,
    namespace: str = "aftershock",
    limits: dict[str, Any] | None = None,
    prefix: str = "",
    pause: float = 4.0,
) -> tuple[Any, str]:
    """Another process claims node-1 and its cordon is slow on the wire (2 s); meanwhile this
    process cordons node-2 and holds it `pause` s. (this run's result, the other's output)."""
    argv = [sim.sim.kubeconfig, str(tmp_path / "b-sent"), namespace]
    other, _ = _start_slow_other(sim, tmp_path, argv=argv[2:], limits=limits, prefix=prefix)
    try:
        action = chaosk8s("cordon_node", name="node-2")
        action["pauses"] = {"after": pause}
        mine = hostile_run(
            sim,
            {"title": "t", "description": "d", "method": [action]},
            run_id="this-process",
            nodes=limits,
        )
        output = other.communicate(timeout=30)[0]
    finally:
        if other.poll() is None:
            other.kill()
    return mine, output


def test_a_claim_in_flight_whose_time_is_corrupted_to_nan_fails_closed(make_sim, tmp_path) -> None:
    """Invariants 5 and 1 (corrupted state in aftershock's namespace never leads to a cordon
    beyond the limits).

    Attack: another process has claimed node-1 and its cordon PATCH is slow on the wire
    (3 s). While it is in flight, the claim's "at" on the Lease is corrupted to `NaN` (the
    annotation stays valid for Python's json, which accepts NaN; node and run intact). This
    process then cordons node-2 under max_nodes 1.

    Break: claims.parse accepts float("nan"); claims.fresh keeps a claim only if
    `now - at < ttl`, which is False for NaN, so the corrupted claim silently counts as
    expired instead of failing closed like an unreadable Lease ("no cordon is claimed until
    it is fixed"). This process's claim is admitted beside node-1's cordon in flight, both
    PATCHes land: two nodes cordoned at once under max_nodes 1 (the post-cordon recount in
    cordons.cordon then makes one of them yield, after the fact).
    Fix direction: parse must refuse non-finite (and non-numeric, e.g. true) times and
    anything but the written shape (string run, finite float at)."""
    sim = make_sim(drill_cluster())
    ready(sim)
    sim.control("DELETE", "/sim/v1/timeline/nodes")
    other, _ = _start_slow_other(sim, tmp_path, "aftershock", sleep=3.0)
    try:
        text = (sim.core.read_node("node-1").metadata.annotations or {})[CLAIM_ANNOTATION]
        claim = json.loads(text)  # the other process's claim, its cordon in flight
        corrupted = text.replace(json.dumps(claim["at"]), "NaN")
        assert "NaN" in corrupted, (text, corrupted)
        _write_claim(sim, corrupted, node="node-1")
        action = chaosk8s("cordon_node", name="node-2")
        action["pauses"] = {"after": 4}
        mine = hostile_run(
            sim, {"title": "t", "description": "d", "method": [action]}, run_id="this-process"
        )
        output = other.communicate(timeout=30)[0]
    finally:
        if other.poll() is None:
            other.kill()
    truth = node_truth(sim)
    assert truth["peak_cordoned"] <= 1, (truth, (mine.outcome, mine.reason), output)
    assert cordoned(sim) == []


# ------------------------------------------------- invariant 3: SIGTERM bounds the shutdown


def test_sigterm_while_the_end_of_run_already_retries_through_an_outage_is_bounded(
    make_sim, tmp_path
) -> None:
    """Invariant 3 (shutdown on SIGTERM bounded by scheduling.shutdown_timeout plus about
    one request timeout).

    Attack: an `aftershock run` cordons node-2 and pauses 1 s; the API goes down (40 s
    outage) right after the cordon. The run ends, and its end-of-run release starts retrying
    the uncordon (nodes.release_patience, 5 min). Only then, 4 s into the outage, SIGTERM.

    Break: cordons.release computes its deadline once, when it starts
    (`patience = min(patience, ctx.remaining())`): the SIGTERM handler in daemon/cli.py sets
    ctx.deadline afterwards, which the running loop never reads again. So the process does
    not stop within shutdown_timeout (3 s) + a request timeout; it keeps retrying until the
    outage is over (or for up to release_patience, 5 min, if it lasts). The existing test
    only sends SIGTERM before the release starts.
    Fix direction: re-read ctx.remaining() on every retry of the release loop (and of the
    wait for an unanswered cordon), e.g. deadline = min(deadline, now + ctx.remaining())."""
    from tests.integration.test_cordon_claims import cli_holding_a_cordon

    sim = make_sim(drill_cluster())
    ready(sim)
    process = cli_holding_a_cordon(sim, tmp_path, "node-2", 1)
    try:
        sim.control("POST", "/sim/v1/faults/outage", {"seconds": 40})
        time.sleep(4)  # the pause (1 s) is over: the release is retrying through the outage
        assert process.poll() is None, process.communicate()
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, _err = process.communicate(timeout=60)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
        sim.control("DELETE", "/sim/v1/faults")
    assert took < 20, (f"SIGTERM to exit took {took:.1f}s (bound: 3 s + a request)", out[-2000:])


# ------------------------------------------------- invariant 4: another live run's cordon


def test_the_sweep_of_a_replica_sharing_the_history_never_lifts_a_live_runs_cordon(
    make_sim, tmp_path
) -> None:
    """Invariant 4 (never lift a cordon belonging to another run that is still live).

    Attack: two daemon replicas share one history (RWX storage, as the chart allows).
    Replica A (leader) is running drill run "a-live" and holds its cordon of node-1; the
    history row says it is running. Replica B's housekeeping pass runs its cordon sweep
    (daemon/runtime/cordon_sweep.py: sweep(kube, store, B's live runs = {})).

    Break: the sweep lifts any cordon whose run is in *the history* and not live *in this
    process*: with a shared history, A's live run is in B's history and not live in B, so B
    uncordons node-1 in the middle of A's drill (the module doc even says so: "errs towards
    uncordoning"). The contract says never.
    Fix direction: lift only cordons of runs whose history row is over (finished, or marked
    interrupted by the replica that recovered it), or record the owning replica/process in
    the annotation and the row and lift only when that owner is provably gone."""

    from daemon.kube.client import Connection
    from daemon.runtime.cordon_sweep import sweep
    from tests.integration.test_cordon_sweep import history, started

    sim = make_sim(drill_cluster())
    ready(sim)
    path = tmp_path / "shared-history.db"  # one history, two replicas (RWX)
    store_a, store_b = history(path), history(path)
    started(store_a, "a-live")
    _other_aftershock_cordon(sim, "node-1", "a-live")  # replica A's drill, in progress
    sim.core.patch_node(
        "node-1", {"metadata": {"annotations": {"aftershock.io/cordoned-by": "replica-a"}}}
    )
    kube = Kube.connect(Connection(mode="kubeconfig", kubeconfig=sim.sim.kubeconfig))
    try:
        assert sweep(kube, store_a, lambda: {"a-live"}, me="replica-a") == []  # A keeps its own
        # B: the run is not live in B, but A leads (as B last saw the Lease): A's drill
        lifted = sweep(kube, store_b, set, leader=lambda: "replica-a", me="replica-b")
        assert lifted == [], "replica B lifted the cordon of replica A's live run"
        assert cordoned(sim) == ["node-1"]
        # A is gone and C leads: A's run cannot be live anywhere; B takes the cordon back
        lifted = sweep(kube, store_b, set, leader=lambda: "replica-c", me="replica-b")
    finally:
        kube.close()
        store_a.close()
        store_b.close()
    assert lifted == ["node-1"]
    assert cordoned(sim) == []


# ------------------------------------------------- invariant 3: a cordon after the run's end


def test_a_claim_slower_than_the_cancel_grace_does_not_cordon_after_the_run_ended(
    make_sim, monkeypatch
) -> None:
    """Invariant 3 (every cordon is taken back at the end of the run).

    Attack: activity_timeout 1 s, client timeout 2 s (so the run waits cancel_grace =
    2 x 2 + 1 = 5 s for a cancelled disrupting provider). The provider thread is inside
    cordons.cordon, in the claim step, when the activity times out; the claim takes longer
    than the grace (modelled by pausing this thread 7 s right after its Lease write answered,
    as a stalled thread or a claim going through several 409 rounds of slow requests would:
    the claim is up to 20 attempts of three requests, each up to one request timeout, which
    2 x timeout + 1 does not bound).

    Break: the run abandons the activity and ends; cordons.end_of_run sees no
    `cordon_intents` (appended only after the claim returns) and asks nothing. The provider
    thread then wakes up and cordons.cordon goes on to the PATCH: it never re-checks
    ctx.cancelled() / ctx.over after the claim (disruption_blocked() is asked once, in
    guarded_nodes, before the claim). node-2 is cordoned after the run ended, and nothing
    in this process takes it back.
    Fix direction: ask ctx.disruption_blocked() (cancellation, run over, stop) again after
    the claim and right before the PATCH, dropping the claim when blocked; and/or append
    `cordon_intents` before claiming so the end of the run waits for it."""

    from daemon.engine import cordons
    from daemon.engine.runner import Runner
    from daemon.kube.client import Connection

    sim = make_sim(drill_cluster())
    ready(sim)
    sim.control("DELETE", "/sim/v1/timeline/nodes")
    original = cordons._claim

    def stalled_claim(*args, **kwargs):
        version = original(*args, **kwargs)
        time.sleep(7)  # the claim is written; its thread is stalled past the cancel grace
        return version

    monkeypatch.setattr(cordons, "_claim", stalled_claim)
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=2))
    ctx = hostile_context(kube, "stalled-claim", activity_timeout="1s", recovery_timeout="5s")
    document = {
        "title": "t",
        "description": "d",
        "method": [chaosk8s("cordon_node", name="node-2")],
    }
    try:
        result = Runner(ctx, document).run()
        ended = time.time()
        time.sleep(9)  # the stalled provider thread has woken up by now
    finally:
        kube.close()
    truth = changes(sim)
    late = [c for c in truth if c.get("cordoned") and float(c["at"]) > ended]
    why = (truth, result.outcome, result.journal["run"][0].get("exception"))
    assert not late, ("a cordon landed after the run ended", why)
    assert cordoned(sim) == [], ("a cordon was never taken back", why)


# ------------------------------------------------- invariant 1: a paused claimer (SIGSTOP)

PAUSED_PROCESS = (  # the other process of OTHER_PROCESS, stopped right before its PATCH
    OTHER_PROCESS.replace("time.sleep(2.0)", "time.sleep(1.0)  # SIGSTOP lands here")
    .replace('"activity_timeout": "40s"', '"activity_timeout": "600s"')
    .replace('"pauses": {"after": 4}', '"pauses": {"after": 2}')
    .replace('run_id="other-process"', 'run_id="paused-process"')
)


def test_a_claimer_stopped_after_its_age_check_cannot_cordon_beside_a_later_claim(
    make_sim, tmp_path
) -> None:
    """Invariant 1 (max_nodes cluster-wide, with processes paused by SIGSTOP/SIGCONT at any
    point). Both processes run with nodes.claim_ttl 8 s, so the claim expires in the test.

    Attack: another process claims node-1, passes cordons.cordon's age check
    (`time.monotonic() - claimed > CLAIM_TTL / 2`), and is SIGSTOPped right before its
    PATCH leaves. After CLAIM_TTL its claim no longer counts (claims.fresh); this process
    claims node-2 and cordons it, and holds it. Then SIGCONT: the other process's PATCH is
    sent, with the node-1 resourceVersion it read before its claim, which nothing changed.

    Break: the PATCH is not fenced by the claim: expiring a claim changes nothing the stale
    PATCH depends on, so it lands and two nodes are cordoned at once under max_nodes 1 (the
    docs list it as a known limit; the contract does not). The post-cordon recount then
    makes one yield, after the fact.
    Fix direction: fence the stale PATCH: a claimer that drops an expired claim first bumps
    the expired node's resourceVersion (e.g. patch an annotation on it), so the stale
    conditional cordon PATCH (it carries the node's old resourceVersion) gets a 409."""
    sim = make_sim(drill_cluster())
    ready(sim)
    sim.control("DELETE", "/sim/v1/timeline/nodes")
    signal_file = tmp_path / "about-to-patch"
    other = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PAUSED_PROCESS,
            sim.sim.kubeconfig,
            str(signal_file),
            "aftershock",
            json.dumps({"claim_ttl": "8s"}),
        ],
        cwd=Path.cwd(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    box: dict[str, Any] = {}
    try:
        deadline = time.monotonic() + 30
        while not signal_file.exists():
            assert time.monotonic() < deadline, "the other process never reached its PATCH"
            assert other.poll() is None, other.communicate()[0]
            time.sleep(0.01)
        other.send_signal(signal.SIGSTOP)
        time.sleep(8 + 2)  # the stopped process's claim has expired
        action = chaosk8s("cordon_node", name="node-2")
        action["pauses"] = {"after": 6}
        runner = threading.Thread(
            target=lambda: box.setdefault(
                "result",
                hostile_run(
                    sim,
                    {"title": "t", "description": "d", "method": [action]},
                    run_id="later",
                    nodes={"claim_ttl": "8s"},
                ),
            ),
            daemon=True,
        )
        runner.start()
        deadline = time.monotonic() + 20
        while "node-2" not in annotated(sim):
            assert time.monotonic() < deadline, ("the later run never cordoned", box)
            time.sleep(0.05)
        other.send_signal(signal.SIGCONT)
        runner.join(40)
        output = other.communicate(timeout=60)[0]
    finally:
        if other.poll() is None:
            other.send_signal(signal.SIGCONT)
            other.kill()
    truth = node_truth(sim)
    assert truth["peak_cordoned"] <= 1, (truth, output)


# ------------------------------------------------- invariant 1: clocks a few seconds apart


@pytest.mark.parametrize("offset", [-5.0, 5.0], ids=["other-clock-behind", "other-clock-ahead"])
def test_a_slow_cordon_from_a_process_whose_clock_differs_still_holds_its_slot(
    make_sim, tmp_path, offset: float
) -> None:
    """Invariant 1 with clock differences of a few seconds (guard: held when written).

    Attack: the other process's wall clock is 5 s behind / ahead of this one (claim times
    are wall-clock seconds, judged by the reader's clock in claims.fresh). It claims node-1
    and its cordon PATCH is slow on the wire (2 s); this process cordons node-2 meanwhile
    under max_nodes 1. Its claim must still count: at most one node cordoned at once."""
    sim = make_sim(drill_cluster())
    ready(sim)
    sim.control("DELETE", "/sim/v1/timeline/nodes")
    skew = f"import time as _t\n_real = _t.time\n_t.time = lambda: _real() + {offset}\n"
    mine, output = _race_beside_slow_other(sim, tmp_path, prefix=skew, pause=3)
    truth = node_truth(sim)
    assert truth["peak_cordoned"] == 1, (truth, (mine.outcome, mine.reason), output)
    assert cordoned(sim) == []
    # refused while the other's cordon was in flight, or (after retrying) once it landed
    assert re.search(r"(cordon in flight for|cordoned by) run other-process", _journal_text(mine))


def test_two_processes_whose_kube_namespace_differs_break_the_floor_for_the_whole_drill(
    make_sim, tmp_path
) -> None:
    """Invariant 2 (min_schedulable_nodes cluster-wide), same mechanism as
    test_two_processes_whose_kube_namespace_differs_still_share_max_nodes.

    Attack: four nodes, every process with max_nodes 4 and min_schedulable_nodes 3; the other
    process (kube.namespace `chaos`) claims node-1 on its Lease and its PATCH is slow (2 s);
    this process (kube.namespace `aftershock`) claims node-2 on the other Lease and cordons
    it. Both claims were judged against 4 schedulable nodes and no claim in flight.

    Break: both cordons land, leaving 2 schedulable nodes under a floor of 3, and unlike
    max_nodes there is no recount after the cordon for the floor (cordons.cordon only
    re-checks max_nodes), so the floor stays broken for as long as both drills hold their
    cordons (here 4 s). Fix direction: as for max_nodes (one claims place for every process
    whatever kube.namespace says), and re-check the floor after the cordon as well."""
    spec = drill_cluster(namespaces=[{"name": "chaos", "workloads": []}])
    sim = make_sim(spec)
    ready(sim)
    sim.control("DELETE", "/sim/v1/timeline/nodes")
    limits = {"max_nodes": 4, "min_schedulable_nodes": 3}
    mine, output = _race_beside_slow_other(sim, tmp_path, namespace="chaos", limits=limits)
    truth = node_truth(sim)
    assert truth["peak_cordoned"] <= 1, (truth, (mine.outcome, mine.reason), output)
    assert cordoned(sim) == []


# ------------------------------------------------- invariant 1: SIGKILL with a PATCH on the wire


def test_a_restarted_daemon_does_not_drop_the_claim_of_a_cordon_still_on_the_wire(
    make_sim, tmp_path
) -> None:
    """Invariant 1 (max_nodes cluster-wide through SIGKILL at any point and slow requests).

    Attack: the daemon's drill claims node-1 and sends its cordon PATCH, which is slow on
    the wire (35 s: simulator latency). The daemon is SIGKILLed while the PATCH travels and
    restarted at once. Its start-up recovers the interrupted run
    (cordons.replay_release -> release): no node carries the run's annotation yet and the
    replayed run has no `cordon_uncertain`, so it waits for nothing and, in _drop_all,
    drops the run's claim. An `aftershock run` (here an in-process run) then claims node-2
    (nothing counts any more) and cordons it; the daemon's old PATCH lands beside it.

    Break: the claim was meant to count "until the end of the run sees the cordon, or until
    CLAIM_TTL" (claims.py); the restart's recovery drops it although the run's own cordon
    intent (recorded before the PATCH, settled neither done nor failed) says a PATCH may be
    on the wire. Two nodes cordoned at once under max_nodes 1; the dead process cannot make
    its cordon yield.
    Fix direction: in replay_release, treat a cordon intent that was never settled as
    uncertain: keep its claim until CLAIM_TTL (or wait for it like cordon_uncertain), never
    drop it at once."""
    import httpx

    from tests.integration.conftest import wait_for
    from tests.integration.daemon_helpers import write_catalog
    from tests.integration.test_daemon_restart import start_serve
    from tests.integration.test_engine_faults import arrival, faults
    from tests.integration.test_node_drill_restart import AUTH, drill_daemon_config
    from tests.integration.test_node_drills import experiment

    wire = 35  # the cordon's time on the wire: room for a restart on a loaded machine
    sim = make_sim(drill_cluster(namespaces=[{"name": "aftershock", "workloads": []}]))
    ready(sim)
    action = chaosk8s("cordon_node", name="node-1")
    action["pauses"] = {"after": 60}
    catalog = write_catalog(tmp_path / "catalog", {"drill": experiment([action])})
    config = drill_daemon_config(sim, tmp_path, catalog)
    sim.control("DELETE", "/sim/v1/timeline/nodes")

    def claimed() -> bool:
        try:
            node = sim.core.read_node("node-1")
        except Exception:  # noqa: BLE001 - a transient read error: not yet
            return False
        return CLAIM_ANNOTATION in (node.metadata.annotations or {})

    first, url = start_serve(sim, config, tmp_path / "first.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            faults(  # the cordon itself (not its claim) is slow on the wire
                sim,
                {
                    "verb": "patch",
                    "resource": "nodes",
                    "latency": f"{wire}s",
                    "body_contains": "unschedulable",
                },
            )
            on_the_wire = arrival(sim, "patch", "nodes", "unschedulable")
            answer = client.post("/api/v1/experiments/drill/runs", headers=AUTH)
            assert answer.status_code == 202, answer.text
            wait_for(claimed, 15, "the daemon's claim of node-1")
            # the intent is recorded and the PATCH is on the wire: seen at the server, not
            # assumed 1.5 s after the claim (a SIGKILL before it would test nothing)
            assert on_the_wire.wait(15), "the daemon's cordon never reached the API server"
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    faults(sim)  # only the PATCH already on the wire stays slow
    sent = time.monotonic()
    assert annotated(sim) == []
    second, url = start_serve(sim, config, tmp_path / "second.log")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 15, "leadership")
            wait_for(lambda: not claimed(), 15, "the recovery dropped the claim")
        assert time.monotonic() - sent < wire - 5, "too slow to show it: the PATCH landed already"
        action2 = chaosk8s("cordon_node", name="node-2")
        action2["pauses"] = {"after": max(1.0, wire + 3 - (time.monotonic() - sent))}
        box: dict[str, Any] = {}
        runner = threading.Thread(
            target=lambda: box.setdefault(
                "result",
                hostile_run(
                    sim, {"title": "t", "description": "d", "method": [action2]}, run_id="cli"
                ),
            ),
            daemon=True,
        )
        runner.start()
        # hold node-2 until the old PATCH has had time to land (`wire` s after it was sent)
        while time.monotonic() - sent < wire + 1 and runner.is_alive():
            time.sleep(0.2)
        runner.join(60)
        time.sleep(max(0.0, wire + 2 - (time.monotonic() - sent)))
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=30)
        finally:
            second.kill()
    truth = node_truth(sim)
    assert truth["peak_cordoned"] <= 1, (truth, box.get("result") and box["result"].outcome)
