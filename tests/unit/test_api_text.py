"""Hostile review F10: whatever text is stored, an answer or page always encodes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.api.text import SafeHTMLResponse, SafeJSONResponse, scrub, text_problem

# Any code point, lone surrogates included (what JSON escapes can put into a str).
odd_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=12)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | odd_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(odd_text, children, max_size=3)
    ),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(values)
def test_any_value_renders_as_valid_utf8_json(value) -> None:
    body = SafeJSONResponse(value).body
    decoded = json.loads(body.decode("utf-8"))  # strict UTF-8, strict JSON (no NaN)
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in json.dumps(decoded, ensure_ascii=False))


@settings(max_examples=200, deadline=None)
@given(odd_text)
def test_any_page_text_encodes(text) -> None:
    SafeHTMLResponse(f"<p>{text}</p>").body.decode("utf-8")


def test_what_is_refused_and_what_is_kept() -> None:
    assert text_problem("lone \ud800") is not None
    assert text_problem("pair \U0001f600, accents é, NUL-free") is None
    assert scrub("a\udc80b\U0001f600") == "a\ufffdb\U0001f600"
    assert json.loads(SafeJSONResponse({"x": float("nan"), "y": [float("inf")]}).body) == {
        "x": None,
        "y": [None],
    }
