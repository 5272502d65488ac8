"""The pages as pure functions: formatting, palette contrast, timeline order, escaping and
the accessibility rules that can be checked on the HTML itself."""

from __future__ import annotations

import dataclasses
import random
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.api.pages import experiment, fmt, palette, run, status, svg, timeline
from daemon.api.pages.experiment import History, Limit
from daemon.api.pages.layout import Banners
from daemon.outcomes import Outcome
from tests import pages_data

NOW = datetime.fromtimestamp(pages_data.START + 60, UTC)
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&amp;"


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text, of a page."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


def status_page(text: str = "", **kwargs: object) -> str:
    other = dataclasses.replace(pages_data.card("webapp", runs=0), tags=["web"], namespaces=["web"])
    cards = [pages_data.card("greeter-kill", text=text), other]
    state = Banners(
        halted=f"halted through the API by ops: game day{text}",
        dry_run=True,
        leader=False,
        stale=[f"greeter-kill{text}"],
        catalog_problems=[f"bad file{text}"],
    )
    return status.render(cards, state=state, now=NOW, **kwargs)  # type: ignore[arg-type]


def experiment_page(text: str = "", runs: int = 1000, page: int = 2) -> str:
    card = pages_data.card(text=text)
    every = pages_data.summaries(runs, text=text)
    size = 50
    return experiment.render(
        card,
        state=Banners(),
        now=NOW,
        file_text=f"title: kill{text}\n",
        upcoming=card.fires,
        limits=[
            Limit("max pods per run", "10", "1", "1"),
            Limit("on limit", "refuse", None, "refuse"),
        ],
        history=History(every[(page - 1) * size : page * size], page, size, len(every)),
        trend_runs=every[:200],
    )


def run_page(text: str = "", activities: int = 2) -> str:
    journal = pages_data.journal(activities=activities, text=text)
    return run.render(pages_data.row(reason=f"hypothesis_after{text}"), journal, now=NOW, slo=60.0)


# ------------------------------------------------------------------ formatting


def test_human_formatting() -> None:
    assert fmt.seconds(2.01668) == "2.02 s"
    assert fmt.seconds(None) == fmt.DASH
    assert (fmt.yes_no(True), fmt.yes_no(False), fmt.yes_no(None)) == ("yes", "no", fmt.DASH)
    assert fmt.absolute(pages_data.START) == "2026-11-30 05:11:53 UTC"
    assert fmt.absolute("2026-11-30T06:11:53+01:00") == "2026-11-30 05:11:53 UTC"
    assert fmt.relative(NOW - timedelta(minutes=3), NOW) == "3 min ago"
    assert fmt.relative(NOW + timedelta(seconds=12), NOW) == "in 12 s"
    assert fmt.relative(NOW - timedelta(days=3), NOW) == "3 days ago"
    when = fmt.when(pages_data.START, NOW)
    assert "60 s ago (2026-11-30 05:11:53 UTC)" in when
    assert 'datetime="2026-11-30T05:11:53' in when
    assert fmt.percent(1, 3) == "33%"
    assert fmt.percent(0, 0) == fmt.DASH


def test_no_raw_floats_or_python_booleans_on_the_pages() -> None:
    for html in (status_page(), experiment_page(), run_page()):
        shown = re.sub(r"<(style|pre)>.*?</\1>", "", html, flags=re.DOTALL)  # CSS, raw journal
        text = " ".join(Elements(shown).text)
        assert not re.search(r"\d\.\d{3,}", text), re.search(r".{30}\d\.\d{3,}.{30}", text)
        assert "True" not in text
        assert "False" not in text


# ------------------------------------------------------------------ palette


def test_palette_reaches_aa_contrast() -> None:
    """White text on every outcome colour, and every text/background pair: 4.5:1 or more."""
    assert set(palette.LOOKS) == set(Outcome)
    for outcome, look in palette.LOOKS.items():
        assert palette.contrast(look.colour, "#ffffff") >= 4.5, outcome
    for look in (palette.RUNNING, palette.UNKNOWN):
        assert palette.contrast(look.colour, "#ffffff") >= 4.5
    for name, (text, background) in palette.TEXT_PAIRS.items():
        assert palette.contrast(text, background) >= 4.5, name
    for colour in (palette.MET, palette.NOT_MET, palette.ACTIVITY, palette.ROLLBACK, palette.SLO):
        assert palette.contrast(colour, "#ffffff") >= 4.5  # marks on the white chart


def test_contrast_formula_matches_wcag_reference_values() -> None:
    assert round(palette.contrast("#000000", "#ffffff"), 2) == 21.0
    assert round(palette.contrast("#777777", "#ffffff"), 2) == 4.48  # the classic near miss
    assert palette.contrast("#123456", "#123456") == 1.0


