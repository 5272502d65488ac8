"""Notification delivery against real HTTP receivers on 127.0.0.1: signatures, retries,
Retry-After, hangs, dropped connections, full queues, rotation and the shutdown drain."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from slack_sdk.models.attachments import BlockAttachment
from slack_sdk.models.blocks import Block
from structlog.testing import capture_logs

from daemon.listeners import RunEnded
from daemon.notify.config import NotifySettings, SinkSettings
from daemon.notify.delivery import SinkWorker
from daemon.notify.notifier import Notifier
from daemon.notify.payload import SCHEMA, run_payload, sample_run
from tests.receivers import CLOSE, HANG, Answer, receiving

KEY = b"hmac-key-0123"


def payload(run_id: str = "r1") -> dict[str, Any]:
    run = sample_run(1_700_000_000.0)
    run = RunEnded(**{**run.__dict__, "run_id": run_id})
    return run_payload(run, public_url="https://as.example", slo_seconds=60.0)


def sink(url: str, **extra: Any) -> SinkSettings:
    return SinkSettings.model_validate(
        {"name": "hook", "type": "webhook", "url": url, "backoff": "50ms", **extra}
    )


class Counts:
    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def __call__(self, _sink: str, result: str) -> None:
        self.seen[result] += 1

    def wait(self, result: str, n: int = 1, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.seen[result] < n:
            assert time.monotonic() < deadline, f"{result}: {self.seen}"
            time.sleep(0.02)


def worker(
    settings: SinkSettings, environ: dict[str, str] | None = None
) -> tuple[SinkWorker, Counts]:
    counts = Counts()
    w = SinkWorker(settings, environ=environ or {}, count=counts)
    w.start()
    return w, counts


def test_webhook_is_signed_over_the_raw_body(tmp_path: Path) -> None:
    (tmp_path / "hmac").write_text(KEY.decode() + "\n")
    with receiving() as receiver:
        w, counts = worker(sink(receiver.url, secret_file=str(tmp_path / "hmac")))
        w.offer(payload())
        counts.wait("sent")
        (got,) = receiver.wait_for(1)
        w.close(time.monotonic() + 2)
    assert got.verify(KEY)
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-aftershock-event"] == "io.aftershock.run.finished"
    body = json.loads(got.body)
    assert body == payload()
    assert body["schema"] == SCHEMA
    assert body["url"] == "https://as.example/runs/r1"
    assert body["disruptions"] == [
        {
            "namespace": "shop",
            "workload": "greeter",
            "pod": "greeter-7d4b9-x2x9k",
            "method": "delete",
        }
    ]
    assert body["recovery"][0]["met"] is True
    assert body["hypothesis"] == {"before": True, "during": None, "after": False}


def test_unsigned_without_a_secret() -> None:
    with receiving() as receiver:
        w, counts = worker(sink(receiver.url))
        w.offer(payload())
        counts.wait("sent")
        (got,) = receiver.wait_for(1)
    assert "x-aftershock-signature-256" not in got.headers


def test_a_rotated_secret_file_is_used_for_the_next_message(tmp_path: Path) -> None:
    key_file, url_file = tmp_path / "hmac", tmp_path / "url"
    key_file.write_text("old-key")
    with receiving() as first, receiving() as second:
        url_file.write_text(first.url)
        w, counts = worker(
            sink("unused", secret_file=str(key_file)).model_copy(
                update={"url": None, "url_file": url_file}
            )
        )
        w.offer(payload("r1"))
        counts.wait("sent")
        key_file.write_text("new-key")  # what a Secret volume update does
        url_file.write_text(second.url)
        w.offer(payload("r2"))
        counts.wait("sent", 2)
        assert first.wait_for(1)[0].verify(b"old-key")
        assert second.wait_for(1)[0].verify(b"new-key")


def test_500_then_200_is_retried_and_sent() -> None:
    with receiving(Answer(500), Answer(200)) as receiver:
        w, counts = worker(sink(receiver.url))
        w.offer(payload())
        counts.wait("sent")
        bodies = [r.body for r in receiver.wait_for(2)]
    assert bodies[0] == bodies[1]  # the same message, byte for byte
    assert counts.seen == {"retried": 1, "sent": 1}


def test_429_retry_after_is_honoured() -> None:
    with receiving(Answer(429, {"Retry-After": "1"}), Answer(200)) as receiver:
        w, counts = worker(sink(receiver.url))  # back-off would be 50 ms
        w.offer(payload())
        counts.wait("sent")
        first, second = receiver.wait_for(2)
    assert second.at - first.at >= 0.95
    assert counts.seen == {"retried": 1, "sent": 1}


def test_a_4xx_is_not_retried() -> None:
    with receiving(Answer(404)) as receiver:
        w, counts = worker(sink(receiver.url))
        w.offer(payload())
        counts.wait("failed")
        assert len(receiver.wait_for(1)) == 1
    assert w.status.last_error is not None
    assert "404" in w.status.last_error


def test_a_hanging_sink_times_out_and_gives_up_after_max_tries() -> None:
    with receiving(HANG) as receiver:
        w, counts = worker(sink(receiver.url, timeout="300ms", max_tries=3))
        began = time.monotonic()
        w.offer(payload())
        counts.wait("failed")
        took = time.monotonic() - began
        assert len(receiver.wait_for(3)) == 3
    assert counts.seen == {"retried": 2, "failed": 1}
    assert took < 10, took  # 3 x 300 ms + back-off (a loaded machine), never the receiver's hour
    assert w.status.last_error == "no answer: timed out"


def test_a_closed_connection_is_retried() -> None:
    with receiving(CLOSE, Answer(200)) as receiver:
        w, counts = worker(sink(receiver.url))
        w.offer(payload())
        counts.wait("sent")
        assert len(receiver.wait_for(2)) == 2
    assert counts.seen == {"retried": 1, "sent": 1}


def test_a_full_queue_drops_the_oldest_and_counts_it() -> None:
    with receiving(Answer(200, hang=60), Answer(200)) as receiver:
        w, counts = worker(sink(receiver.url, queue_size=2))
        w.offer(payload("r0"))
        receiver.wait_for(1)  # r0 in flight (it hangs until released)
        for n in range(1, 5):  # r1..r4 queue into 2 places
            w.offer(payload(f"r{n}"))
        receiver.released.set()
        counts.wait("sent", 3)
        ids = [json.loads(r.body)["run_id"] for r in receiver.wait_for(3)]
    assert ids == ["r0", "r3", "r4"]
    assert counts.seen["dropped"] == 2


def test_shutdown_drains_within_its_bound_and_counts_the_rest() -> None:
    with receiving(HANG) as receiver:
        w, counts = worker(sink(receiver.url, timeout="30s"))
        for n in range(3):
            w.offer(payload(f"r{n}"))
        receiver.wait_for(1)
        began = time.monotonic()
        w.close(began + 1.0)
        w.finish(began + 1.0)
        took = time.monotonic() - began
        assert took < 1.0 + 3.0, took  # the 1 s bound (plus a loaded machine), never the 30 s
        assert counts.seen == {"abandoned": 3}  # the one in flight and the two queued
    assert counts.seen == {"abandoned": 3}  # the request in flight ending later counts nothing


def test_shutdown_sends_what_was_queued_when_the_sink_answers() -> None:
    with receiving() as receiver:
        w, counts = worker(sink(receiver.url))
        for n in range(5):
            w.offer(payload(f"r{n}"))
        w.close(time.monotonic() + 5)
        w.finish(time.monotonic() + 5)
        assert len(receiver.wait_for(5)) == 5
    assert counts.seen == {"sent": 5}


def test_cloudevent_structured_mode_parses_back(tmp_path: Path) -> None:
    (tmp_path / "hmac").write_text("k")
    with receiving() as receiver:
        settings = SinkSettings.model_validate(
            {
                "name": "ce",
                "type": "cloudevents",
                "url": receiver.url,
                "secret_file": str(tmp_path / "hmac"),
            }
        )
        w, counts = worker(settings)
        w.offer(payload())
        counts.wait("sent")
        (got,) = receiver.wait_for(1)
    assert got.headers["content-type"].startswith("application/cloudevents+json")
    assert got.verify(b"k")
    event = from_http_event(HTTPMessage(headers=got.headers, body=got.body))
    assert event.get_specversion() == "1.0"
    assert event.get_type() == "io.aftershock.run.finished"
    assert event.get_source() == "/aftershock/aftershock-notify-test"
    assert event.get_id() == "r1"
    assert event.get_time().isoformat() == payload()["ended_at"]
    assert event.get_data() == payload()


def test_slack_message_is_valid_block_kit() -> None:
    with receiving(Answer(200, body=b"ok")) as receiver:
        settings = SinkSettings.model_validate({"name": "s", "type": "slack", "url": receiver.url})
        w, counts = worker(settings)
        w.offer(payload())
        counts.wait("sent")
        (got,) = receiver.wait_for(1)
    message = json.loads(got.body)
    assert "greeter" not in message["text"] or "deviated" in message["text"]
    (attachment,) = message["attachments"]
    assert attachment["color"] == "#e01e5a"
    blocks = Block.parse_all(attachment["blocks"])
    assert [b.type for b in blocks] == ["header", "section", "section", "context", "actions"]
    rebuilt = BlockAttachment(blocks=blocks, color=attachment["color"]).to_dict()  # validates
    assert rebuilt["blocks"] == attachment["blocks"]
    text = json.dumps(attachment["blocks"])
    assert ":rotating_light:" in text
    assert "webapp-must-respond answered 503" in text
    assert "greeter-7d4b9-x2x9k" in text
    assert "2.8 s, SLO 60 s" in text
    assert "https://as.example/runs/r1" in text


def test_slack_429_retry_after_through_the_sdk_client() -> None:
    with receiving(Answer(429, {"Retry-After": "1"}), Answer(200)) as receiver:
        settings = SinkSettings.model_validate(
            {"name": "s", "type": "slack", "url": receiver.url, "backoff": "50ms"}
        )
        w, counts = worker(settings)
        w.offer(payload())
        counts.wait("sent")
        first, second = receiver.wait_for(2)
    assert second.at - first.at >= 0.95


def test_notify_test_sends_one_sample_and_reports_the_answer() -> None:
    with receiving(Answer(500, body=b"upstream down")) as receiver:
        settings = NotifySettings.model_validate(
            {"sinks": [{"name": "hook", "type": "webhook", "url": receiver.url}]}
        )
        reply = Notifier(settings, environ={}, count=lambda *_: None).test("hook")
        assert len(receiver.wait_for(1)) == 1
    assert (reply.status, reply.body, reply.ok) == (500, "upstream down", False)


def test_a_missing_url_file_is_a_counted_failure_that_names_the_file(tmp_path: Path) -> None:
    settings = SinkSettings.model_validate(
        {
            "name": "f",
            "type": "webhook",
            "url_file": str(tmp_path / "nope"),
            "max_tries": 2,
            "backoff": "10ms",
        }
    )
    w, counts = worker(settings)
    w.offer(payload())
    counts.wait("failed")
    assert w.status.last_error is not None
    assert str(tmp_path / "nope") in w.status.last_error


def test_urls_are_never_logged(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    with (
        receiving(Answer(500, body=b"no")) as receiver,
        capture_logs() as events,
        caplog.at_level(logging.DEBUG),
    ):
        secret_url = receiver.url + "/T000/B000/SECRETPATH"
        (tmp_path / "url").write_text(secret_url)
        for kind in ("slack", "webhook", "cloudevents"):
            settings = SinkSettings.model_validate(
                {
                    "name": kind,
                    "type": kind,
                    "url_file": str(tmp_path / "url"),
                    "max_tries": 2,
                    "backoff": "10ms",
                }
            )
            w, counts = worker(settings)
            w.offer(payload())
            counts.wait("failed")
    assert len(events) >= 6
    assert "SECRETPATH" not in repr(events)
    assert "SECRETPATH" not in caplog.text


def test_the_notify_test_command_prints_the_answer() -> None:
    from click.testing import CliRunner

    from daemon.cli import cli

    with receiving(Answer(200, body=b"ok"), Answer(503, body=b"busy")) as receiver:
        sinks = json.dumps([{"name": "hook", "type": "webhook", "url": receiver.url}])
        env = {"AFTERSHOCK_NOTIFY__SINKS": sinks}
        good = CliRunner().invoke(cli, ["notify", "test", "hook"], env=env)
        bad = CliRunner().invoke(cli, ["notify", "test", "hook"], env=env)
        unknown = CliRunner().invoke(cli, ["notify", "test", "nope"], env=env)
        shown = CliRunner().invoke(cli, ["notify", "show"], env=env)
        (first, _second) = receiver.wait_for(2)
    assert (good.exit_code, good.output) == (0, "hook: HTTP 200\nok\n")
    assert (bad.exit_code, bad.output) == (1, "hook: HTTP 503\nbusy\n")
    assert unknown.exit_code == 2
    assert "no sink 'nope' in notify.sinks (hook)" in unknown.output
    assert json.loads(first.body)["run_id"] == "notify-test"
    assert receiver.url not in shown.output
    assert json.loads(shown.output)["sinks"][0]["url"] == "**********"
