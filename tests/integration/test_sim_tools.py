"""kubectl and Chaos Toolkit, unmodified, against the simulated cluster."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import wait_for

VENV_BIN = Path(sys.executable).parent


def kubectl(sim, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("kubectl")
    assert exe, (
        "kubectl is missing: scripts/bootstrap installs it (Debian package kubernetes-client)"
    )
    env = {
        **os.environ,
        "KUBECONFIG": str(sim.sim.kubeconfig),
        "HOME": str(sim.sim.kubeconfig.parent),
    }
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_kubectl_get_delete_logs_events(sim) -> None:
    pods = kubectl(sim, "get", "pods", "-n", "shop", "-l", "app=webapp")
    assert pods.returncode == 0, pods.stderr
    lines = pods.stdout.strip().splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(lines) == 4
    assert all(line.split()[1:3] == ["1/1", "Running"] for line in lines[1:])

    deployments = kubectl(sim, "get", "deploy", "-n", "shop")
    assert deployments.returncode == 0, deployments.stderr
    rows = {
        line.split()[0]: line.split()[1] for line in deployments.stdout.strip().splitlines()[1:]
    }
    assert rows == {"webapp": "3/3", "greeter": "1/1"}

    greeter = kubectl(
        sim, "get", "pods", "-n", "shop", "-l", "app=greeter", "-o", "name"
    ).stdout.strip()
    deleted = kubectl(sim, "delete", "-n", "shop", greeter, "--wait=true")
    assert deleted.returncode == 0, deleted.stderr
    pod_name = greeter.split("/", 1)[1]
    assert deleted.stdout.strip() == f'pod "{pod_name}" deleted'
    # --wait watched the pod until it was gone: it must no longer be listed.
    assert pod_name not in kubectl(sim, "get", "pods", "-n", "shop", "-o", "name").stdout

    logs = kubectl(sim, "logs", "-n", "shop", "db-0")
    assert logs.returncode == 0, logs.stderr
    assert "starting db-0" in logs.stdout

    events = kubectl(sim, "get", "events", "-n", "shop")
    assert events.returncode == 0, events.stderr
    assert "Killing" in events.stdout
    assert "Scheduled" in events.stdout

    json_out = json.loads(kubectl(sim, "get", "pdb", "webapp", "-n", "shop", "-o", "json").stdout)
    assert json_out["status"]["desiredHealthy"] == 2


def test_kubectl_reports_api_errors(sim) -> None:
    missing = kubectl(sim, "get", "pod", "nope", "-n", "shop")
    assert missing.returncode == 1
    assert 'pods "nope" not found' in missing.stderr
    bad = kubectl(sim, "get", "pods", "-n", "shop", "-l", "app in (x")
    assert bad.returncode == 1


EXPERIMENT = {
    "version": "1.0.0",
    "title": "Terminating the greeter should not impact the pods",
    "description": "Chaos Toolkit, unmodified, against the simulated cluster",
    "steady-state-hypothesis": {
        "title": "greeter is running",
        "probes": [
            {
                "type": "probe",
                "name": "greeter-running",
                "tolerance": True,
                "provider": {
                    "type": "python",
                    "module": "chaosk8s.pod.probes",
                    "func": "pods_in_phase",
                    "arguments": {
                        "label_selector": "app=greeter",
                        "phase": "Running",
                        "ns": "shop",
                    },
                },
            }
        ],
    },
    "method": [
        {
            "type": "action",
            "name": "terminate-greeter",
            "provider": {
                "type": "python",
                "module": "chaosk8s.pod.actions",
                "func": "terminate_pods",
                "arguments": {
                    "label_selector": "app=greeter",
                    "ns": "shop",
                    "rand": True,
                    "qty": 1,
                },
            },
            "pauses": {"after": 1},
        }
    ],
    "rollbacks": [],
}


def test_chaos_toolkit_run_completes_and_the_pod_comes_back(sim, tmp_path: Path) -> None:
    chaos = shutil.which("chaos", path=str(VENV_BIN))
    assert chaos, "chaostoolkit is missing: it is in the project's test extras"
    before = (
        sim.core.list_namespaced_pod("shop", label_selector="app=greeter").items[0].metadata.name
    )
    experiment = tmp_path / "experiment.json"
    experiment.write_text(json.dumps(EXPERIMENT))
    journal = tmp_path / "journal.json"
    env = {**os.environ, "KUBECONFIG": str(sim.sim.kubeconfig), "HOME": str(tmp_path)}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    result = subprocess.run(
        [
            chaos,
            "--no-version-check",
            "--settings",
            str(tmp_path / "settings.yaml"),
            "run",
            "--journal-path",
            str(journal),
            str(experiment),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(journal.read_text())
    assert report["status"] == "completed"
    assert report["deviated"] is False
    assert report["steady_states"]["before"]["steady_state_met"] is True
    assert report["steady_states"]["after"]["steady_state_met"] is True
    assert report["run"][0]["output"] == [before]
    sim.ready()
    after = [
        p.metadata.name
        for p in sim.core.list_namespaced_pod("shop", label_selector="app=greeter").items
        if p.metadata.deletion_timestamp is None
    ]
    assert len(after) == 1
    assert after[0] != before
    (item,) = wait_for(
        lambda: [d for d in sim.timeline() if d["workload_status_ready_at"]], 10, "recovery"
    )
    assert item["pod"] == before
    assert item["replacement"] == after[0]
