"""The same experiment file through `chaos run` (Chaos Toolkit from PyPI) and `aftershock run`
against the same simulated cluster: same status, deviated flag and steady-state results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.engine_helpers import greeter_experiment
from tests.integration.test_engine import story

BIN = Path(sys.executable).parent
PERMISSIVE_SETTINGS = {
    "safety": {"max_percent": 100, "min_ready_replicas": 0, "cooldown": "0s"},
    "logging": {"format": "json"},
}


def run_both(sim, experiment: dict, tmp_path: Path) -> tuple[dict, dict, int, int]:
    source = tmp_path / "experiment.json"
    source.write_text(json.dumps(experiment))
    settings = tmp_path / "settings.yaml"
    settings.write_text(yaml.safe_dump(PERMISSIVE_SETTINGS))
    env = {
        **os.environ,
        "KUBECONFIG": str(sim.sim.kubeconfig),
        "WEBAPP_URL": sim.sim.service_url("shop", "webapp"),
        "HOME": str(tmp_path),  # chaos reads ~/.chaostoolkit/settings.yaml
    }
    chaos = subprocess.run(
        [
            BIN / "chaos",
            "--no-version-check",
            "--no-log-file",
            "run",
            "--journal-path",
            tmp_path / "chaos.json",
            source,
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (tmp_path / "chaos.json").exists(), chaos.stderr[-3000:]
    sim.ready(timeout=20)  # the workload recovers before the second run
    ours = subprocess.run(
        [
            BIN / "aftershock",
            "--config",
            settings,
            "run",
            source,
            "--no-dry-run",
            "--seed",
            "1",
            "--journal",
            tmp_path / "aftershock.json",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (tmp_path / "aftershock.json").exists(), ours.stderr[-3000:]
    return (
        json.loads((tmp_path / "chaos.json").read_text()),
        json.loads((tmp_path / "aftershock.json").read_text()),
        chaos.returncode,
        ours.returncode,
    )


def summary(journal: dict) -> dict:
    def state(phase: str):
        value = journal["steady_states"][phase]
        if value is None:
            return None
        return {
            "met": value["steady_state_met"],
            "probes": [
                (p["activity"]["name"], p["status"], p.get("tolerance_met"))
                for p in value["probes"]
            ],
        }

    return {
        "status": journal["status"],
        "deviated": journal["deviated"],
        "before": state("before"),
        "after": state("after"),
        "run": [(r["activity"]["name"], r["status"]) for r in journal["run"]],
    }


@pytest.mark.parametrize(
    ("greeters", "tolerance", "expected_outcome", "expected_exit"),
    [
        (1, 200, "deviated", 1),  # seed 001: the only greeter killed, the webapp answers 503
        (3, 200, "passed", 0),
        (3, 418, "not_steady", 3),  # hypothesis unmet before: no chaos by either tool
    ],
)
def test_chaos_run_and_aftershock_run_agree(
    make_sim, tmp_path, greeters, tolerance, expected_outcome, expected_exit
) -> None:
    sim = make_sim(story(greeters, ready_delay="300ms"))
    sim.ready()
    experiment = greeter_experiment()
    experiment["steady-state-hypothesis"]["probes"][1]["tolerance"] = tolerance
    theirs, ours, _chaos_exit, our_exit = run_both(sim, experiment, tmp_path)
    assert summary(ours) == summary(theirs)
    assert theirs["deviated"] is (expected_outcome == "deviated")
    assert (theirs["run"] == []) is (expected_outcome == "not_steady")
    assert ours["aftershock"]["outcome"] == expected_outcome
    assert our_exit == expected_exit
    kills = [d for d in sim.timeline() if d["pod"].startswith("greeter-")]
    assert len(kills) == (0 if expected_outcome == "not_steady" else 2)  # one per tool
