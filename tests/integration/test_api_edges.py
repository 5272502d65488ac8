"""Issue 12, findings 6 and 12 against the live daemon (real HTTP server, simulated cluster):
halt works whatever the history's state, request bodies are limited before they are read,
deep JSON is a 400, an unopenable history is a 503, and secret values never leave a run."""

from __future__ import annotations

import json
import select
import socket
import time
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest

from daemon.store.history import HistoryStore
from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import (
    TOKEN,
    DaemonThread,
    cluster,
    daemon_settings,
    write_catalog,
)
from tests.integration.engine_helpers import greeter_experiment
from tests.integration.test_engine import story

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "s3cr3t-Tok/en+42"  # '/' and '+' change under URL encoding: both forms must go


def slow_kill() -> dict:
    """The kill waits 3 s in `pauses.before`: a halt arrives while it is pending."""
    experiment = greeter_experiment(extension={"recovery": {"timeout": "20s"}})
    experiment["method"][0]["pauses"] = {"before": 3}
    return experiment


def leaky() -> dict:
    """A secret and a credential-looking env configuration value in a URL that fails."""
    experiment = greeter_experiment(
        method=[
            {
                "type": "action",
                "name": "call-with-token",
                "provider": {
                    "type": "http",
                    "url": "http://127.0.0.1:1/hook?token=${token}&key=${auth_key}",
                    "timeout": 2,
                },
            }
        ]
    )
    experiment["title"] = "leaks ${token}?"
    experiment["secrets"] = {"api": {"token": SECRET}}
    experiment["configuration"]["auth_key"] = {"type": "env", "key": "WEBAPP_URL"}
    return experiment


def set_read_only(store, on: bool) -> None:
    with store._lock:
        store._db.execute(f"PRAGMA query_only={'ON' if on else 'OFF'}")


@pytest.fixture
def live(make_sim, tmp_path):
    spec = story(3, ready_delay="300ms")
    spec["namespaces"] += cluster()["namespaces"][1:]
    sim = make_sim(spec)
    sim.ready()
    catalog = write_catalog(tmp_path / "catalog", {"slow-kill": slow_kill(), "leaky": leaky()})
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog))
    client = httpx.Client(base_url=daemon.url, timeout=10)
    wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
    yield sim, daemon, client
    client.close()
    daemon.stop()


# ---------------------------------------------------------------- I6 halt always works


def test_halt_with_an_unwritable_history_takes_effect_at_once(live) -> None:
    sim, daemon, client = live
    store = daemon.daemon.store
    started = client.post("/api/v1/experiments/slow-kill/runs", headers=AUTH)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    set_read_only(store, True)  # the disk fails while the kill is pending
    halted = client.post("/api/v1/halt", json={"reason": "disk incident"}, headers=AUTH)
    assert halted.status_code == 202, halted.text
    body = halted.json()
    assert body["persisted"] is False
    assert "disk incident" in body["halted"]
    assert "not recorded" in body["detail"]
    # In force at once: the run in flight ends, its pending kill never happens.
    wait_for(lambda: daemon.daemon.entries["slow-kill"].running is None, 15, "the run to end")
    time.sleep(1.5)  # past the moment the 3 s pause would have released the kill
    assert sim.timeline() == []
    assert daemon.daemon.entries["slow-kill"].last_reason == "halted"
    refused = client.post("/api/v1/experiments/slow-kill/runs", headers=AUTH)
    assert refused.status_code == 409
    assert refused.json()["title"] == "Halted"
    # A resume that cannot be recorded is refused: the halt stays in force.
    resumed = client.post("/api/v1/resume", headers=AUTH)
    assert resumed.status_code == 503
    assert resumed.headers["content-type"] == "application/problem+json"
    assert "halt stays in force" in resumed.json()["detail"]
    assert "disk incident" in client.get("/api/v1/experiments").json()["halted"]
    # The disk comes back: the halt and the end of the run are recorded by housekeeping.
    set_read_only(store, False)
    wait_for(
        lambda: (store.get_state("halt") or {}).get("reason") == "disk incident", 10, "persisted"
    )
    run = wait_for(
        lambda: (r := client.get(f"/api/v1/runs/{run_id}").json())["state"] == "done" and r,
        10,
        "the run recorded as done",
    )
    assert run["reason"] == "halted"
    assert client.post("/api/v1/resume", headers=AUTH).json() == {
        "halted": None,
        "persisted": True,
    }
    assert store.get_state("halt") is None
    assert sim.timeline() == []


