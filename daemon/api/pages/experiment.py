"""The experiment page: its file, schedule preview, limits in force, history and trend."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from daemon.api.pages import status, svg, widgets
from daemon.api.pages.fmt import DASH, esc, seconds, when, yes_no
from daemon.api.pages.layout import Banners, page
from daemon.api.pages.model import Card, RunSummary


@dataclass(frozen=True)
class Limit:
    name: str
    global_value: str
    own: str | None  # None: the experiment does not set it
    effective: str


@dataclass(frozen=True)
class History:
    runs: list[RunSummary]  # this page, newest first
    page: int  # 1-based
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))


def limits_table(limits: list[Limit]) -> str:
    rows = "".join(
        f"<tr><th scope=row>{esc(lim.name)}</th><td>{esc(lim.global_value)}</td>"
        f"<td>{esc(lim.own) if lim.own is not None else '<span class=muted>not set</span>'}</td>"
        f"<td><strong>{esc(lim.effective)}</strong></td></tr>"
        for lim in limits
    )
    return (
        "<table><caption class=sr>Limits in force</caption><thead><tr><th>Limit</th>"
        "<th>Global (settings)</th><th>This experiment</th><th>In force (the stricter)</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def history_table(experiment_id: str, history: History, now: datetime) -> str:
    if not history.runs:
        return '<p class="muted">No runs yet.</p>'
    rows = "".join(
        f'<tr><td><a href="/runs/{esc(r.id)}">{esc(r.id)}</a></td>'
        f"<td>{widgets.pill(r.outcome, running=r.running)} {esc(r.reason or '')}</td>"
        f"<td>{when(r.started_at, now)}</td><td class=num>{seconds(r.duration)}</td>"
        f"<td class=num>{seconds(r.recovery)}{' (timed out)' if r.timed_out else ''}</td>"
        f"<td>{esc(r.trigger)}</td><td>{yes_no(r.dry_run)}</td></tr>"
        for r in history.runs
    )
    base = f"/experiments/{esc(experiment_id)}"
    links = []
    if history.page > 1:
        links.append(f'<a href="{base}?page={history.page - 1}#history" rel="prev">← newer</a>')
    links.append(f"<span>page {history.page} of {history.pages} ({history.total} runs)</span>")
    if history.page < history.pages:
        links.append(f'<a href="{base}?page={history.page + 1}#history" rel="next">older →</a>')
    nav = f'<nav class="pages" aria-label="history pages">{"".join(links)}</nav>'
    return (
        "<table><caption class=sr>Run history, newest first</caption><thead><tr><th>Run</th>"
        "<th>Outcome</th><th>Started</th><th>Duration</th><th>Slowest recovery</th>"
        f"<th>Trigger</th><th>Dry-run</th></tr></thead><tbody>{rows}</tbody></table>{nav}"
    )


def trend(card: Card, runs: list[RunSummary]) -> str:
    values = [r.recovery for r in reversed(runs)]
    took = [v for v in values if v is not None]
    if not took:
        return '<p class="muted">No recovery measured yet.</p>'
    label = (
        f"recovery over the last {len(runs)} runs, oldest first: min {seconds(min(took))}, "
        f"max {seconds(max(took))}" + (f", SLO {seconds(card.slo)}" if card.slo else "")
    )
    half = len(took) // 2
    words = ""
    if half >= 3:
        older = sorted(took[:half])[half // 2]
        newer = sorted(took[half:])[len(took[half:]) // 2]
        change = "slower" if newer > older * 1.1 else "faster" if newer < older * 0.9 else "steady"
        words = (
            f"<p>Median recovery: older half {seconds(older)}, newer half {seconds(newer)} "
            f"(<strong>{change}</strong>).</p>"
        )
    picture = svg.sparkline(values, slo=card.slo, label=label, width=640, height=140, axis=True)
    return (
        f"{picture}<p class=muted>Slowest recovery per run, the last {len(runs)} runs, "
        "oldest on the left; dashed: the SLO; a cross: over the SLO.</p>" + words
    )


def render(
    card: Card,
    *,
    state: Banners,
    now: datetime,
    file_text: str | None,
    upcoming: list[datetime],
    limits: list[Limit],
    history: History,
    trend_runs: list[RunSummary],
) -> str:
    problems = "".join(f"<li>{esc(p)}</li>" for p in card.problems)
    facts = [
        ("Title", esc(card.title or "")),
        ("File", f"<code>{esc(card.file)}</code>"),
        ("Valid", yes_no(card.valid) + (" (an invalid edit is on disk)" if card.stale else "")),
        ("Enabled", yes_no(card.enabled)),
        ("Tags", esc(", ".join(card.tags)) or DASH),
        ("Namespaces", esc(", ".join(card.namespaces)) or DASH),
        ("Schedule", widgets.schedule(card)),
        ("Recovery SLO", seconds(card.slo) if card.slo is not None else "none set"),
        ("Pass rate", status.pass_rate(card.rate)),
        ("Running now", f'<a href="/runs/{esc(card.running)}">yes</a>' if card.running else "no"),
    ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    preview = (
        "<ol>" + "".join(f"<li>{when(t, now)}</li>" for t in upcoming) + "</ol>"
        if upcoming
        else '<p class="muted">Nothing planned in the preview window.</p>'
    )
    source = (
        "<p>The version in force, as loaded from the file (secret values masked):</p>"
        f"<details><summary>Show the experiment</summary><pre>{esc(file_text)}</pre></details>"
        if file_text is not None
        else '<p class="muted">No valid version of this file is loaded.</p>'
    )
    body = (
        f'<dl class="kv">{dl}</dl>'
        + (f"<h2>Problems</h2><ul class=problem>{problems}</ul>" if problems else "")
        + f"<h2>{status.runs_heading(len(card.runs))}</h2>"
        + widgets.strip(card.runs)
        + widgets.legend()
        + f"<h2>Schedule preview</h2>{preview}"
        + f"<h2>Limits in force</h2>{limits_table(limits)}"
        + f"<h2>Recovery trend</h2>{trend(card, trend_runs)}"
        + f'<h2 id="history">History</h2>{history_table(card.id, history, now)}'
        + f"<h2>Experiment</h2>{source}"
    )
    return page(f"experiment {card.id}", body, state=state, crumbs=f"experiment {esc(card.id)}")