def test_outcome_letters_and_words_are_distinct() -> None:
    letters = [look.letter for look in palette.LOOKS.values()]
    assert len(set(letters)) == len(letters)
    assert palette.look("passed").word == "passed"
    assert palette.look("something new") is palette.UNKNOWN


# ------------------------------------------------------------------ timeline


def journal_starts(journal: dict) -> list[tuple[str, float]]:
    """(name, start) of every activity in the journal, and each disruption, from the journal."""
    states = journal["steady_states"]
    probes = states["before"]["probes"] + states["after"]["probes"]
    probes += [p for s in states["during"] for p in s["probes"]]
    out = [
        (r["activity"]["name"], fmt.moment(r["start"]).timestamp())
        for r in probes + journal["run"] + journal["rollbacks"]
    ]
    out += [(d["pod"], d["at"]) for d in journal["aftershock"]["disrupted"]]
    return out


def test_timeline_order_matches_the_journal() -> None:
    journal = pages_data.journal(activities=200)
    line = timeline.build(journal, slo=60.0)
    origin = fmt.moment(journal["start"]).timestamp()
    expected = sorted(journal_starts(journal), key=lambda item: item[1])
    drawn = [r for r in line.rows if r.kind not in ("replacement", "ready", "slo")]
    assert [round(r.start + origin, 4) for r in drawn] == [round(t, 4) for _, t in expected]
    # The SVG draws the rows in that order.
    html = svg.timeline(line, title="t")
    starts = [float(s) for s in re.findall(r'data-start="([-\d.]+)"', html)]
    assert starts == sorted(starts)
    assert len(starts) == len(line.rows)
    # Recovery marks follow their disruption: replacement, ready again, then the SLO.
    kinds = [r.kind for r in line.rows]
    kill = kinds.index("disruption")
    assert kill < kinds.index("replacement") < kinds.index("ready") < kinds.index("slo")
    created, ready_first = [r for r in line.rows if r.kind == "replacement"][:2]
    assert created.label.startswith("replacement created")
    assert ready_first.label.startswith("first replacement ready")
    assert created.start < ready_first.start
    ready = next(r for r in line.rows if r.kind == "ready")
    assert (
        abs(ready.start - (journal["aftershock"]["disrupted"][0]["at"] - origin + 2.809145)) < 1e-6
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=600), min_size=1, max_size=40), st.randoms())
def test_timeline_is_time_ordered_whatever_the_journal_order(offsets, rng) -> None:
    journal = pages_data.journal(activities=len(offsets))
    for r, offset in zip(journal["run"], offsets, strict=True):
        at = pages_data.START + offset
        r["start"] = pages_data._iso(at)
        r["end"] = pages_data._iso(at + 0.5)
    rng.shuffle(journal["run"])
    rows = timeline.build(journal).rows
    assert [r.start for r in rows] == sorted(r.start for r in rows)
    assert sum(1 for r in rows if r.phase == "method" and r.kind != "disruption") == len(offsets)


def test_timeline_of_odd_journals_does_not_raise() -> None:
    for journal in (
        None,
        {},
        {"start": "nonsense"},
        {"start": pages_data._iso(1.0), "run": [1, {}]},
    ):
        line = timeline.build(journal)  # type: ignore[arg-type]
        assert svg.timeline(line, title="t")
    broken = pages_data.journal()
    broken["aftershock"]["disrupted"][0]["at"] = "soon"
    broken["steady_states"]["during"] = "x"
    assert run.render(pages_data.row(), broken, now=NOW, slo=None)


def test_far_slo_does_not_squash_the_run() -> None:
    line = timeline.build(pages_data.journal(), slo=3600.0)
    html = svg.timeline(line, title="t")
    assert "off the chart" in html
    assert ">3 s</text>" in html  # the axis ends with the run, not at one hour


# ------------------------------------------------------------------ the pages


def test_run_page_says_what_happened() -> None:
    html = run_page()
    text = "".join(Elements(html).text)
    assert "before: ✓ met · during: ✓ met · after: ✗ not met" in text
    assert "Kept 1 of 3 candidate pod(s) (mode fixed 1 of 3 eligible -> 1)." in text
    assert (
        "shop/greeter-a: kept (workload limits): shop/Deployment/greeter: ready 3/3, floor 1"
        in text
    )
    assert "2.81 s" in text
    assert "yes (SLO 60.00 s)" in text
    assert "2026-11-30 05:11:53 UTC" in text
    assert "/api/v1/runs/greeter-kill-1/journal" in html
    assert "<details><summary>Show the journal</summary>" in html


