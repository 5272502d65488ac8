"""`aftershock demo-app`: dependency parsing, the answer rule, and real HTTP between
three demo-app servers (webapp -> greeter, name) as the shop's pods run them."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from daemon.cli import cli
from daemon.demoapp import (
    DemoApp,
    DemoAppError,
    DemoServer,
    Dependency,
    check,
    decide,
    parse_dependencies,
)


def test_dependencies_are_names_or_name_url_pairs() -> None:
    assert parse_dependencies(" greeter, name=http://10.0.0.1:8080/x ,") == (
        Dependency("greeter", "http://greeter/"),
        Dependency("name", "http://10.0.0.1:8080/x"),
    )
    assert parse_dependencies("") == ()
    for bad in ("bad name", "=http://x/", "x=ftp://y/"):
        with pytest.raises(DemoAppError, match="depends-on"):
            parse_dependencies(bad)


@given(
    failed=st.sets(st.sampled_from(["greeter", "name"])),
    status=st.integers(100, 599),
    delay=st.floats(0, 1000, allow_nan=False),
)
def test_the_answer_is_200_only_when_every_dependency_answers(failed, status, delay) -> None:
    app = DemoApp(
        "webapp",
        "webapp-1",
        parse_dependencies("greeter,name"),
        unavailable_status=status,
        unavailable_delay=delay,
    )
    answer = decide(app, dict.fromkeys(failed, "down"))
    if failed:
        assert (answer.status, answer.delay) == (status, min(delay, 60.0))
        assert answer.text.startswith("webapp -> ")
        assert answer.text.split(" -> ")[1].split(":")[0] in failed
    else:
        assert (answer.status, answer.text) == (200, "webapp answered by webapp-1\n")


def test_a_dependency_that_hangs_costs_one_timeout() -> None:
    app = DemoApp("webapp", "w", parse_dependencies("greeter,name"), dependency_timeout=0.2)

    def get(url: str, timeout: float) -> str | None:
        if "greeter" in url:
            time.sleep(5)
        return None

    started = time.monotonic()
    assert check(app, get) == {"greeter": "no answer in time"}
    assert time.monotonic() - started < 3


@pytest.fixture
def servers() -> Iterator[dict[str, DemoServer]]:
    running: dict[str, DemoServer] = {}

    def serve(app: DemoApp) -> DemoServer:
        server = DemoServer(app, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        running[app.service] = server
        return server

    greeter = serve(DemoApp("greeter", "greeter-1"))
    name = serve(DemoApp("name", "name-1"))
    deps = f"greeter={greeter.url},name={name.url}"
    serve(
        DemoApp(
            "webapp",
            "webapp-1",
            parse_dependencies(deps),
            unavailable_status=503,
            unavailable_delay=0.3,
            dependency_timeout=1,
        )
    )
    yield running
    for server in running.values():
        server.shutdown()
        server.server_close()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_webapp_fails_when_the_greeter_is_gone_and_stays_ready(servers) -> None:
    webapp = servers["webapp"].url
    assert get(webapp) == (200, "webapp answered by webapp-1\n")
    servers["greeter"].shutdown()
    servers["greeter"].server_close()
    started = time.monotonic()
    status, text = get(webapp)
    assert status == 503
    assert text.startswith("webapp -> greeter: unreachable")
    assert time.monotonic() - started >= 0.3  # the configured delay
    assert get(webapp + "readyz") == (200, "ok\n")  # as in the simulator: still Ready
    assert get(webapp + "healthz") == (200, "ok\n")


def test_bad_flags_are_usage_errors_naming_the_option() -> None:
    runner = CliRunner()
    bad = runner.invoke(cli, ["demo-app", "--service", "webapp", "--unavailable-delay", "2m"])
    assert bad.exit_code == 2
    assert "--unavailable-delay" in bad.output
    bad = runner.invoke(cli, ["demo-app", "--service", "webapp", "--depends-on", "a b"])
    assert bad.exit_code == 2
    assert "--depends-on" in bad.output
    missing = runner.invoke(cli, ["demo-app"], env={"AFTERSHOCK_DEMO_SERVICE": ""})
    assert missing.exit_code == 2
