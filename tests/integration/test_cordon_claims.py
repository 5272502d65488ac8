"""`max_nodes` and `min_schedulable_nodes` across processes: the claims Lease
(daemon/engine/claims.py), judged by the simulator's cordon ground truth
(`/sim/v1/timeline/nodes`: every change of `spec.unschedulable` in apply order)."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import Any

import pytest

from daemon.engine.claims import CLAIM_TTL, CLAIMS_ANNOTATION, LEASE
from tests.integration.test_hostile_node_drills import chaosk8s, hostile_run
from tests.integration.test_node_drills import annotated, cordoned, drill_cluster, ready
from tests.integration.test_run_cli import command


def node_truth(sim) -> dict[str, Any]:
    return sim.control("GET", "/sim/v1/timeline/nodes")


def cli_settings(**nodes: Any) -> dict[str, Any]:
    return {
        "safety": {"max_percent": 100, "min_ready_replicas": 0, "cooldown": "0s"},
        "kube": {"namespace": "aftershock"},
        "nodes": {"enabled": True, **nodes},
        "scheduling": {"shutdown_timeout": "3s"},
    }


def cordon_experiment(node: str, pause: float) -> dict[str, Any]:
    action = chaosk8s("cordon_node", name=node)
    action["pauses"] = {"after": pause}
    return {"title": f"cordon {node}", "description": "claims", "method": [action]}


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
    for i in range(1, 5):
        workdir = tmp_path / f"p{i}"
        workdir.mkdir()
        argv, env = command(
            sim,
            workdir,
            cordon_experiment(f"node-{i}", 6),  # overlapping, whatever the start-up skew
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
    outputs = [p.communicate(timeout=90) for p in processes]
    truth = node_truth(sim)
    report = [(p.returncode, out[0].strip()) for p, out in zip(processes, outputs, strict=True)]
    assert 1 <= truth["peak_cordoned"] <= most, (truth, report)
    assert cordoned(sim) == [], report
    refused = [out for code, out in report if code != 0]
    assert len(refused) >= 4 - most, report
    for _, out in report:
        assert "Traceback" not in out


def _write_claims(sim, claims: dict[str, dict[str, Any]]) -> None:
    body = {
        "metadata": {"name": LEASE, "annotations": {CLAIMS_ANNOTATION: json.dumps(claims)}},
        "spec": {},
    }
    try:
        current = sim.coordination.read_namespaced_lease(LEASE, "aftershock")
    except Exception:  # noqa: BLE001 - absent: create it
        sim.coordination.create_namespaced_lease("aftershock", body)
        return
    body["metadata"]["resourceVersion"] = current.metadata.resource_version
    sim.coordination.replace_namespaced_lease(LEASE, "aftershock", body)


def _claims(sim) -> dict[str, Any]:
    lease = sim.coordination.read_namespaced_lease(LEASE, "aftershock")
    return json.loads((lease.metadata.annotations or {}).get(CLAIMS_ANNOTATION) or "{}")


def test_a_claim_left_in_flight_by_a_crashed_process_holds_its_slot_until_it_expires(
    make_sim,
) -> None:
    """A process that claimed node-1 and died before its PATCH answered: its claim counts
    (the PATCH could still land) until CLAIM_TTL, then it no longer does and is cleared."""
    sim = make_sim(drill_cluster())
    ready(sim)
    _write_claims(sim, {"node-1": {"run": "crashed-run", "at": time.time()}})
    blocked = hostile_run(sim, cordon_experiment("node-2", 0), run_id="second")
    assert cordoned(sim) == []
    assert node_truth(sim)["peak_cordoned"] == 0
    failure = json.dumps(blocked.journal["run"])
    assert "max_nodes 1" in failure
    assert "cordon in flight for run crashed-run" in failure

    _write_claims(sim, {"node-1": {"run": "crashed-run", "at": time.time() - CLAIM_TTL - 1}})
    done = hostile_run(sim, cordon_experiment("node-2", 0), run_id="third")
    assert done.journal["aftershock"].get("cordoned"), done.journal["run"]
    assert node_truth(sim)["peak_cordoned"] == 1
    assert cordoned(sim) == []
    assert _claims(sim) == {}  # the expired claim went with the next write; ours was dropped


def test_an_unreadable_claims_lease_refuses_every_cordon_naming_it(make_sim) -> None:
    sim = make_sim(drill_cluster())
    ready(sim)
    body = {"metadata": {"name": LEASE, "annotations": {CLAIMS_ANNOTATION: "[broken"}}, "spec": {}}
    sim.coordination.create_namespaced_lease("aftershock", body)
    result = hostile_run(sim, cordon_experiment("node-2", 0))
    text = json.dumps(result.journal["run"])
    assert CLAIMS_ANNOTATION in text, text
    assert LEASE in text, text
    assert node_truth(sim)["peak_cordoned"] == 0


def test_without_aftershocks_namespace_a_cordon_is_refused_naming_the_setting(make_sim) -> None:
    spec = drill_cluster()
    spec["namespaces"] = [n for n in spec["namespaces"] if n["name"] != "aftershock"]
    sim = make_sim(spec)
    ready(sim)
    result = hostile_run(sim, cordon_experiment("node-2", 0))
    text = json.dumps(result.journal["run"])
    assert f"aftershock/{LEASE}" in text, text
    assert "kube.namespace" in text, text
    assert node_truth(sim)["peak_cordoned"] == 0
    assert result.journal["aftershock"].get("cordoned") is None


def test_sigterm_during_an_api_outage_ends_a_cli_run_within_its_shutdown_bound(
    make_sim, tmp_path
) -> None:
    """The end-of-run uncordon retries through an outage for `nodes.release_patience` (5 min),
    but SIGTERM cuts every wait to `scheduling.shutdown_timeout` (3 s here): the process
    exits well before the outage ends, says the cordon is still there, and exits non-zero."""
    sim = make_sim(drill_cluster())
    ready(sim)
    argv, env = command(
        sim, tmp_path, cordon_experiment("node-2", 60), "--no-dry-run", settings=cli_settings()
    )
    process = subprocess.Popen(
        argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while "node-2" not in annotated(sim):
            assert time.monotonic() < deadline, "never cordoned"
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
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
