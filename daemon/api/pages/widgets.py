"""Small pieces shared by the pages: outcome pills, the outcome strip, schedule words."""

from __future__ import annotations

from datetime import datetime

from daemon.api.pages import palette
from daemon.api.pages.fmt import absolute, esc, seconds, when
from daemon.api.pages.model import Card, RunSummary


def pill(outcome: str | None, *, running: bool = False) -> str:
    if outcome is None and not running:
        return '<span class="muted">never ran</span>'
    look = palette.look(outcome, running=running)
    return f'<span class="pill" style="background:{look.colour}">{esc(look.word)}</span>'


def run_words(run: RunSummary) -> str:
    """Plain text for a run: its hover text and accessible name."""
    look = palette.look(run.outcome, running=run.running)
    words = look.word + (f" ({run.reason})" if run.reason else "")
    words += f", started {absolute(run.started_at)}"
    if run.recovery is not None:
        words += f", recovered in {seconds(run.recovery)}"
    if run.timed_out:
        words += ", a workload did not recover in time"
    if run.dry_run:
        words += ", dry-run"
    return words


def strip(runs: list[RunSummary]) -> str:
    """Oldest to newest, left to right; each cell links to its run and says its outcome."""
    if not runs:
        return '<p class="muted">No runs yet.</p>'
    cells = []
    for run in reversed(runs):
        look = palette.look(run.outcome, running=run.running)
        words = esc(run_words(run))
        cells.append(
            f'<li><a class="cell" href="/runs/{esc(run.id)}" title="{words}" '
            f'aria-label="{words}" style="background:{look.colour}">{esc(look.letter)}</a></li>'
        )
    return (
        f'<ol class="strip" aria-label="last {len(runs)} runs, oldest first">{"".join(cells)}</ol>'
    )


def legend() -> str:
    items = "".join(
        f'<li><span class="pill" style="background:{look.colour}">{esc(look.letter)}</span> '
        f"{esc(look.word)}</li>"
        for look in (*palette.LOOKS.values(), palette.RUNNING)
    )
    return f'<ul class="legend" aria-label="outcome letters">{items}</ul>'


def schedule(card: Card) -> str:
    if card.schedule is None:
        return "on demand (no schedule)"
    text = esc(card.schedule)
    if not card.enabled:
        text += ' <span class="muted">(experiment disabled)</span>'
    if card.overridden:
        text += (
            f' <span class="override">overridden; the catalog says '
            f"{esc(card.catalog_schedule or 'no schedule')}</span>"
        )
    return text


def fires(card: Card, now: datetime) -> str:
    if not card.fires:
        return '<span class="muted">none planned</span>'
    return '<ol class="fires">' + "".join(f"<li>{when(f, now)}</li>" for f in card.fires) + "</ol>"
