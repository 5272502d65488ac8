"""Notification settings, routing, payload and Slack rendering (pure parts)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from slack_sdk.models.blocks import Block

from daemon.catalog.loader import load_catalog
from daemon.listeners import RunEnded
from daemon.notify.config import DEFAULT_OUTCOMES, NotifySettings, SinkSettings
from daemon.notify.notifier import Notifier, select_sinks
from daemon.notify.payload import SCHEMA, run_payload, sample_run
from daemon.notify.slack import run_message
from daemon.outcomes import Outcome
from daemon.settings import SettingsLoadError, load_settings

SECRET = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"


def run(outcome: Outcome = Outcome.DEVIATED, experiment: str = "greeter-kill", **kw) -> RunEnded:
    base = sample_run(1_700_000_000.0)
    return RunEnded(**{**base.__dict__, "outcome": outcome, "experiment_id": experiment, **kw})


def sinks(*specs: dict) -> list[SinkSettings]:
    return [SinkSettings.model_validate({"type": "webhook", "url": "http://x", **s}) for s in specs]


def test_sinks_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AFTERSHOCK_NOTIFY__SINKS",
        json.dumps(
            [
                {"name": "team-slack", "type": "slack", "url_env": "SLACK_URL"},
                {"name": "audit", "type": "webhook", "url": SECRET, "outcomes": "all"},
            ]
        ),
    )
    monkeypatch.setenv("AFTERSHOCK_NOTIFY__PUBLIC_URL", "https://as.example/")
    settings = load_settings()
    slack, audit = settings.notify.sinks
    assert slack.outcomes == list(DEFAULT_OUTCOMES)
    assert audit.outcomes == list(Outcome)
    assert settings.notify.public_url == "https://as.example"
    dumped = json.dumps(settings.model_dump(mode="json"))
    assert SECRET not in dumped
    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert audit.target() == "url (redacted)"


def test_a_bad_sink_in_the_environment_is_named_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "AFTERSHOCK_NOTIFY__SINKS", json.dumps([{"name": "s", "type": "slak", "url": SECRET}])
    )
    with pytest.raises(SettingsLoadError) as caught:
        load_settings()
    (line,) = caught.value.lines
    assert line.startswith("AFTERSHOCK_NOTIFY__SINKS at notify.sinks.0.type:")
    assert SECRET not in line


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"name": "a", "type": "webhook"}, "exactly one of url, url_file or url_env (got none)"),
        ({"name": "a", "type": "webhook", "url": "u", "url_env": "E"}, "got url and url_env"),
        ({"name": "a", "type": "slack", "url": "u", "secret_file": "/k"}, "not signed"),
        ({"name": "a", "type": "webhook", "url": "u", "outcomes": ["deviatd"]}, "deviated"),
        ({"name": "A b", "type": "webhook", "url": "u"}, "pattern"),
    ],
)
def test_sink_settings_errors(spec: dict, words: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(words)):
        SinkSettings.model_validate(spec)


def test_digest_must_name_a_sink_and_names_must_be_unique() -> None:
    with pytest.raises(ValidationError, match=r"digest\.sink 'nope' is not a configured sink"):
        NotifySettings.model_validate(
            {"sinks": [{"name": "a", "type": "webhook", "url": "u"}], "digest": {"sink": "nope"}}
        )
    with pytest.raises(ValidationError, match="a given twice"):
        NotifySettings.model_validate({"sinks": [{"name": "a", "type": "webhook", "url": "u"}] * 2})
    with pytest.raises(ValidationError, match="Europe/Paris"):
        NotifySettings.model_validate(
            {
                "sinks": [{"name": "a", "type": "webhook", "url": "u"}],
                "digest": {"sink": "a", "timezone": "Europe/Pariss"},
            }
        )


def test_routing_follows_outcomes_globs_tags_and_the_experiment_key() -> None:
    configured = sinks(
        {"name": "failures"},
        {"name": "all", "outcomes": "all"},
        {"name": "greeters", "outcomes": "all", "experiments": ["greeter-*"]},
        {"name": "tagged", "outcomes": "all", "tags": ["team-a"]},
    )

    def names(r: RunEnded, notify=None) -> list[str]:
        return [s.name for s in select_sinks(configured, r, notify)]

    assert names(run(Outcome.DEVIATED)) == ["failures", "all", "greeters"]
    assert names(run(Outcome.PASSED)) == ["all", "greeters"]
    assert names(run(Outcome.PASSED, experiment="db-kill", tags=("team-a",))) == ["all", "tagged"]
    assert names(run(Outcome.DEVIATED), notify=False) == []
    assert names(run(Outcome.DEVIATED), notify=["all"]) == ["all"]
    assert names(run(Outcome.PASSED), notify=["failures"]) == []  # its outcome filter holds


@given(
    outcome=st.sampled_from(list(Outcome)),
    notify=st.one_of(st.none(), st.booleans(), st.lists(st.sampled_from(["a", "b", "c", "zz"]))),
    dry_run=st.booleans(),
)
def test_routing_never_widens_what_an_experiment_asked_for(outcome, notify, dry_run) -> None:
    configured = sinks(
        {"name": "a", "outcomes": "all"}, {"name": "b"}, {"name": "c", "include_dry_run": False}
    )
    chosen = {s.name for s in select_sinks(configured, run(outcome, dry_run=dry_run), notify)}
    if notify is False:
        assert chosen == set()
    if isinstance(notify, list):
        assert chosen <= set(notify)
    for s in configured:
        if s.name in chosen:
            assert outcome in s.outcomes
            assert s.include_dry_run or not dry_run


def test_the_extension_accepts_notify_and_names_file_field_and_value(
    tmp_path: Path, write, options, experiment
) -> None:
    good, bad = experiment, json.loads(json.dumps(experiment))
    good["extensions"] = [{"name": "aftershock", "notify": ["team-slack"]}]
    bad["extensions"] = [{"name": "aftershock", "notify": "team-slack"}]
    off = json.loads(json.dumps(experiment))
    off["extensions"] = [{"name": "aftershock", "notify": False}]
    write("good.yaml", good)
    write("off.yaml", off)
    write("bad.yaml", bad)
    report = load_catalog([tmp_path], options)
    loaded = {e.id: e.settings.notify for e in report.experiments}
    assert loaded == {"good": ["team-slack"], "off": []}
    (broken,) = [f for f in report.files if not f.ok]
    text = " ".join(f"{p.path} {p.message}" for p in broken.problems)
    assert broken.path.name == "bad.yaml"
    assert "notify" in text, text
    assert "team-slack" in text, text


def test_payload_schema_fields() -> None:
    payload = run_payload(run(), public_url=None, slo_seconds=2.0)
    assert list(payload) == [
        "schema", "experiment", "title", "run_id", "outcome", "reason", "reason_text", "trigger",
        "dry_run", "started_at", "ended_at", "tags", "disruptions", "recovery", "hypothesis", "url",
    ]  # fmt: skip
    assert payload["schema"] == SCHEMA
    assert payload["url"] is None
    assert payload["recovery"] == [
        {
            "namespace": "shop",
            "workload": "greeter",
            "seconds": 2.8,
            "slo_seconds": 2.0,
            "met": False,
        }
    ]
    assert payload["reason_text"] == (
        "the steady state did not come back after the disruption: webapp-must-respond answered 503"
    )
    json.dumps(payload)  # plain JSON


@given(
    outcome=st.sampled_from(list(Outcome)), title=st.text(max_size=400), reason=st.text(max_size=50)
)
def test_every_slack_message_is_valid_block_kit(outcome, title, reason) -> None:
    payload = run_payload(
        run(outcome, title=title, reason=reason), public_url="https://as.example", slo_seconds=None
    )
    message = run_message(payload).as_dict()  # to_dict() validates lengths and shapes
    blocks = Block.parse_all(message["attachments"][0]["blocks"])
    assert blocks[0].type == "header"
    assert all(b.to_dict() for b in blocks)


def test_notify_test_refuses_an_unknown_sink() -> None:
    notifier = Notifier(NotifySettings(), environ={}, count=lambda *_: None)
    with pytest.raises(KeyError):
        notifier.test("nope")


def test_an_unknown_sink_name_is_warned_once_and_a_glob_is_not(monkeypatch) -> None:
    from structlog.testing import capture_logs

    from daemon.notify.notifier import ExperimentNotify

    settings = NotifySettings.model_validate(
        {"sinks": [{"name": "team-slack", "type": "webhook", "url": "http://127.0.0.1:9"}]}
    )
    wanted = {"a": ExperimentNotify(["team-*"]), "b": ExperimentNotify(["teem-slack"])}
    notifier = Notifier(settings, environ={}, count=lambda *_: None, lookup=wanted.get)
    offered: list[dict] = []
    monkeypatch.setattr(notifier.workers["team-slack"], "offer", offered.append)
    with capture_logs() as events:
        for experiment in ("a", "b", "b"):
            notifier.run_ended(run(experiment=experiment))
    warnings = [e for e in events if e["event"] == "experiment names an unknown sink"]
    assert [(w["experiment"], w["sink"]) for w in warnings] == [("b", "teem-slack")]
    assert [p["experiment"] for p in offered] == ["a"]