def test_unrecorded_resume_leaves_the_halt_after_restart_and_configmap_needs_no_history(
    make_sim, tmp_path
) -> None:
    sim = make_sim(cluster())
    sim.ready()
    catalog = write_catalog(tmp_path / "catalog", {"g": greeter_experiment()})
    settings = daemon_settings(tmp_path, catalog)
    first = DaemonThread(sim, settings)
    try:
        with httpx.Client(base_url=first.url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
            answer = client.post("/api/v1/halt", json={"reason": "freeze"}, headers=AUTH)
            assert answer.status_code == 200
            assert answer.json()["persisted"] is True
            set_read_only(first.daemon.store, True)
            assert client.post("/api/v1/resume", headers=AUTH).status_code == 503
            # The ConfigMap halt is read from the cluster, never from the history.
            sim.core.create_namespaced_config_map(
                "aftershock",
                {"metadata": {"name": "aftershock-halt"}, "data": {"halted": "true"}},
            )
            wait_for(lambda: first.daemon.halt.configmap is not None, 10, "ConfigMap halt")
            sim.core.delete_namespaced_config_map("aftershock-halt", "aftershock")
    finally:
        first.stop()
    second = DaemonThread(sim, settings)  # same history file, writable again
    try:
        with httpx.Client(base_url=second.url, timeout=10) as client:
            wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
            assert "freeze" in client.get("/api/v1/experiments").json()["halted"]
            assert client.post("/api/v1/experiments/g/runs", headers=AUTH).status_code == 409
    finally:
        second.stop()
    assert sim.timeline() == []


# ---------------------------------------------------------------- I12 edges of the API


def raw_request(url: str, head: bytes, chunks=()) -> bytes:
    """Send `head` then chunks until the server answers; return what it answered."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head)
        sent = 0
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # answered before the body was sent
            try:
                sock.sendall(chunk)
            except OSError:
                break
            sent += len(chunk)
        answer = b""
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            assert time.monotonic() < deadline, answer
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
    return answer


def headers_for(extra: str) -> bytes:
    return (
        "POST /api/v1/halt HTTP/1.1\r\nHost: aftershock\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


def test_a_declared_huge_body_is_refused_before_it_is_read(live) -> None:
    _sim, daemon, client = live
    # 150 MB declared; only 12 bytes are ever sent. The 413 must come anyway.
    answer = raw_request(daemon.url, headers_for("Content-Length: 157286400\r\n") + b'{"reason": "')
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"content-type: application/problem+json" in head.lower()
    assert json.loads(body)["status"] == 413
    assert client.get("/api/v1/experiments").json()["halted"] is None


def test_a_chunked_body_is_cut_off_at_the_limit(live) -> None:
    _sim, daemon, client = live
    chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"  # 64 KiB chunks, up to 8 MiB
    answer = raw_request(daemon.url, headers_for("Transfer-Encoding: chunked\r\n"), [chunk] * 128)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:200]
    assert json.loads(body)["title"] == "Payload Too Large"
    assert client.get("/api/v1/experiments").json()["halted"] is None


@pytest.mark.parametrize(
    "content",
    [b"[" * 200_000, b'{"reason": ' + b"[" * 100_000, b"{not json", b"\xff\xfe"],
    ids=["200k-brackets", "deep-reason", "malformed", "not-utf8"],
)
def test_bad_json_is_a_400_problem(live, content: bytes) -> None:
    _sim, _daemon, client = live
    answer = client.post(
        "/api/v1/halt", content=content, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["title"] == "Invalid JSON"
    assert client.get("/api/v1/experiments").json()["halted"] is None


def test_trigger_with_an_unopenable_history_is_503(make_sim, tmp_path) -> None:
    sim = make_sim(cluster())
    sim.ready()
    catalog = write_catalog(tmp_path / "catalog", {"g": greeter_experiment()})
    (tmp_path / "history-is-a-directory").mkdir()
    settings = daemon_settings(
        tmp_path, catalog, store={"path": str(tmp_path / "history-is-a-directory")}
    )
    daemon = DaemonThread(sim, settings)
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as client:
            wait_for(daemon.daemon.is_leader, 10, "leadership")
            answer = client.post("/api/v1/experiments/g/runs", headers=AUTH)
            assert answer.status_code == 503, (
                answer.text
            )  # docs/reference/api.md: 503 history unwritable
            assert answer.json()["title"] == "History Unavailable"
            assert client.get("/api/v1/runs").status_code == 503
            assert client.get("/runs/nope").status_code == 503
            # Halt still works, and says it is not recorded.
            halted = client.post("/api/v1/halt", json={"reason": "x"}, headers=AUTH)
            assert halted.status_code == 202
            assert client.get("/readyz").status_code == 503
            # The status page still shows the halt and the catalog, and why runs are missing.
            page = client.get("/")
            assert page.status_code == 200
            assert "Halted:" in page.text
            assert "Run history unavailable" in page.text
            assert client.get("/experiments/g").status_code == 503
    finally:
        daemon.stop()
    assert sim.timeline() == []


def test_a_history_that_opens_late_recovers_interrupted_runs_without_a_restart(
    make_sim, tmp_path
) -> None:
    """Unopenable at start-up, back later: the stored halt is read, the run a crash left
    `running` gets its rollbacks played and is recorded, all without a restart."""
    sim = make_sim(cluster())
    sim.ready()
    experiment = greeter_experiment()
    experiment["rollbacks"] = [
        {
            "type": "action",
            "name": "check-webapp",
            "provider": {"type": "http", "url": "${web_app_url}", "timeout": 3},
        }
    ]
    experiment["secrets"] = {"api": {"token": SECRET}}  # stored as declared with the run
    catalog = write_catalog(tmp_path / "catalog", {"g": experiment})
    settings = daemon_settings(tmp_path, catalog)
    path = settings.store.path
    store = HistoryStore(path, retention=timedelta(days=1), max_runs_per_experiment=10).open()
    store.start_run(
        "g-crashed",
        "g",
        trigger="schedule",
        dry_run=False,
        experiment_doc=experiment,
        started_at=time.time() - 60,
    )
    store.close()
    path.rename(path.with_suffix(".away"))
    path.mkdir()  # a directory where the database should be: it cannot be opened
    daemon = DaemonThread(sim, settings)
    try:
        with httpx.Client(base_url=daemon.url, timeout=10) as client:
            wait_for(daemon.daemon.is_leader, 10, "leadership")
            assert client.post("/api/v1/experiments/g/runs", headers=AUTH).status_code == 503
            path.rmdir()
            path.with_suffix(".away").rename(path)  # the volume is back
            run = wait_for(
                lambda: (
                    (r := client.get("/api/v1/runs/g-crashed")).status_code == 200
                    and r.json()["state"] == "done"
                    and r.json()
                ),
                15,
                "the interrupted run recovered",
            )
            assert (run["outcome"], run["reason"]) == ("aborted", "interrupted")
            assert [r["status"] for r in run["journal"]["rollbacks"]] == ["succeeded"]
            assert SECRET not in json.dumps(run)
            assert run["journal"]["experiment"]["secrets"]["api"]["token"] == "***"
            answer = client.post("/api/v1/experiments/g/runs", headers=AUTH)
            assert answer.status_code == 202, answer.text
    finally:
        daemon.stop()


# ---------------------------------------------------------------- I12 secrets redacted


def test_secret_values_appear_in_no_journal_page_or_answer(live, capfd) -> None:
    sim, daemon, client = live
    webapp_url = sim.sim.service_url("shop", "webapp")  # the value of `auth_key`
    started = client.post("/api/v1/experiments/leaky/runs", headers=AUTH)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    run = wait_for(
        lambda: (r := client.get(f"/api/v1/runs/{run_id}").json())["state"] == "done" and r,
        30,
        "the run",
    )
    assert run["outcome"] == "failed", run["journal"]["aftershock"]
    record = run["journal"]["run"][0]
    assert "127.0.0.1:1/hook?token=***&key=***" in json.dumps(record)  # the error is kept
    texts = {
        "run": client.get(f"/api/v1/runs/{run_id}").text,
        "runs": client.get("/api/v1/runs").text,
        "experiments": client.get("/api/v1/experiments").text,
        "page": client.get(f"/runs/{run_id}").text,
        "index": client.get("/").text,
        "experiment page": client.get("/experiments/leaky").text,
        "stored": json.dumps(daemon.daemon.store.run(run_id)[1]),
    }
    captured = capfd.readouterr()
    texts["logs"] = captured.out + captured.err
    for name, text in texts.items():
        for value in (SECRET, "s3cr3t-Tok%2Fen%2B42", "s3cr3t-Tok%2Fen+42", webapp_url):
            assert value not in text, f"{value!r} leaked into {name}"


def test_an_unexpected_error_is_a_500_problem_without_internals(live) -> None:
    _sim, daemon, client = live

    def broken() -> list[str]:
        raise RuntimeError("internal detail that must not leak")

    daemon.daemon.readiness = broken
    answer = client.get("/readyz")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert "internal detail" not in answer.text
