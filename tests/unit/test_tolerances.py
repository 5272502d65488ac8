"""Tolerances case by case, compared with chaoslib's own `within_tolerance` where it is defined."""

from __future__ import annotations

import pytest

from daemon.engine.errors import InvalidRun
from daemon.engine.substitution import convert, load_configuration, load_secrets, substitute
from daemon.engine.tolerances import within_tolerance

HTTP_200 = {"status": 200, "headers": {}, "body": '{"data": {"result": [{"value": [1, "0"]}]}}'}
CASES = [
    # each case: tolerance, probe value, whether it is met
    (True, True, True),
    (True, False, False),
    (False, False, True),
    (True, 1, True),
    (200, 200, True),
    (200, 201, False),
    (200, HTTP_200, True),
    (201, HTTP_200, False),
    (0, {"status": 0}, True),
    (1, True, True),
    ("ok", "ok", True),
    ("ok", "OK", False),
    ("1", 1, False),
    ([200, 201], HTTP_200, True),
    ([0, 10], 5, True),
    ([0, 10], 11, False),
    ([0, 10], 0, True),
    ([0, 10], 10, True),
    ([1, 2, 3], 2, True),
    ([1, 2, 3], 4, False),
    (["a", "b"], "b", True),
    ([], 3, False),
    ({"type": "regex", "pattern": "^he"}, "hello", True),
    ({"type": "regex", "pattern": "^lo"}, "hello", False),
    ({"type": "regex", "pattern": "wor", "target": "body"}, {"body": "hello world"}, True),
    ({"type": "range", "range": [0, 1.5]}, 1, True),
    ({"type": "range", "range": [0, 1.5]}, 2, False),
    ({"type": "range", "range": [0, 10], "target": "status"}, {"status": 5}, True),
    ({"type": "range", "range": [0, 10]}, "7", True),
    ({"type": "range", "range": [0, 10]}, "seven", False),
]


@pytest.mark.parametrize(("tolerance", "value", "expected"), CASES)
def test_table(tolerance, value, expected) -> None:
    met, why = within_tolerance(tolerance, value)
    assert met is expected
    assert (why == "") is expected


@pytest.mark.parametrize(("tolerance", "value", "expected"), CASES)
def test_same_as_chaoslib(tolerance, value, expected) -> None:
    chaoslib = pytest.importorskip("chaoslib.hypothesis")
    assert (
        bool(chaoslib.within_tolerance(tolerance, value, configuration={}, secrets={})) is expected
    )


@pytest.mark.parametrize(
    ("tolerance", "value", "expected"),
    [
        ({"type": "jsonpath", "path": "$.data.result[*]", "count": 1}, HTTP_200["body"], True),
        ({"type": "jsonpath", "path": "$.data.result[*]", "count": 0}, HTTP_200["body"], False),
        (
            {"type": "jsonpath", "path": "$.data.result[0].value[1]", "expect": "0"},
            HTTP_200["body"],
            True,
        ),
        (
            {"type": "jsonpath", "path": "$.data.result[0].value[1]", "expect": ["1"]},
            HTTP_200["body"],
            False,
        ),
        ({"type": "jsonpath", "path": "$.data", "target": "body"}, HTTP_200, True),
        ({"type": "jsonpath", "path": "$.missing"}, {"a": 1}, False),
        ({"type": "jsonpath", "path": "$.a"}, b'{"a": 1}', True),
        (
            {"type": "jsonpath", "path": "$.items[?(@.ready == true)]", "count": 2},
            {"items": [{"ready": True}, {"ready": False}, {"ready": True}]},
            True,
        ),
    ],
)
def test_jsonpath(tolerance, value, expected) -> None:
    assert within_tolerance(tolerance, value)[0] is expected


def test_where_chaoslib_would_crash_the_tolerance_is_just_not_met() -> None:
    met, why = within_tolerance([0, 10], {"no": "status"})
    assert met is False
    assert "could not be applied" in why
    assert within_tolerance({"type": "regex", "pattern": "x"}, 42)[0] is False
    assert within_tolerance({"type": "range", "range": [0, 1]}, {"a": 1})[0] is False


def test_probe_tolerance_gets_the_value() -> None:
    seen = []

    def run_probe(activity, value):
        seen.append((activity["name"], value))
        return value > 3

    probe = {"type": "probe", "name": "checker", "provider": {"type": "python"}}
    assert within_tolerance(probe, 5, run_probe=run_probe) == (True, "")
    assert within_tolerance(probe, 1, run_probe=run_probe)[0] is False
    assert seen == [("checker", 5), ("checker", 1)]

    def boom(activity, value):
        raise RuntimeError("probe failed")

    assert within_tolerance(probe, 5, run_probe=boom)[0] is False


def test_regex_pattern_is_substituted() -> None:
    assert within_tolerance(
        {"type": "regex", "pattern": "^${word}"}, "hello", configuration={"word": "he"}
    )[0]


def test_substitution_keeps_whole_string_types() -> None:
    configuration = {"qty": 2, "url": "http://x", "flag": False}
    secrets = {"k8s": {"token": "t0k"}}
    data = {
        "a": "${qty}",
        "b": "${url}/path",
        "c": ["${flag}", {"d": "Bearer ${token}"}],
        "e": "${missing}",
        "f": "$$literal",
        "g": 5,
    }
    out = substitute(data, configuration, secrets)
    assert out == {
        "a": 2,
        "b": "http://x/path",
        "c": [False, {"d": "Bearer t0k"}],
        "e": "${missing}",
        "f": "$literal",
        "g": 5,
    }
    assert data["a"] == "${qty}"  # not altered
    chaoslib = pytest.importorskip("chaoslib")
    expected = chaoslib.substitute(
        {k: v for k, v in data.items() if k != "c"}, configuration, secrets
    )
    assert {k: v for k, v in out.items() if k != "c"} == expected


def test_configuration_loading() -> None:
    raw = {
        "url": {"type": "env", "key": "URL", "default": "http://d"},
        "n": {"type": "env", "key": "N", "env_var_type": "int"},
        "plain": "v",
    }
    assert load_configuration(raw, {"N": "3"}) == {"url": "http://d", "n": 3, "plain": "v"}
    assert load_configuration(raw, {"N": "3", "URL": "http://e"})["url"] == "http://e"
    assert load_configuration(raw, {"N": "3"}, {"plain": "w", "extra": 1}) == {
        "url": "http://d",
        "n": 3,
        "plain": "w",
        "extra": 1,
    }
    with pytest.raises(InvalidRun, match="reads environment variable N which is not set"):
        load_configuration(raw, {})
    with pytest.raises(InvalidRun, match="cannot convert 'x' to int"):
        load_configuration(raw, {"N": "x"})


def test_secrets_loading() -> None:
    raw = {"k8s": {"token": {"type": "env", "key": "TOKEN"}, "literal": "s"}}
    assert load_secrets(raw, {"TOKEN": "t"}) == {"k8s": {"token": "t", "literal": "s"}}
    with pytest.raises(InvalidRun, match=r"secret k8s\.token"):
        load_secrets(raw, {})


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("int", "3", 3),
        ("float", "1.5", 1.5),
        ("bytes", "a", b"a"),
        ("bool", "no", False),
        ("bool", "yes", True),
        ("json", '{"a": 1}', {"a": 1}),
        (None, "x", "x"),
        ("str", "x", "x"),
    ],
)
def test_convert_matches_chaoslib(kind, value, expected) -> None:
    assert convert(kind, value) == expected
    chaoslib = pytest.importorskip("chaoslib")
    assert chaoslib.convert_to_type(kind, value) == expected
