"""Hostile review F9: a stop condition is never "false" on a malformed Prometheus answer.

`{"status": "success"}` with no data, or a null result, once read as "no sample", so the
run went on and killed. Only a well-formed vector or scalar is an answer; anything else is
"unavailable" (ActivityFailed), which refuses or aborts the run (fail closed).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.engine.errors import ActivityFailed
from daemon.engine.providers.prometheus import instant_verdict

SAMPLE = {"metric": {"job": "web"}, "value": [1700000000.5, "7"]}


def ok(result_type: str, result: Any) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": result_type, "result": result}}


MALFORMED = [
    None,
    [],
    "success",
    7,
    {},
    {"status": "success"},
    {"status": "success", "data": None},
    {"status": "success", "data": []},
    {"status": "success", "data": {}},
    {"status": "success", "data": {"result": []}},  # no resultType
    {"status": "success", "data": {"resultType": "vector"}},  # no result
    ok("vector", None),
    ok("vector", {}),
    ok("vector", "[]"),
    ok("vector", [None]),
    ok("vector", [{}]),
    ok("vector", [{"metric": {}}]),  # no value
    ok("vector", [{"value": [0, "1"]}]),  # no metric
    ok("vector", [{"metric": None, "value": [0, "1"]}]),
    ok("vector", [{"metric": {}, "value": None}]),
    ok("vector", [{"metric": {}, "value": []}]),
    ok("vector", [{"metric": {}, "value": [0]}]),
    ok("vector", [{"metric": {}, "value": [0, "1", 2]}]),
    ok("vector", [{"metric": {}, "value": [0, 1]}]),  # the value must be a string
    ok("vector", [{"metric": {}, "value": ["0", "1"]}]),
    ok("vector", [{"metric": {}, "value": [True, "1"]}]),
    ok("vector", [{"metric": {}, "value": [0, "one"]}]),
    ok("vector", [{"metric": {}, "histogram": [0, {"count": "1"}]}]),  # native histogram
    ok("vector", [SAMPLE, None]),  # one good sample does not excuse a bad one
    ok("vector", [SAMPLE, {"metric": {}}]),
    ok("matrix", []),
    ok("matrix", [{"metric": {}, "values": [[0, "1"]]}]),
    ok("string", [0, "text"]),
    ok("scalar", None),
    ok("scalar", []),
    ok("scalar", [0]),
    ok("scalar", [0, None]),
    ok("scalar", [0, "x"]),
    ok(None, []),  # type: ignore[arg-type]
    ok("Vector", []),
    {"status": "error", "errorType": "bad_data", "error": "parse error"},
    {"status": "Success", "data": {"resultType": "vector", "result": []}},
    {"data": {"resultType": "vector", "result": []}},  # no status
]


@pytest.mark.parametrize("answer", MALFORMED, ids=[repr(a)[:60] for a in MALFORMED])
def test_a_malformed_answer_is_unavailable(answer) -> None:
    with pytest.raises(ActivityFailed):
        instant_verdict(answer)


@pytest.mark.parametrize(
    ("answer", "holds"),
    [
        (ok("vector", []), False),
        (ok("vector", [SAMPLE]), True),
        (ok("vector", [SAMPLE, {"metric": {}, "value": [1, "NaN"]}]), True),
        (ok("scalar", [1700000000, "0"]), True),  # a scalar is one sample
        ({**ok("vector", []), "warnings": ["partial"]}, False),
    ],
)
def test_a_well_formed_answer_is_read(answer, holds) -> None:
    assert instant_verdict(answer)[0] is holds


def _is_sample(pair: Any) -> bool:
    if not (isinstance(pair, list) and len(pair) == 2):
        return False
    stamp, value = pair
    if isinstance(stamp, bool) or not isinstance(stamp, int | float) or not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def well_formed(answer: Any) -> bool:
    """An independent statement of the only shapes that may yield a verdict."""
    if not (isinstance(answer, dict) and answer.get("status") == "success"):
        return False
    data = answer.get("data")
    if not isinstance(data, dict):
        return False
    if data.get("resultType") == "scalar":
        return _is_sample(data.get("result"))
    result = data.get("result")
    return (
        data.get("resultType") == "vector"
        and isinstance(result, list)
        and all(
            isinstance(s, dict) and isinstance(s.get("metric"), dict) and _is_sample(s.get("value"))
            for s in result
        )
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.sampled_from(["", "1", "NaN", "+Inf", "x", "success", "vector", "scalar", "matrix"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["status", "data", "resultType", "result", "metric", "value", "error"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)
numbers = st.integers(0, 2**40) | st.floats(0, 2e9, allow_nan=False)
values = st.floats(allow_nan=True).map(str) | st.sampled_from(["NaN", "+Inf", "-Inf", "1e3"])
samples = st.fixed_dictionaries(
    {
        "metric": st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
        "value": st.tuples(numbers, values).map(list),
    }
)


def _mutations(answer: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A well-formed answer with one node replaced by any JSON value."""
    return st.sampled_from(["data", "resultType", "result", "first"]).flatmap(
        lambda where: json_values.map(lambda junk: _replace(answer, where, junk))
    )


def _replace(answer: dict[str, Any], where: str, junk: Any) -> Any:
    import copy

    changed = copy.deepcopy(answer)
    if where == "data":
        changed["data"] = junk
    elif where in ("resultType", "result"):
        changed["data"][where] = junk
    elif changed["data"]["result"]:
        changed["data"]["result"][0] = junk
    return changed


answers = (
    json_values
    | st.lists(samples, max_size=3).map(lambda r: ok("vector", r))
    | st.tuples(numbers, values).map(lambda pair: ok("scalar", list(pair)))
    | st.lists(samples, min_size=1, max_size=2).flatmap(lambda r: _mutations(ok("vector", r)))
)


@settings(max_examples=400, deadline=None)
@given(answers)
def test_only_a_well_formed_answer_gives_a_verdict(answer) -> None:
    try:
        holds, _ = instant_verdict(answer)
    except ActivityFailed:
        assert not well_formed(answer)
        return
    assert well_formed(answer), answer
    kind = answer["data"]["resultType"]
    assert holds is (kind == "scalar" or bool(answer["data"]["result"]))
