"""Chaos Toolkit model rules, checked through the loader so messages and locations are tested too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from daemon.catalog.loader import FileResult, LoadOptions, load_file
from daemon.catalog.problems import Severity


def load(
    write: Callable[..., Path], options: LoadOptions, data: Any, name: str = "exp.yaml"
) -> FileResult:
    return load_file(write(name, data), options)


def errors(result: FileResult) -> list[str]:
    return [f"{p.location}: {p.message}" for p in result.problems if p.severity is Severity.ERROR]


def warnings(result: FileResult) -> list[str]:
    return [f"{p.location}: {p.message}" for p in result.problems if p.severity is Severity.WARNING]


def test_minimal_experiment_loads(write, options, experiment) -> None:
    result = load(write, options, experiment)
    assert result.ok, result.problems
    assert result.loaded is not None
    assert result.loaded.id == "exp"
    assert result.loaded.settings_source == "defaults"
    assert result.loaded.experiment.method[0].name == "kill-greeter"  # type: ignore[union-attr]
    assert "no schedule" in " ".join(warnings(result))


@pytest.mark.parametrize("key", ["title", "method"])
def test_title_and_method_are_required(write, options, experiment, key) -> None:
    del experiment[key]
    assert errors(load(write, options, experiment)) == [f"{key}: '{key}' is required"]


def test_empty_title_is_an_error(write, options, experiment) -> None:
    experiment["title"] = ""
    assert (
        "title: String should have at least 1 character"
        in errors(load(write, options, experiment))[0]
    )


def test_missing_description_and_empty_method_are_warnings(write, options, experiment) -> None:
    del experiment["description"]
    experiment["method"] = []
    result = load(write, options, experiment)
    assert result.ok
    text = " ".join(warnings(result))
    assert "no description" in text
    assert "method is empty" in text


@pytest.mark.parametrize(
    ("tolerance", "ok"),
    [
        (True, True),
        (200, True),
        ("ok", True),
        ([200, 201], True),
        ([0, 5], True),
        ({"type": "regex", "pattern": "^ok$", "target": "body"}, True),
        ({"type": "jsonpath", "path": "$.data.result[*]", "count": 0}, True),
        ({"type": "range", "range": [0, 1.5], "target": "status"}, True),
        ({"type": "probe", "name": "check", "provider": {"type": "http", "url": "http://x"}}, True),
        (0.5, False),
        (None, False),
        ({"type": "nope"}, False),
        ({"type": "regex", "pattern": "("}, False),
        ({"type": "regex"}, False),
        ({"type": "jsonpath", "path": "$[?"}, False),
        ({"type": "jsonpath", "path": ""}, False),
        ({"type": "range", "range": [5, 1]}, False),
        ({"type": "range", "range": [1]}, False),
        ({"type": "range", "range": ["a", 2]}, False),
        ({"type": "probe", "name": "check"}, False),
    ],
)
def test_tolerances_follow_chaoslib(write, options, experiment, tolerance, ok) -> None:
    experiment["steady-state-hypothesis"]["probes"][0]["tolerance"] = tolerance
    result = load(write, options, experiment)
    assert result.ok is ok, result.problems
    if not ok:
        assert all("steady-state-hypothesis.probes[0].tolerance" in e for e in errors(result))
        assert all(p.line is not None for p in result.problems if p.severity is Severity.ERROR)


def test_unknown_tolerance_type_lists_supported_ones(write, options, experiment) -> None:
    experiment["steady-state-hypothesis"]["probes"][0]["tolerance"] = {"type": "fuzzy"}
    (message,) = errors(load(write, options, experiment))
    assert "'regex', 'jsonpath', 'range', 'probe'" in message


def test_hypothesis_probe_without_tolerance(write, options, experiment) -> None:
    del experiment["steady-state-hypothesis"]["probes"][0]["tolerance"]
    assert errors(load(write, options, experiment)) == [
        "steady-state-hypothesis.probes[0].tolerance: a hypothesis probe needs a tolerance"
    ]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda a: a.update(type="thing"), "method[0].type: Input should be 'probe' or 'action'"),
        (lambda a: a.pop("name"), "method[0].name: 'name' is required"),
        (lambda a: a.pop("provider"), "method[0].provider: 'provider' is required"),
        (
            lambda a: a["provider"].update(type="ftp"),
            "does not match any of the expected tags: 'http', 'python', 'process'",
        ),
        (
            lambda a: a.update(background="yes"),
            "method[0].background: Input should be a valid boolean",
        ),
        (
            lambda a: a.update(pauses={"before": -1}),
            "method[0].pauses.before: Input should be greater than or equal to 0",
        ),
        (lambda a: a.update(pauses={"befor": 1}), "method[0].pauses.befor: unknown key 'befor'"),
        (lambda a: a.update(timeout=0), "method[0].timeout: Input should be greater than 0"),
        (
            lambda a: a["provider"].update(func="terminate_podz"),
            "is not supported; supported Python providers: aftershock.nodes.drain, aftershock.pods.kill",
        ),
        (
            lambda a: a["provider"]["arguments"].update(qty="one"),
            "arguments.qty: 'qty' must be int, got 'one'",
        ),
        (
            lambda a: a["provider"]["arguments"].update(quantity=1),
            "takes no argument 'quantity' (accepted: label_selector",
        ),
        (
            lambda a: a["provider"]["arguments"].update(mode="half"),
            "'mode' is 'half'; accepted: fixed, percentage",
        ),
        (
            lambda a: a["provider"]["arguments"].update(secrets={}),
            "'secrets' is passed by the runtime",
        ),
    ],
)
def test_activity_errors(write, options, experiment, mutate, expected) -> None:
    mutate(experiment["method"][0])
    found = errors(load(write, options, experiment))
    assert any(expected in e for e in found), found


def test_template_arguments_skip_type_checks(write, options, experiment) -> None:
    experiment["configuration"] = {"qty": 2}
    experiment["method"][0]["provider"]["arguments"]["qty"] = "${qty}"
    assert load(write, options, experiment).ok


def test_missing_required_argument(write, options, experiment) -> None:
    experiment["method"].append(
        {
            "type": "probe",
            "name": "count",
            "provider": {"type": "python", "module": "chaosk8s.pod.probes", "func": "count_pods"},
        }
    )
    assert (
        "method[1].provider.arguments: chaosk8s.pod.probes.count_pods requires argument 'label_selector'"
        in errors(load(write, options, experiment))
    )


def test_refs_must_resolve(write, options, experiment) -> None:
    experiment["method"].append({"ref": "kill-greeter"})
    assert load(write, options, experiment).ok
    experiment["method"].append({"ref": "kill-greter"})
    assert errors(load(write, options, experiment)) == [
        "method[2].ref: ref 'kill-greter' names no activity of this experiment; did you mean 'kill-greeter'?"
    ]


def test_ref_with_other_keys_is_an_error(write, options, experiment) -> None:
    experiment["method"].append({"ref": "kill-greeter", "name": "x"})
    assert any("unknown key 'name'" in e for e in errors(load(write, options, experiment)))


def test_process_provider_needs_the_allow_list(write, experiment) -> None:
    experiment["method"][0]["provider"] = {
        "type": "process",
        "path": "vegeta",
        "arguments": ["attack"],
    }
    closed = load(write, LoadOptions(), experiment)
    assert "process provider 'vegeta' is not on the allow-list" in " ".join(errors(closed))
    from daemon.catalog.checks import GlobalLimits

    opened = load(
        write, LoadOptions(globals=GlobalLimits(process_allowlist=("vegeta",))), experiment
    )
    assert opened.ok


def test_configuration_and_secrets(write, options, experiment) -> None:
    experiment["configuration"] = {
        "url": {"type": "env", "key": "WEBAPP_URL", "default": "http://x"},
        "n": {"type": "env", "key": "N", "env_var_type": "int"},
        "plain": "value",
        "obj": {"type": "custom-but-raw", "x": 1},
    }
    experiment["secrets"] = {"k8s": {"token": {"type": "env", "key": "TOKEN"}, "literal": "s3cr3t"}}
    experiment["steady-state-hypothesis"]["probes"][0]["provider"]["url"] = "${url}/${token}"
    assert load(write, options, experiment).ok


@pytest.mark.parametrize(
    ("section", "value", "expected"),
    [
        ("configuration", {"u": {"type": "env"}}, "configuration.u.key: 'key' is required"),
        (
            "configuration",
            {"u": {"type": "env", "key": "X", "env_var_type": "list"}},
            "env_var_type",
        ),
        (
            "configuration",
            {"u": {"type": "probe", "name": "p", "provider": {"type": "http", "url": "http://x"}}},
            "dynamic configuration",
        ),
        (
            "secrets",
            {"s": {"t": {"type": "vault", "path": "x"}}},
            "secret type 'vault' is not supported",
        ),
        ("tags", ["ok", ""], "tags[1]: String should have at least 1 character"),
    ],
)
def test_configuration_secrets_tags_errors(
    write, options, experiment, section, value, expected
) -> None:
    experiment[section] = value
    found = errors(load(write, options, experiment))
    assert any(expected in e for e in found), found


def test_undefined_reference_is_a_warning(write, options, experiment) -> None:
    experiment["steady-state-hypothesis"]["probes"][0]["provider"]["url"] = "${web_ap_url}"
    experiment["configuration"] = {"web_app_url": "http://x"}
    result = load(write, options, experiment)
    assert result.ok
    assert any(
        "${web_ap_url} is not defined" in w and "did you mean 'web_app_url'" in w
        for w in warnings(result)
    )


def test_unknown_ctk_keys_are_warnings_with_suggestions(write, options, experiment) -> None:
    experiment["steady-state-hypotesis"] = experiment.pop("steady-state-hypothesis")
    experiment["method"][0]["backgrund"] = True
    result = load(write, options, experiment)
    assert result.ok
    text = " | ".join(warnings(result))
    assert (
        "unknown key 'steady-state-hypotesis'; Chaos Toolkit ignores it; did you mean 'steady-state-hypothesis'?"
        in text
    )
    assert "method[0].backgrund: unknown activity key 'backgrund'" in text


def test_duplicate_activity_names_and_controls_warn(write, options, experiment) -> None:
    experiment["method"].append(dict(experiment["method"][0]))
    experiment["controls"] = [
        {"name": "tracing", "provider": {"type": "python", "module": "chaostracing.control"}}
    ]
    text = " ".join(warnings(load(write, options, experiment)))
    assert "'kill-greeter' is used twice" in text
    assert "controls are kept in the journal but not run" in text


def test_runtime_strategies(write, options, experiment) -> None:
    experiment["runtime"] = {
        "hypothesis": {"strategy": "continuously", "freq": 2, "fail_fast": True},
        "rollbacks": {"strategy": "always"},
    }
    assert load(write, options, experiment).ok
    experiment["runtime"]["rollbacks"]["strategy"] = "sometimes"
    assert any("runtime.rollbacks.strategy" in e for e in errors(load(write, options, experiment)))


def test_the_seed_001_experiment_loads_unchanged(write, options) -> None:
    seed = {
        "version": "1.0.0",
        "title": "Terminating the greeting service should not impact users",
        "description": "How does the greeting service unavailbility impacts our users?",
        "tags": ["kubernetes", "aws"],
        "configuration": {"web_app_url": {"type": "env", "key": "WEBAPP_URL"}},
        "steady-state-hypothesis": {
            "title": "Services are all available and healthy",
            "probes": [
                {
                    "type": "probe",
                    "name": "application-should-be-alive-and-healthy",
                    "tolerance": True,
                    "provider": {
                        "type": "python",
                        "module": "chaosk8s.pod.probes",
                        "func": "pods_in_phase",
                        "arguments": {
                            "label_selector": "app=webapp-pod",
                            "phase": "Running",
                            "ns": "default",
                        },
                    },
                },
                {
                    "type": "probe",
                    "name": "application-must-respond-normally",
                    "tolerance": 200,
                    "provider": {"type": "http", "url": "${web_app_url}", "timeout": 3},
                },
            ],
        },
        "method": [
            {
                "type": "action",
                "name": "terminate-greeting-service",
                "provider": {
                    "type": "python",
                    "module": "chaosk8s.pod.actions",
                    "func": "terminate_pods",
                    "arguments": {"label_selector": "app=greeter-pod", "ns": "default"},
                },
            },
            {
                "type": "probe",
                "name": "fetch-application-logs",
                "provider": {
                    "type": "python",
                    "module": "chaosk8s.pod.probes",
                    "func": "read_pod_logs",
                    "arguments": {
                        "label_selector": "app=webapp-pod",
                        "last": "20s",
                        "ns": "default",
                    },
                },
            },
        ],
        "rollbacks": [],
    }
    result = load(write, options, seed, "experiment.json")
    assert result.ok, result.problems
    assert errors(result) == []
