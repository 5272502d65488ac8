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


@settings(max_examples=150, deadline=None)
@given(odd_text, odd_text, odd_text)
def test_pages_with_odd_stored_text_always_encode(title, problem, journal_text) -> None:
    """The status, experiment and run pages, with odd text wherever stored text is shown."""
    from datetime import UTC, datetime

    from daemon.api.pages import experiment, run, status
    from daemon.api.pages.layout import Banners
    from tests import pages_data

    now = datetime.now(UTC)
    state = Banners(halted=journal_text, stale=[title], catalog_problems=[problem])
    card = pages_data.card(text=title + problem, runs=3)
    page = status.render([card], state=state, now=now, tag=title, namespace=problem)
    SafeHTMLResponse(page).body.decode("utf-8")
    history = experiment.History(card.runs, 1, 50, 3)
    page = experiment.render(
        card,
        state=state,
        now=now,
        file_text=journal_text,
        upcoming=[],
        limits=[experiment.Limit(title, problem, journal_text, title)],
        history=history,
        trend_runs=card.runs,
    )
    SafeHTMLResponse(page).body.decode("utf-8")
    row = {
        "id": "r",
        "experiment": "e",
        "trigger": "schedule",
        "outcome": "failed",
        "reason": problem,
        "dry_run": False,
        "started_at": "2026-01-01T00:00:00+00:00",
        "ended_at": None,
        "duration_seconds": None,
    }
    journal = pages_data.journal(text=title)
    journal["status"] = journal_text
    journal["run"].append(
        {"activity": {"name": title}, "status": "failed", "exception": [journal_text]}
    )
    journal["aftershock"]["error"] = journal_text
    page = run.render(row, journal, now=now, slo=1.0, state=state)
    SafeHTMLResponse(page).body.decode("utf-8")
    SafeJSONResponse({**row, "journal": journal}).body.decode("utf-8")
