"""Issue 12, findings 7, 10 and 11 (I8): every value is bounded, and `validate` says which.

Each hostile value must make `aftershock validate` exit 1 with a line naming the file, the
field's path and the value. The validators behind it are the ones the engine applies to
values resolved from `${}` templates, so the properties below hold for both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from daemon.catalog import providers, values
from daemon.cli import cli


def kill(**arguments: Any) -> dict[str, Any]:
    return {
        "type": "action",
        "name": "kill",
        "provider": {
            "type": "python",
            "module": "aftershock.pods",
            "func": "kill",
            "arguments": {"ns": "shop", **arguments},
        },
    }


def attack(**arguments: Any) -> dict[str, Any]:
    base = {"url": "http://webapp.shop/", "rate": 10, "duration": "10s"}
    return {
        "type": "action",
        "name": "load",
        "background": True,
        "provider": {
            "type": "python",
            "module": "aftershock.traffic",
            "func": "attack",
            "arguments": {**base, **arguments},
        },
    }


def terminate(**arguments: Any) -> dict[str, Any]:
    return {
        "type": "action",
        "name": "terminate",
        "provider": {
            "type": "python",
            "module": "chaosk8s.pod.actions",
            "func": "terminate_pods",
            "arguments": {"label_selector": "app=greeter", "ns": "shop", **arguments},
        },
    }


def with_method(activity: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def mutate(experiment: dict[str, Any]) -> None:
        experiment["method"] = [activity]

    return mutate


def with_extension(**settings: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(experiment: dict[str, Any]) -> None:
        experiment["extensions"] = [{"name": "aftershock", **settings}]

    return mutate


def with_pause(after: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(experiment: dict[str, Any]) -> None:
        experiment["method"][0]["pauses"] = {"after": after}

    return mutate


# (what the file says, the field path the error names, the value it quotes)
HOSTILE = [
    # finding 7: values that passed validation and then crashed runs
    (with_pause(1.0e300), "method[0].pauses.after", "1e+300"),
    (with_method(attack(duration="400d")), "method[0].provider.arguments.duration", "'400d'"),
    # finding 10: a percentage of zero still killed a pod
    (
        with_method(kill(mode="random-max-percent", value=0)),
        "method[0].provider.arguments.value",
        "value 0",
    ),
    (with_method(kill(mode="nuke")), "method[0].provider.arguments.mode", "'nuke'"),
    (with_method(kill(method="nuke")), "method[0].provider.arguments.method", "'nuke'"),
    # finding 11
    (with_method(kill(min_age="forever")), "method[0].provider.arguments.min_age", "'forever'"),
    (with_method(kill(min_age=-10)), "method[0].provider.arguments.min_age", "-10"),
    (with_method(kill(name_pattern="([")), "method[0].provider.arguments.name_pattern", "'(['"),
    (
        with_method(kill(label_selector="app in (a")),
        "method[0].provider.arguments.label_selector",
        "'app in (a'",
    ),
    (
        with_method(kill(label_selector={"matchLabels": "x"})),
        "method[0].provider.arguments.label_selector",
        "'x'",
    ),
    (with_method(kill(grace_period=-1)), "method[0].provider.arguments.grace_period", "-1"),
    (with_method(terminate(qty=-1)), "method[0].provider.arguments.qty", "-1"),
    (
        with_method(terminate(name_pattern="([")),
        "method[0].provider.arguments.name_pattern",
        "'(['",
    ),
    (
        with_method(terminate(label_selector="app in (a")),
        "method[0].provider.arguments.label_selector",
        "'app in (a'",
    ),
    (with_method(attack(rate=5000)), "method[0].provider.arguments.rate", "5000"),
    (with_method(attack(rate=0)), "method[0].provider.arguments.rate", "is 0"),
    (with_method(attack(rate=-5)), "method[0].provider.arguments.rate", "-5"),
    (with_method(attack(rate=math.nan)), "method[0].provider.arguments.rate", "nan"),
    (with_extension(blast_radius={"max_pods": True}), "blast_radius.max_pods", "True"),
    (with_extension(schedule={"interval": "1ms"}), "extensions[0].schedule.interval", "1ms"),
    # more of the same kind, not listed in the issue
    (with_method(kill(value=math.inf)), "method[0].provider.arguments.value", "inf"),
    (with_method(kill(mode="fixed", value=0)), "method[0].provider.arguments.value", "value 0"),
    (with_method(kill(mode="fixed", value=1.5)), "method[0].provider.arguments.value", "1.5"),
    (with_method(kill(namespaces=[])), "method[0].provider.arguments.namespaces", "[]"),
    (with_method(kill(ns="Shop")), "method[0].provider.arguments.ns", "'Shop'"),
    (
        with_method(terminate(mode="percentage", qty=150)),
        "method[0].provider.arguments.qty",
        "150",
    ),
    (with_method(attack(duration=0)), "method[0].provider.arguments.duration", "0"),
    (with_method(attack(url="file:///etc/passwd")), "method[0].provider.arguments.url", "file"),
    (with_extension(blast_radius={"max_percent": True}), "blast_radius.max_percent", "True"),
    (with_extension(enabled=0), "extensions[0].enabled", "0"),
    (with_extension(recovery={"timeout": "30d"}), "extensions[0].recovery.timeout", "30d"),
    (with_extension(hypothesis={"frequency": "1ms"}), "hypothesis.frequency", "1ms"),
]


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    import os

    for name in list(os.environ):
        if name.upper().startswith("AFTERSHOCK_"):
            monkeypatch.delenv(name)
    return CliRunner()


@pytest.mark.parametrize(("mutate", "field", "value"), HOSTILE)
def test_validate_refuses_every_unbounded_value(
    runner: CliRunner, write, experiment, mutate, field: str, value: str
) -> None:
    mutate(experiment)
    path = write("hostile.yaml", experiment)
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert f"INVALID  {path}" in result.output
    lines = [line for line in result.output.splitlines() if line.strip().startswith("error")]
    assert any(field in line and value in line for line in lines), result.output


def test_a_percentage_of_zero_is_refused_not_rounded_up(write, options, experiment) -> None:
    """Decision (finding 10): value 0 with a percent mode is an error, never "one pod"."""
    for mode in ("fixed-percent", "random-max-percent"):
        found = providers.check_provider(
            kill(mode=mode, value=0)["provider"], as_probe=False, resolved=True
        )
        assert any("0 would select no pod" in message for _, message in found)


# ----------------------------------------------------------------------------- properties

finite = st.floats(allow_nan=False, allow_infinity=False)


@given(st.one_of(finite, st.integers()))
def test_rate_accepts_exactly_the_documented_range(rate: float) -> None:
    found = providers.check_provider(attack(rate=rate)["provider"], as_probe=False, resolved=True)
    assert (not found) == (0 < rate <= values.MAX_RATE)


@given(st.sampled_from([math.nan, math.inf, -math.inf]))
def test_rate_refuses_non_finite(rate: float) -> None:
    assert providers.check_provider(attack(rate=rate)["provider"], as_probe=False, resolved=True)


@given(
    st.sampled_from(["fixed-percent", "random-max-percent"]),
    st.one_of(finite, st.integers(-1000, 1000)),
)
def test_percent_modes_accept_exactly_above_0_to_100(mode: str, value: float) -> None:
    found = providers.check_provider(
        kill(mode=mode, value=value)["provider"], as_probe=False, resolved=True
    )
    assert (not found) == (0 < value <= 100)


@given(st.integers(-(10**6), 10**6))
def test_grace_period_bounds_per_provider(grace: int) -> None:
    """chaosk8s documents -1 as "the pod's default"; aftershock's kill takes 0 or more."""
    native = providers.check_provider(
        kill(grace_period=grace)["provider"], as_probe=False, resolved=True
    )
    chaosk8s = providers.check_provider(
        terminate(grace_period=grace)["provider"], as_probe=False, resolved=True
    )
    assert (not native) == (0 <= grace <= values.MAX_GRACE_SECONDS)
    assert (not chaosk8s) == (grace == -1 or 0 <= grace <= values.MAX_GRACE_SECONDS)


