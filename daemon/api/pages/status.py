"""The status page: one card per experiment, answering "is it getting worse?" at a glance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from daemon.api.pages import svg, widgets
from daemon.api.pages.fmt import esc, percent, seconds
from daemon.api.pages.layout import Banners, page
from daemon.api.pages.model import Card, PassRate


def pass_rate(rate: PassRate) -> str:
    if not rate.counts:
        return f"no runs in {rate.days} days"
    if not rate.verdicts:
        return f"no verdict in {rate.days} days ({rate.refused} refused)"
    text = (
        f"<strong>{percent(rate.passed, rate.verdicts)}</strong> passed "
        f"({rate.passed} of {rate.verdicts} runs in {rate.days} days)"
    )
    if rate.refused:
        text += f'<div class="muted">{rate.refused} refused, not counted</div>'
    return text


def recovery(card: Card) -> str:
    took = [r for r in card.recoveries if r is not None]
    label = (
        f"recovery of the last {len(took)} measured runs, oldest first: "
        f"min {seconds(min(took))}, max {seconds(max(took))}"
        if took
        else "no recovery measured"
    ) + (f"; SLO {seconds(card.slo)} (dashed)" if card.slo is not None else "; no SLO set")
    summary = (
        f"p50 {seconds(card.p50)}" + (f" · SLO {seconds(card.slo)}" if card.slo is not None else "")
        if card.p50 is not None
        else ""
    )
    return (
        svg.sparkline(card.recoveries, slo=card.slo, label=label)
        + f'<div class="muted">{esc(summary)}</div>'
    )


def runs_heading(count: int) -> str:
    return "Last run" if count == 1 else f"Last {count} runs"


def card(item: Card, now: datetime) -> str:
    problems = "".join(f'<div class="problem">{esc(p)}</div>' for p in item.problems[:3])
    if item.history_error:
        problems += f'<div class="problem">Run history unavailable: {esc(item.history_error)}</div>'
    if item.stale:
        problems = (
            '<div class="problem">Stale: an invalid edit on disk; the last good version runs.'
            "</div>" + problems
        )
    labels = " · ".join(
        [f"tag {esc(t)}" for t in item.tags] + [f"namespace {esc(n)}" for n in item.namespaces]
    )
    last = item.runs[0] if item.runs else None
    last_text = (
        f'{widgets.pill(last.outcome, running=last.running)} <a href="/runs/{esc(last.id)}">'
        f"last run</a> {esc(last.reason or '')}"
        if last
        else widgets.pill(None)
    )
    return (
        f'<section class="card experiment" id="x-{esc(item.id)}" '
        f'aria-labelledby="h-{esc(item.id)}">'
        f'<h2 id="h-{esc(item.id)}"><a href="/experiments/{esc(item.id)}">{esc(item.id)}</a></h2>'
        f'<div class="muted">{esc(item.title or "")}{" · " + labels if labels else ""}</div>'
        f"{problems}"
        '<div class="facts">'
        f"<div><h3>{runs_heading(len(item.runs))}</h3>{widgets.strip(item.runs)}{last_text}"
        f"{'<div class=muted>running now</div>' if item.running else ''}</div>"
        f"<div><h3>Recovery</h3>{recovery(item)}</div>"
        f"<div><h3>Pass rate</h3>{pass_rate(item.rate)}</div>"
        f"<div><h3>Schedule</h3>{widgets.schedule(item)}"
        f"<h3>Next fires</h3>{widgets.fires(item, now)}</div>"
        "</div></section>"
    )


def _select(name: str, label: str, options: list[str], chosen: str | None) -> str:
    opts = '<option value="">all</option>' + "".join(
        f'<option value="{esc(o)}"{" selected" if o == chosen else ""}>{esc(o)}</option>'
        for o in options
    )
    return f'<label>{esc(label)}<br><select name="{name}">{opts}</select></label>'


def matches(item: Card, tag: str | None, namespace: str | None) -> bool:
    return (not tag or tag in item.tags) and (not namespace or namespace in item.namespaces)


def render(
    cards: list[Card],
    *,
    state: Banners,
    now: datetime,
    tag: str | None = None,
    namespace: str | None = None,
    sinks: Sequence[Mapping[str, Any]] = (),
) -> str:
    tags = sorted({t for c in cards for t in c.tags})
    namespaces = sorted({n for c in cards for n in c.namespaces})
    shown = [c for c in cards if matches(c, tag, namespace)]
    form = (
        '<form class="filter" method="get" action="/" role="search">'
        + _select("tag", "Tag", tags, tag)
        + _select("namespace", "Namespace", namespaces, namespace)
        + '<button type="submit">Filter</button>'
        + (' <a href="/">clear</a>' if tag or namespace else "")
        + f'<p class="muted" role="status">showing {len(shown)} of {len(cards)} experiments</p>'
        "</form>"
    )
    body = (
        form
        + widgets.legend()
        + "".join(card(c, now) for c in shown)
        + ("" if shown else '<p class="muted">No experiment matches.</p>')
        + notifications(sinks)
    )
    return page(f"{len(cards)} experiments", body, state=state)


def notifications(sinks: Sequence[Mapping[str, Any]]) -> str:
    """Notification sinks: where each URL comes from, never the URL (docs/notifications.md)."""
    if not sinks:
        return ""
    rows = "".join(
        f"<tr><td><strong>{esc(str(s['name']))}</strong> "
        f'<span class="muted">{esc(str(s["type"]))}</span></td>'
        f'<td class="muted">{esc(str(s["target"]))}</td>'
        f"<td>{s['counts']['sent']} sent, {s['counts']['failed']} failed, "
        f"{s['counts']['dropped'] + s['counts']['abandoned']} lost; {s['queued']} queued</td>"
        f'<td class="muted">{esc(str(s["last_error"] or ""))}</td></tr>'
        for s in sinks
    )
    return (
        '<section aria-labelledby="sinks"><h2 id="sinks">Notifications</h2><table><thead><tr>'
        '<th scope="col">Sink</th><th scope="col">URL from</th><th scope="col">Deliveries</th>'
        f'<th scope="col">Last error</th></tr></thead><tbody>{rows}</tbody></table></section>'
    )
