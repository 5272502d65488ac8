"""Label selectors: the parser and matcher against an independent reading of the grammar."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.labels import SelectorError, from_label_selector, parse_selector

keys = st.sampled_from(["app", "tier", "env", "example.com/team", "k8s.io/name", "x"])
values = st.sampled_from(["web", "db", "prod", "staging", "a-b", "v1.2", ""])
label_sets = st.dictionaries(keys, values, max_size=5)


def reference(requirement: tuple[str, str, list[str]], labels: dict[str, str]) -> bool:
    """The Kubernetes documentation's definition, written independently of daemon.labels."""
    key, op, vals = requirement
    if op == "exists":
        return key in labels
    if op == "!":
        return key not in labels
    if op in ("=", "=="):
        return key in labels and labels[key] == vals[0]
    if op == "!=":
        return key not in labels or labels[key] != vals[0]
    if op == "in":
        return key in labels and labels[key] in vals
    assert op == "notin"
    return key not in labels or labels[key] not in vals


def render(requirement: tuple[str, str, list[str]]) -> str:
    key, op, vals = requirement
    if op == "exists":
        return key
    if op == "!":
        return f"!{key}"
    if op in ("in", "notin"):
        return f"{key} {op} ({', '.join(vals)})"
    return f"{key}{op}{vals[0]}"


requirements = st.one_of(
    st.tuples(keys, st.sampled_from(["exists", "!"]), st.just([])),
    st.tuples(keys, st.sampled_from(["=", "==", "!="]), values.map(lambda v: [v])),
    st.tuples(
        keys,
        st.sampled_from(["in", "notin"]),
        st.lists(values.filter(bool), min_size=1, max_size=3),
    ),
)


@settings(max_examples=300)
@given(reqs=st.lists(requirements, min_size=1, max_size=4), labels=label_sets)
def test_matcher_agrees_with_the_definition(reqs, labels) -> None:
    selector = parse_selector(",".join(render(r) for r in reqs))
    assert selector.matches(labels) == all(reference(r, labels) for r in reqs)


@settings(max_examples=300)
@given(reqs=st.lists(requirements, min_size=1, max_size=4), labels=label_sets)
def test_printing_round_trips(reqs, labels) -> None:
    selector = parse_selector(",".join(render(r) for r in reqs))
    again = parse_selector(str(selector))
    assert again == selector
    assert again.matches(labels) == selector.matches(labels)


@given(text=st.text(max_size=40))
def test_parser_never_crashes(text: str) -> None:
    with contextlib.suppress(SelectorError):
        parse_selector(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("app in (a", "expected: ')'"),
        ("=x", "found '=', expected: identifier"),
        ("a b", "expected: 'in', 'notin', '=', '==', '!=', 'gt', 'lt'"),
        ("a=b=c", "found '=', expected: ','"),
        ("a in ()", "values set can't be empty"),
        ("a/b/c=d", 'invalid label key "a/b/c"'),
        ("app=" + "x" * 64, "invalid label value"),
        ("-bad=x", 'invalid label key "-bad"'),
        ("n>x", "the value must be an integer"),
        ("a,", "found '', expected: identifier"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_selector(text)


def test_numeric_comparisons_and_empty() -> None:
    assert parse_selector("n>3").matches({"n": "4"})
    assert not parse_selector("n>3").matches({"n": "3"})
    assert not parse_selector("n<3").matches({"n": "x"})
    assert parse_selector("").matches({"anything": "goes"})
    assert parse_selector(None).empty


def test_label_selector_objects() -> None:
    selector = from_label_selector(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        }
    )
    assert str(selector) == "app=web,tier in (a,b),!canary"
    assert selector.matches({"app": "web", "tier": "a"})
    assert not selector.matches({"app": "web", "tier": "a", "canary": "1"})
    assert from_label_selector({}).matches({"x": "y"})  # empty selects everything
    assert not from_label_selector(None).matches({})  # null selects nothing
    with pytest.raises(SelectorError, match="not a valid label selector operator"):
        from_label_selector({"matchExpressions": [{"key": "a", "operator": "Like"}]})
    with pytest.raises(SelectorError, match="values set can't be empty"):
        from_label_selector({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]})


def test_equality_pairs_for_indexes() -> None:
    assert parse_selector("app=web,tier in (web),x!=y").equality_pairs() == {
        "app": "web",
        "tier": "web",
    }