def test_status_page_cards_banners_and_override() -> None:
    html = status_page()
    page = Elements(html)
    assert len(page.all("section", **{"class": "card experiment"})) == 2
    text = "".join(page.text)
    for banner in ("Halted:", "Dry-run:", "Follower:", "Stale catalog:"):
        assert banner in text
    assert "overridden; the catalog says cron '*/15 9-17 * * mon-fri' ±2m (Europe/Paris)" in text
    assert "every 5.0s ±1s (Europe/Paris)" in text
    assert "71% passed (10 of 14 runs in 7 days)" in text  # refusals are not counted
    assert len(page.all("a", **{"class": "cell"})) == 30  # the strip: last 30 runs
    assert "SLO" in html
    assert 'class="spark"' in html
    assert len(re.findall(r"<li><time", html)) == 6  # three next fires per experiment


def test_status_page_filters_by_tag_and_namespace() -> None:
    assert "showing 1 of 2 experiments" in status_page(tag="greeter")
    assert "showing 0 of 2 experiments" in status_page(namespace="nowhere")
    assert "showing 1 of 2 experiments" in status_page(tag="shop", namespace="shop")
    assert '<option value="greeter" selected>' in status_page(tag="greeter")


def test_experiment_page_pages_its_history() -> None:
    html = experiment_page(runs=1000, page=2)
    assert "page 2 of 20 (1000 runs)" in html
    assert 'href="/experiments/greeter-kill?page=1#history" rel="prev"' in html
    assert 'href="/experiments/greeter-kill?page=3#history" rel="next"' in html
    assert html.count('<tr><td><a href="/runs/') == 50
    assert "In force (the stricter)" in html
    assert "Recovery trend" in html
    assert "Median recovery: older half" in html
    last = experiment_page(runs=120, page=3)
    assert "page 3 of 3" in last
    assert 'rel="next"' not in last


# ------------------------------------------------------------------ escaping


def test_hostile_text_is_escaped_everywhere() -> None:
    """Titles, names, probe output, errors, halt reasons, problems, tags: never markup."""
    for html in (status_page(HOSTILE), experiment_page(HOSTILE, runs=60), run_page(HOSTILE)):
        page = Elements(html)
        assert not page.all("script")
        assert not [a for _, a in page.tags if "onerror" in a]
        assert not page.all("img")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "\"'&amp;" not in html  # the quote and the ampersand are encoded too


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from("<>&\"'=/ ascriptonerrx"), max_size=30))
def test_any_text_stays_text(text) -> None:
    for html in (status_page(text), run_page(text)):
        page = Elements(html)
        assert {t for t, _ in page.tags} <= ALLOWED_TAGS, {t for t, _ in page.tags} - ALLOWED_TAGS


ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p", "a",
    "main", "div", "span", "section", "ol", "ul", "li", "form", "label", "br", "select",
    "option", "button", "table", "caption", "thead", "tbody", "tr", "th", "td", "dl", "dt",
    "dd", "details", "summary", "pre", "time", "strong", "svg", "desc", "g", "text", "line",
    "rect", "path", "polyline", "circle", "nav", "code",
}  # fmt: skip


# ------------------------------------------------------------------ accessibility


def test_colour_is_never_the_only_signal() -> None:
    for html in (status_page(), experiment_page(), run_page()):
        page = Elements(html)
        for cell in page.all("a", **{"class": "cell"}):
            assert cell.get("aria-label")
            assert cell.get("title")
            assert cell.get("href")
        # Every coloured cell shows a letter too.
        assert all(m.strip() for m in re.findall(r'class="cell"[^>]*>([^<]*)</a>', html)), (
            "a strip cell without a letter"
        )
        for pill in re.findall(r'<span class="pill"[^>]*>([^<]*)</span>', html):
            assert pill.strip()
        for drawing in page.all("svg"):
            assert drawing.get("role") == "img"
            assert drawing.get("aria-label") or drawing.get("aria-labelledby")
        assert not [a for _, a in page.tags if (a.get("tabindex") or "0").startswith("-")]
        assert page.all("html", lang="en")


def test_pages_are_readable_in_order_without_css() -> None:
    """Headings in order, content in the HTML (no script, nothing drawn only by CSS)."""
    html = run_page()
    no_style = re.sub(r"<style>.*?</style>", "", html, flags=re.DOTALL)
    text = " ".join(Elements(no_style).text)
    order = [text.index(h) for h in ("Timeline", "Activities", "Guard decisions", "Journal")]
    assert order == sorted(order)
    assert "<script" not in html.lower()


def test_sparkline_marks_runs_over_the_slo() -> None:
    html = svg.sparkline([1.0, None, 5.0, 2.0], slo=3.0, label="x")
    assert html.count('stroke-dasharray="4 3"') == 1
    assert html.count("<path") == 1  # the one run over the SLO: a cross
    assert html.count("<circle") == 2  # the others: dots
    assert "no recovery measured" in svg.sparkline([None], slo=None, label="x")


def test_random_history_summaries_render() -> None:
    rng = random.Random(7)
    runs = pages_data.summaries(40)
    rng.shuffle(runs)
    assert status.card(pages_data.card(), NOW)
