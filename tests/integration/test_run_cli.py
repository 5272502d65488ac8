"""`aftershock run` as a process: exit codes, journal, dry-run default, SIGTERM mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from tests.integration.conftest import wait_for
from tests.integration.engine_helpers import greeter_experiment, scale_webapp
from tests.integration.test_engine import story

AFTERSHOCK = Path(sys.executable).parent / "aftershock"


def command(sim, tmp_path: Path, experiment: dict, *args: str, settings: dict | None = None):
    source = tmp_path / "experiment.yaml"
    source.write_text(yaml.safe_dump(experiment))
    config = tmp_path / "settings.yaml"
    config.write_text(yaml.safe_dump({"logging": {"format": "json"}, **(settings or {})}))
    env = {
        **os.environ,
        "KUBECONFIG": str(sim.sim.kubeconfig),
        "WEBAPP_URL": sim.sim.service_url("shop", "webapp"),
    }
    argv = [str(AFTERSHOCK), "--config", str(config), "run", str(source), *args]
    return argv, env


def run(sim, tmp_path, experiment, *args, settings=None) -> subprocess.CompletedProcess:
    argv, env = command(sim, tmp_path, experiment, *args, settings=settings)
    return subprocess.run(
        argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )


def test_default_is_dry_run_and_exit_0(make_sim, tmp_path) -> None:
    sim = make_sim(story(3))
    sim.ready()
    done = run(sim, tmp_path, greeter_experiment(), settings={"safety": {"max_percent": 50}})
    assert done.returncode == 0, done.stderr
    assert "outcome: passed" in done.stdout
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["aftershock"]["dry_run"] is True
    assert len(journal["aftershock"]["plans"][0]["targets"]) == 1
    assert sim.timeline() == []
    assert "dry run" in done.stderr  # the operator is told nothing was killed


def test_refused_by_default_safety_exits_3(make_sim, tmp_path) -> None:
    sim = make_sim(story(1))
    sim.ready()
    done = run(sim, tmp_path, greeter_experiment(), "--no-dry-run", "--journal", "out.json")
    assert done.returncode == 3, done.stderr
    journal = json.loads((tmp_path / "out.json").read_text())
    assert journal["aftershock"]["outcome"] == "refused"
    assert sim.timeline() == []


def test_invalid_file_exits_2_naming_the_field(sim, tmp_path) -> None:
    experiment = greeter_experiment()
    del experiment["method"]
    done = run(sim, tmp_path, experiment, "--no-dry-run")
    assert done.returncode == 2
    assert "experiment.yaml" in done.stderr
    assert "method" in done.stderr
    assert not (tmp_path / "journal.json").exists()


def test_unwritable_journal_directory_exits_2_before_any_chaos(sim, tmp_path) -> None:
    done = run(
        sim, tmp_path, greeter_experiment(), "--no-dry-run", "--journal", "missing/dir/j.json"
    )
    assert done.returncode == 2
    assert "--journal" in done.stderr
    assert sim.timeline() == []


def test_sigterm_mid_run_aborts_plays_rollbacks_and_exits_4(make_sim, tmp_path) -> None:
    sim = make_sim(story(3))
    sim.ready()
    experiment = greeter_experiment()
    experiment["method"][0]["pauses"] = {"after": 30}
    experiment["rollbacks"] = [scale_webapp(5)]
    argv, env = command(
        sim,
        tmp_path,
        experiment,
        "--no-dry-run",
        settings={"safety": {"max_percent": 50, "min_ready_replicas": 1}},
    )
    process = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        wait_for(sim.timeline, 20, "the kill")
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 4, out
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert (journal["aftershock"]["outcome"], journal["aftershock"]["reason"]) == (
        "aborted",
        "shutdown",
    )
    assert journal["status"] == "interrupted"
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]
    assert sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas == 5
    assert len(sim.timeline()) == 1


def test_sigterm_mid_run_sends_no_rollback_kill(make_sim, tmp_path) -> None:
    """Shutting down closes the gate for the rest of the run, rollbacks included (as halt
    and a lost lease do): a rollback that kills is not sent and is recorded failed."""
    sim = make_sim(story(3))
    sim.ready()
    experiment = greeter_experiment()
    experiment["method"][0]["pauses"] = {"after": 30}
    rollback_kill = {**experiment["method"][0], "name": "kill-in-rollback", "pauses": {}}
    experiment["rollbacks"] = [rollback_kill, scale_webapp(5)]
    argv, env = command(
        sim,
        tmp_path,
        experiment,
        "--no-dry-run",
        settings={"safety": {"max_percent": 100, "min_ready_replicas": 0, "cooldown": "0s"}},
    )
    process = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        # recovered first, so nothing but the gate can refuse the rollback's kill
        wait_for(lambda: [d for d in sim.timeline() if d["workload_ready_at"]], 20, "recovery")
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 4, out
    assert len(sim.timeline()) == 1  # ground truth: only the method's kill
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["aftershock"]["reason"] == "shutdown"
    kill, scale = journal["rollbacks"]
    assert kill["status"] == "failed", kill
    assert "shutdown" in kill["exception"][-1], kill["exception"]
    assert scale["status"] == "succeeded"  # what only restores still runs
    assert sim.apps.read_namespaced_deployment("webapp", "shop").spec.replicas == 5


HALT = {"metadata": {"name": "aftershock-halt"}, "data": {"halted": "true", "reason": "freeze"}}
HALT_SETTINGS = {
    "safety": {"max_percent": 100, "min_ready_replicas": 0, "cooldown": "0s"},
    "kube": {"namespace": "aftershock"},  # the switch: <kube.namespace>/aftershock-halt
}


def halt_story() -> dict:
    spec = story(3)
    spec["namespaces"].append({"name": "aftershock", "workloads": []})
    return spec


def test_a_halt_configmap_set_before_the_run_stops_it_before_any_chaos(make_sim, tmp_path) -> None:
    sim = make_sim(halt_story())
    sim.ready()
    sim.core.create_namespaced_config_map("aftershock", HALT)
    done = run(sim, tmp_path, greeter_experiment(), "--no-dry-run", settings=HALT_SETTINGS)
    assert done.returncode == 4, done.stderr
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert (journal["aftershock"]["outcome"], journal["aftershock"]["reason"]) == (
        "aborted",
        "halted",
    )
    assert "freeze" in journal["aftershock"]["error"]
    assert sim.timeline() == []


def test_a_halt_configmap_set_mid_run_stops_the_next_kill(make_sim, tmp_path) -> None:
    sim = make_sim(halt_story())
    sim.ready()
    experiment = greeter_experiment()
    first = experiment["method"][0]
    first["pauses"] = {"after": 10}  # the ConfigMap lands in it however slow; the halt cuts it
    experiment["method"].append({**first, "name": "terminate-another-greeter", "pauses": {}})
    argv, env = command(sim, tmp_path, experiment, "--no-dry-run", settings=HALT_SETTINGS)
    process = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    try:
        wait_for(sim.timeline, 20, "the first kill")
        sim.core.create_namespaced_config_map("aftershock", HALT)
        out, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 4, out
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert (journal["aftershock"]["outcome"], journal["aftershock"]["reason"]) == (
        "aborted",
        "halted",
    )
    assert len(sim.timeline()) == 1