@given(st.integers(0, 10**7))
def test_attack_duration_bounded(seconds: int) -> None:
    found = providers.check_provider(
        attack(duration=f"{seconds}s")["provider"], as_probe=False, resolved=True
    )
    assert (not found) == (0 < seconds <= values.MAX_ATTACK_SECONDS)


@given(st.text(max_size=30))
def test_any_text_is_either_a_valid_regex_or_refused_with_a_message(pattern: str) -> None:
    import re

    problem = values.regex(pattern)
    try:
        re.compile(pattern)
    except re.error:
        assert problem is not None
    else:
        assert (problem is None) == (values.NESTED_QUANTIFIER.search(pattern) is None)


@pytest.mark.parametrize("pattern", ["(a+)+$", "(x*)*y", "(\\w+)+\\d"])
def test_catastrophic_patterns_are_refused(pattern: str) -> None:
    assert "nested quantifier" in str(values.regex(pattern))


@given(st.sampled_from(list(providers.PYTHON.values())), st.data())
def test_wrong_types_are_refused_for_every_argument(spec, data) -> None:
    """Any argument given a value of the wrong type is refused (bool is never an int)."""
    if not spec.arguments:
        return
    name = data.draw(st.sampled_from(sorted(spec.arguments)))
    kind = spec.arguments[name].kind
    wrong = {
        "str": 5,
        "int": True,
        "number": "five",
        "bool": "yes",
        "list": "a",
        "dict": 1,
        "str|dict": 1,
        "str|number": [],
        "number|list": "x",
        "int|list": "x",
    }[kind]
    module, func = spec.name.rsplit(".", 1)
    provider = {"type": "python", "module": module, "func": func, "arguments": {name: wrong}}
    found = providers.check_provider(provider, as_probe=False, resolved=True)
    assert any(where == ("arguments", name) for where, _ in found)


@given(st.one_of(st.floats(), st.integers(-(10**9), 10**9)))
def test_pauses_accept_exactly_0_to_the_maximum(seconds: float) -> None:
    from pydantic import ValidationError

    from daemon.catalog.models import MAX_SECONDS, Pauses

    try:
        Pauses.model_validate({"after": seconds})
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert accepted == (math.isfinite(seconds) and 0 <= seconds <= MAX_SECONDS)


@given(st.integers(1, 366 * 86_400 * 1000))
def test_interval_accepts_exactly_one_second_or_more(milliseconds: int) -> None:
    from pydantic import ValidationError

    from daemon.catalog.extension import MIN_INTERVAL, Schedule

    try:
        Schedule.model_validate({"interval": f"{milliseconds}ms"})
    except ValidationError:
        accepted = False
    else:
        accepted = True
    assert accepted == (milliseconds >= MIN_INTERVAL.total_seconds() * 1000)
