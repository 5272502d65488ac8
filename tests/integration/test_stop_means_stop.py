"""Issue 12, finding 3 (I5): halt, stop and signals are checked right before every
activity's provider call, after its pauses; the run says why it stopped."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from daemon.engine.context import GATE_CLOSING
from daemon.engine.runner import Runner
from daemon.kube.client import Connection, Kube
from tests.integration.conftest import wait_for
from tests.integration.engine_helpers import halted_after, plain_context, run_experiment

KILL = {
    "type": "action",
    "name": "kill-webapp",
    "provider": {
        "type": "python",
        "module": "aftershock.pods",
        "func": "kill",
        "arguments": {"ns": "shop", "label_selector": "app=webapp", "mode": "one"},
    },
}


def experiment(before: float) -> dict:
    return {
        "title": "halt",
        "description": "d",
        "method": [{**KILL, "pauses": {"before": before}}],
        "rollbacks": [],
    }


@pytest.mark.parametrize("before", [0.3, 1.5])
def test_halt_during_pauses_before_means_the_provider_is_never_called(sim, before) -> None:
    halted = halted_after(0.15)  # flips while the activity is in its pause
    result = run_experiment(sim, experiment(before), halted=halted)
    assert sim.timeline() == []
    assert (result.outcome, result.reason) == ("aborted", "halted")
    (record,) = result.journal["run"]
    assert record["aftershock_skipped"] == "halted"


def test_a_signal_during_pauses_before_means_the_provider_is_never_called(sim) -> None:
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=5))
    ctx = plain_context(kube)
    timer = threading.Timer(0.2, ctx.request_stop, args=("shutdown", "SIGINT"))
    timer.start()
    try:
        result = Runner(ctx, experiment(2.0)).run()
    finally:
        timer.cancel()
        kube.close()
    assert sim.timeline() == []
    assert (result.outcome, result.reason) == ("aborted", "shutdown")


def test_a_closed_gate_is_checked_before_the_provider(sim) -> None:
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=5))
    started = time.monotonic()
    ctx = plain_context(
        kube,
        disruption_check=lambda: "leadership_lost" if time.monotonic() - started > 0.1 else None,
    )
    try:
        result = Runner(ctx, experiment(0.3)).run()
    finally:
        kube.close()
    assert sim.timeline() == []
    assert (result.outcome, result.reason) == ("aborted", "leadership_lost")


@pytest.mark.parametrize("reason", sorted(GATE_CLOSING))
def test_a_stop_that_closes_the_gate_keeps_rollbacks_from_disrupting(sim, reason) -> None:
    """Rollbacks clear the run's stop to run at all; the gate must stay closed for them:
    their kill is not sent (ground truth), recorded failed with the reason."""
    kube = Kube.connect(Connection(kubeconfig=sim.sim.kubeconfig, timeout=5))
    ctx = plain_context(kube)
    document = {
        "title": "stop, then a rollback that kills",
        "description": "d",
        "method": [{**KILL, "pauses": {"after": 30}}],
        "rollbacks": [{**KILL, "name": "kill-in-rollback"}],
    }
    box: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: box.setdefault("r", Runner(ctx, document).run()))
    runner.start()
    try:
        # recovered first, so nothing but the gate can refuse the rollback's kill
        wait_for(lambda: [d for d in sim.timeline() if d["workload_ready_at"]], 20, "recovery")
        ctx.request_stop(reason, "test")
        runner.join(30)
    finally:
        ctx.request_stop("shutdown", "test over")
        runner.join(30)
        kube.close()
    assert len(sim.timeline()) == 1, sim.timeline()
    (rollback,) = box["r"].journal["rollbacks"]
    assert rollback["status"] == "failed", rollback
    assert reason in rollback["exception"][-1], rollback["exception"]
