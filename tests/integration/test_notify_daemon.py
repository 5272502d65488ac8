"""The daemon on the simulated cluster notifies a signed webhook for a deviated run; an
experiment that says `notify: false` sends nothing; the metric counts the delivery; the
status API shows the sink without its URL."""

from __future__ import annotations

import json
import time

import httpx

from daemon.notify.notifier import notifier_of
from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import (
    TOKEN,
    DaemonThread,
    cluster,
    daemon_settings,
    write_catalog,
)
from tests.integration.engine_helpers import greeter_experiment
from tests.receivers import HANG, receiving

AUTH = {"Authorization": f"Bearer {TOKEN}"}
KEY = b"rotate-me"


def one_slow_greeter() -> dict:
    spec = cluster()
    spec["timing"]["shutdown_delay"] = "300ms"
    greeter = next(w for w in spec["namespaces"][0]["workloads"] if w["name"] == "greeter")
    greeter.update(replicas=1, timing={"ready_delay": "1500ms"})
    return spec


def with_extension(extension: dict) -> dict:
    experiment = greeter_experiment()
    experiment["extensions"] = [{"name": "aftershock", **extension}]
    return experiment


def trigger_and_wait(client: httpx.Client, experiment_id: str) -> dict:
    answer = client.post(f"/api/v1/experiments/{experiment_id}/runs", headers=AUTH)
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["run_id"]
    return wait_for(
        lambda: (r := client.get(f"/api/v1/runs/{run_id}").json())["state"] == "done" and r,
        30,
        "the run",
    )


def test_a_deviated_run_is_delivered_signed_and_counted(make_sim, tmp_path, monkeypatch) -> None:
    sim = make_sim(one_slow_greeter())
    sim.ready()
    catalog = write_catalog(
        tmp_path / "catalog",
        {
            "greeter-kill": with_extension({"recovery": {"timeout": "20s", "slo": "10s"}}),
            "quiet-kill": with_extension({"notify": False}),
        },
    )
    (tmp_path / "hmac").write_text(KEY.decode())
    with receiving() as receiver:
        settings = daemon_settings(
            tmp_path,
            catalog,
            notify={
                "public_url": "https://aftershock.staging.example",
                "sinks": [
                    {
                        "name": "audit",
                        "type": "webhook",
                        "url_env": "AUDIT_URL",
                        "secret_file": str(tmp_path / "hmac"),
                    }
                ],
            },
        )
        monkeypatch.setenv("AUDIT_URL", receiver.url)
        daemon = DaemonThread(sim, settings)
        try:
            with httpx.Client(base_url=daemon.url, timeout=10) as client:
                quiet = trigger_and_wait(client, "quiet-kill")
                assert quiet["outcome"] == "deviated", quiet
                sim.ready()
                sim.control("DELETE", "/sim/v1/timeline")
                run = trigger_and_wait(client, "greeter-kill")
                assert run["outcome"] == "deviated", run
                (got,) = receiver.wait_for(1, timeout=15)
                metrics = wait_for(
                    lambda: (
                        'aftershock_notifications_total{result="sent",sink="audit"} 1.0'
                        in (text := client.get("/metrics").text)
                        and text
                    ),
                    10,
                    "the counter",
                )
                status = client.get("/api/v1/notifications").json()
                page = client.get("/", headers=AUTH).text
        finally:
            daemon.stop()
    assert got.verify(KEY)
    body = json.loads(got.body)
    assert (body["schema"], body["experiment"], body["outcome"]) == (
        "aftershock.run/v1",
        "greeter-kill",
        "deviated",
    )
    assert body["run_id"] == run["id"]
    assert body["url"] == f"https://aftershock.staging.example/runs/{run['id']}"
    assert "503" in body["reason_text"]
    # The pods named are the ones the simulator saw deleted for this run (ground truth).
    truth = sim.timeline()
    assert [(d["namespace"], d["workload_name"], d["pod"], d["method"]) for d in truth] == [
        (d["namespace"], d["workload"], d["pod"], d["method"]) for d in body["disruptions"]
    ]
    assert [d["workload"] for d in body["disruptions"]] == ["greeter"]
    (recovery,) = body["recovery"]
    assert recovery["slo_seconds"] == 10.0
    assert 'aftershock_notifications_total{result="failed",sink="audit"} 0.0' in metrics
    assert len(receiver.received) == 1  # quiet-kill said notify: false
    (sink,) = status["sinks"]
    assert sink["target"] == "url_env AUDIT_URL"
    assert receiver.url not in json.dumps(status)
    assert sink["counts"]["sent"] == 1
    assert "url_env AUDIT_URL" in page
    assert "1 sent, 0 failed" in page
    assert receiver.url not in page


def test_a_sink_that_never_answers_does_not_hold_shutdown_past_its_bound(
    make_sim, tmp_path
) -> None:
    sim = make_sim(cluster())
    sim.ready()
    catalog = write_catalog(tmp_path / "catalog", {"greeter-kill": greeter_experiment()})
    with receiving(HANG) as receiver:
        settings = daemon_settings(
            tmp_path,
            catalog,
            scheduling={"shutdown_timeout": "2s"},
            notify={
                "sinks": [
                    {
                        "name": "hang",
                        "type": "webhook",
                        "url": receiver.url,
                        "outcomes": "all",
                        "timeout": "60s",
                    }
                ]
            },
        )
        daemon = DaemonThread(sim, settings)
        notifier = notifier_of(daemon.daemon.listeners)
        assert notifier is not None
        with httpx.Client(base_url=daemon.url, timeout=10) as client:
            first = trigger_and_wait(client, "greeter-kill")
            receiver.wait_for(1, timeout=15)  # in flight, never answered
            second = trigger_and_wait(client, "greeter-kill")  # its message waits in the queue
        began = time.monotonic()
        daemon.stop()
        took = time.monotonic() - began
    assert {first["outcome"], second["outcome"]} <= {"passed", "deviated"}
    assert took < 2 + 3 + 2, took  # the shutdown bound, uvicorn's graceful 3 s, a margin
    (status,) = notifier.status()
    assert status["counts"]["abandoned"] == 2, status
    assert status["counts"]["sent"] == 0
