"""`max_nodes` and `min_schedulable_nodes` across processes: claims on the nodes
(daemon/engine/claims.py), judged by the simulator's cordon ground truth
(`/sim/v1/timeline/nodes`: every change of `spec.unschedulable` in apply order)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import Any

import pytest

from daemon.engine.claims import CLAIM_ANNOTATION, CLAIM_TTL
from tests.integration.test_hostile_node_drills import chaosk8s, hostile_run
from tests.integration.test_node_drills import annotated, cordoned, drill_cluster, ready
from tests.integration.test_run_cli import command
from tests.receivers import Answer, receiving


def node_truth(sim) -> dict[str, Any]:
    return sim.control("GET", "/sim/v1/timeline/nodes")


def cli_settings(**nodes: Any) -> dict[str, Any]:
    return {
        "safety": {"max_percent": 100, "min_ready_replicas": 0, "cooldown": "0s"},
        "nodes": {"enabled": True, **nodes},
        "scheduling": {"shutdown_timeout": "3s"},
    }


def cli_holding_a_cordon(sim, tmp_path, node: str, pause: float) -> subprocess.Popen:
    """An `aftershock run` process whose cordon of `node` has landed (it holds it `pause` s)."""
    argv, env = command(
        sim, tmp_path, cordon_experiment(node, pause), "--no-dry-run", settings=cli_settings()
    )
    process = subprocess.Popen(
        argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while node not in annotated(sim):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise AssertionError(f"{node} never cordoned: {process.communicate()}")
        time.sleep(0.05)
    return process


def cordon_experiment(node: str, pause: float, barrier: str | None = None) -> dict[str, Any]:
    """Cordon `node`, hold it `pause` s; with `barrier` (a URL), first wait for its answer."""
    action = chaosk8s("cordon_node", name=node)
    action["pauses"] = {"after": pause}
    method = [action]
    if barrier is not None:
        wait = {"type": "http", "url": barrier, "method": "POST", "timeout": 60}
        method.insert(0, {"type": "action", "name": "barrier", "provider": wait})
    return {"title": f"cordon {node}", "description": "claims", "method": method}


@pytest.mark.parametrize(
    ("limits", "most"),
    [
        ({"max_nodes": 1, "min_schedulable_nodes": 0}, 1),
        ({"max_nodes": 2, "min_schedulable_nodes": 0}, 2),
        ({"max_nodes": 4, "min_schedulable_nodes": 3}, 1),  # the floor binds: 4 nodes, keep 3
    ],
    ids=["max_nodes-1", "max_nodes-2", "floor-3-of-4"],
)
def test_cli_runs_started_together_stay_within_the_limits_cluster_wide(
    make_sim, tmp_path, limits: dict[str, Any], most: int
) -> None:
    """Four `aftershock run` processes, each cordoning its own node, started at once: the
    cordons that land never exceed what the limits allow (ground truth: the simulator's
    cordon timeline), at least one lands, and every one is taken back."""
    sim = make_sim(drill_cluster())
    ready(sim)
    sim.control("DELETE", "/sim/v1/timeline/nodes")
    processes = []
    # A barrier: each process's first step is a request the receiver holds until all four
    # have arrived, so the cordons overlap whatever the start-up skew on a loaded machine.
    with receiving(Answer(200, hang=60)) as barrier:
        for i in range(1, 5):
            workdir = tmp_path / f"p{i}"
            workdir.mkdir()
            argv, env = command(
                sim,
                workdir,
                cordon_experiment(f"node-{i}", 6, barrier=barrier.url),
                "--no-dry-run",
                settings=cli_settings(**limits),
            )
            processes.append(
                subprocess.Popen(
                    argv,
                    env=env,
                    cwd=workdir,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        barrier.wait_for(4, timeout=60)
        barrier.released.set()
        outputs = [p.communicate(timeout=90) for p in processes]
    truth = node_truth(sim)
    report = [(p.returncode, out[0].strip()) for p, out in zip(processes, outputs, strict=True)]
    assert 1 <= truth["peak_cordoned"] <= most, (truth, report)
    assert cordoned(sim) == [], report
    refused = [out for code, out in report if code != 0]
    assert len(refused) >= 4 - most, report
    for _, out in report:
        assert "Traceback" not in out


def _claim(sim, node: str, text: str) -> None:
    sim.core.patch_node(node, {"metadata": {"annotations": {CLAIM_ANNOTATION: text}}})


def _claim_on(sim, node: str) -> str | None:
    annotations = sim.core.read_node(node).metadata.annotations or {}
    return annotations.get(CLAIM_ANNOTATION)


def test_a_claim_left_by_a_crashed_process_holds_its_slot_until_it_expires(make_sim) -> None:
    """A process that claimed node-1 and died before its cordon: its claim counts (its
    request could still land) until CLAIM_TTL; then the next claimer clears it (a write to
    node-1, so that request can no longer land) and goes ahead."""
    sim = make_sim(drill_cluster())
    ready(sim)
    _claim(sim, "node-1", json.dumps({"run": "crashed-run", "at": time.time()}))
    blocked = hostile_run(sim, cordon_experiment("node-2", 0), run_id="second")
    assert node_truth(sim)["peak_cordoned"] == 0
    failure = json.dumps(blocked.journal["run"])
    assert "max_nodes 1" in failure
    assert "cordon in flight for run crashed-run" in failure
    assert _claim_on(sim, "node-2") is None  # the refused claimer withdrew its own

    _claim(sim, "node-1", json.dumps({"run": "crashed-run", "at": time.time() - CLAIM_TTL - 1}))
    done = hostile_run(sim, cordon_experiment("node-2", 0), run_id="third")
    assert done.journal["aftershock"].get("cordoned"), done.journal["run"]
    assert node_truth(sim)["peak_cordoned"] == 1
    assert cordoned(sim) == []
    assert _claim_on(sim, "node-1") is None  # cleared before it was ignored
    assert _claim_on(sim, "node-2") is None


def test_an_unreadable_claim_refuses_every_cordon_naming_node_and_annotation(make_sim) -> None:
    sim = make_sim(drill_cluster())
    ready(sim)
    _claim(sim, "node-3", "[broken")
    result = hostile_run(sim, cordon_experiment("node-2", 0))
    text = json.dumps(result.journal["run"])
    assert f"node node-3: annotation {CLAIM_ANNOTATION} cannot be read" in text, text
    assert "Traceback" not in text
    assert node_truth(sim)["peak_cordoned"] == 0
    assert _claim_on(sim, "node-2") is None


def test_sigterm_during_an_api_outage_ends_a_cli_run_within_its_shutdown_bound(
    make_sim, tmp_path
) -> None:
    """The end-of-run uncordon retries through an outage for `nodes.release_patience` (5 min),
    but SIGTERM cuts every wait to `scheduling.shutdown_timeout` (3 s here): the process
    exits well before the outage ends, says the cordon is still there, and exits non-zero."""
    sim = make_sim(drill_cluster())
    ready(sim)
    process = cli_holding_a_cordon(sim, tmp_path, "node-2", 60)
    try:
        sim.control("POST", "/sim/v1/faults/outage", {"seconds": 60})
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=45)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
        sim.control("DELETE", "/sim/v1/faults")
    assert took < 30, (took, out, err)  # 3 s bound plus one request timeout; patience is 300 s
    assert process.returncode != 0
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert "nodes not uncordoned" in json.dumps(journal["aftershock"].get("errors")), journal
