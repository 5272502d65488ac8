"""Logging: JSON lines off a TTY, run context on every line, library logs in the same format."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from daemon.logging import configure_logging, get_logger, run_context
from daemon.settings import LoggingSettings


@pytest.fixture(autouse=True)
def reset() -> None:
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_carry_run_context() -> None:
    stream = io.StringIO()
    configure_logging(LoggingSettings(level="INFO", format="auto"), stream)
    log = get_logger("test")
    with run_context("greeter-kill", "run-42"):
        log.info("pod deleted", pod="greeter-1")
        logging.getLogger("kubernetes.client").warning("retrying %s", "list")
    log.info("outside")
    records = lines(stream)
    assert records[0]["event"] == "pod deleted"
    assert records[0]["experiment"] == "greeter-kill"
    assert records[0]["run_id"] == "run-42"
    assert records[0]["level"] == "info"
    assert "timestamp" in records[0]
    assert records[1]["event"] == "retrying list"
    assert records[1]["run_id"] == "run-42"
    assert "run_id" not in records[2]


def test_level_filters() -> None:
    stream = io.StringIO()
    configure_logging(LoggingSettings(level="WARNING", format="json"), stream)
    get_logger("t").info("hidden")
    get_logger("t").warning("shown")
    assert [r["event"] for r in lines(stream)] == ["shown"]


def test_console_format_is_not_json() -> None:
    stream = io.StringIO()
    configure_logging(LoggingSettings(format="console"), stream)
    get_logger("t").info("hello", key="value")
    output = stream.getvalue()
    assert "hello" in output
    assert "key" in output
    with pytest.raises(json.JSONDecodeError):
        json.loads(output.splitlines()[0])


def test_exceptions_are_rendered_in_json() -> None:
    stream = io.StringIO()
    configure_logging(LoggingSettings(format="json"), stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        get_logger("t").exception("failed")
    (record,) = lines(stream)
    assert "RuntimeError: boom" in record["exception"]
