"""Hostile review F10 against the live daemon: odd text never makes the API answer 500.

A halt reason with a lone surrogate (legal as a JSON escape, not Unicode text) once
answered 500 although the halt was in force, and then every page and the trigger answered
500 until resume. Request text is now checked (400 problem+json naming the field) and
every answer and page is rendered so that stored odd text cannot break it.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.integration.conftest import wait_for
from tests.integration.daemon_helpers import TOKEN, DaemonThread, cluster, daemon_settings
from tests.integration.engine_helpers import greeter_experiment

AUTH = {"Authorization": f"Bearer {TOKEN}"}
LONE = "lone \ud800 surrogate"


@pytest.fixture
def live(make_sim, tmp_path):
    sim = make_sim(cluster())
    sim.ready()
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "good.json").write_text(json.dumps(greeter_experiment()))
    experiment = greeter_experiment()
    experiment["title"] = "odd \udfff title"  # a JSON escape in the file: a lone surrogate
    (catalog / "odd.json").write_text(json.dumps(experiment))  # invalid, its problem shown
    daemon = DaemonThread(sim, daemon_settings(tmp_path, catalog))
    client = httpx.Client(base_url=daemon.url, timeout=10)
    wait_for(lambda: client.get("/readyz").json().get("leader"), 10, "leadership")
    yield sim, daemon, client
    client.close()
    daemon.stop()


READS = ["/", "/api/v1/experiments", "/api/v1/experiments/odd", "/api/v1/runs"]


def assert_readable(client: httpx.Client) -> None:
    for path in READS:
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        answer.content.decode("utf-8")  # strict: valid UTF-8 whatever the stored text


@pytest.mark.parametrize(
    "body",
    [
        b'{"reason": "lone \\ud800 surrogate"}',
        b'{"reason": "low \\udc00 first"}',
        b'{"reason": "reversed pair \\ude00\\ud83d"}',
        b'{"reason": "\\ud83d"}',
    ],
)
def test_a_halt_reason_with_a_lone_surrogate_is_a_400_naming_the_field(live, body) -> None:
    _, daemon, client = live
    answer = client.post("/api/v1/halt", content=body, headers=AUTH)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["field"] == "reason"
    assert "'reason'" in problem["detail"]
    assert "surrogate" in problem["detail"]
    assert daemon.daemon.halt.reason() is None  # refused, not half applied
    assert_readable(client)


def test_a_valid_pair_escape_is_accepted(live) -> None:
    client = live[2]
    answer = client.post(
        "/api/v1/halt", content=b'{"reason": "pair \\ud83d\\ude00 ok"}', headers=AUTH
    )
    assert answer.status_code == 200, answer.text
    assert "pair \U0001f600 ok" in answer.json()["halted"]
    assert client.post("/api/v1/resume", headers=AUTH).status_code == 200


def test_stored_odd_text_never_breaks_a_page_or_the_trigger(live) -> None:
    """A halt recorded before the check (or any stored text) still renders, scrubbed."""
    sim, daemon, client = live
    daemon.daemon.halt.api = {"reason": LONE, "by": "old \udc80 version", "at": "then"}
    assert_readable(client)
    listing = client.get("/api/v1/experiments").json()
    assert listing["halted"].endswith("lone \ufffd surrogate")
    assert "lone \ufffd surrogate" in client.get("/").text
    refused = client.post("/api/v1/experiments/good/runs", headers=AUTH)
    assert refused.status_code == 409, refused.text  # halted, said in readable text
    assert "\ufffd" in refused.json()["detail"]
    assert sim.timeline() == []
    assert client.post("/api/v1/resume", headers=AUTH).status_code == 200
    assert client.get("/api/v1/experiments").json()["halted"] is None


def test_undecodable_bytes_in_the_url_are_not_a_500(live) -> None:
    """Percent-encoded surrogate bytes (invalid UTF-8) in a path or a query."""
    client = live[2]
    assert client.get("/api/v1/experiments/%ED%A0%80").status_code == 404
    assert client.get("/runs/%ED%A0%80").status_code == 404
    assert client.get("/api/v1/runs?experiment=%ED%A0%80").status_code == 200
    assert client.post("/api/v1/experiments/%ED%A0%80/runs", headers=AUTH).status_code == 404
