"""The run page: what happened, in what order, and how long users were hurt."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from daemon.api.pages import svg, timeline, widgets
from daemon.api.pages.fmt import DASH, esc, seconds, when, yes_no
from daemon.api.pages.layout import Banners, page
from daemon.api.pages.timeline import Timeline

VERDICT_WORDS = {"kept": "kept", "excluded": "left out", "refused": "refused", "capped": "capped"}
MAX_DECISIONS = 50
MAX_TEXT = 300


def _short(value: Any, limit: int = MAX_TEXT) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def _rule(rule: str) -> str:
    return rule.replace("_", " ")


def decision_words(decision: dict[str, Any]) -> str:
    """`shop/web-1: kept (workload limits): shop/Deployment/web: ready 3/3, floor 1`."""
    verdict = VERDICT_WORDS.get(str(decision.get("verdict")), str(decision.get("verdict")))
    subject = str(decision.get("subject", ""))
    who = "The run" if subject == "run" else subject
    detail = str(decision.get("detail") or "")
    return f"{who}: {verdict} ({_rule(str(decision.get('rule', '')))})" + (
        f": {detail}" if detail else ""
    )


def plan_words(plan: dict[str, Any]) -> tuple[str, list[str]]:
    """A plan's headline and its decisions, in plain words."""
    if "recheck" in plan:
        refused = plan.get("refused") or {}
        return (
            f"Re-checked {plan['recheck']} just before acting: refused "
            f"({_rule(str(refused.get('reason', '')))}): {refused.get('detail', '')}",
            [],
        )
    targets = plan.get("targets") or []
    candidates = plan.get("candidates") or []
    decisions = [d for d in plan.get("decisions") or [] if isinstance(d, dict)]
    refused = plan.get("refused")
    if isinstance(refused, dict):
        head = (
            f"Refused ({_rule(str(refused.get('reason', '')))}): {refused.get('detail', '')}; "
            f"{len(candidates)} candidate pod(s), none disrupted."
        )
    else:
        head = f"Kept {len(targets)} of {len(candidates)} candidate pod(s)"
        request = next((d for d in decisions if d.get("subject") == "run"), None)
        head += f" ({request['detail']})." if request and request.get("detail") else "."
    words = [decision_words(d) for d in decisions if d.get("subject") != "run" or refused]
    return head, words


def guard(record: dict[str, Any]) -> str:
    plans = [p for p in record.get("plans") or [] if isinstance(p, dict)]
    if not plans:
        return '<p class="muted">The guard was not consulted (nothing to disrupt).</p>'
    out = ["<ol class=guard>"]
    for plan in plans:
        head, words = plan_words(plan)
        more = len(words) - MAX_DECISIONS
        items = "".join(f"<li>{esc(w)}</li>" for w in words[:MAX_DECISIONS])
        items += f"<li>… and {more} more decisions (see the journal)</li>" if more > 0 else ""
        out.append(f"<li>{esc(head)}" + (f"<ul>{items}</ul>" if items else "") + "</li>")
    return "".join(out) + "</ol>"


def hypothesis(record: dict[str, Any]) -> str:
    checks = [c for c in record.get("hypothesis_checks") or [] if isinstance(c, dict)]
    if not checks:
        return "not checked"
    by_phase: dict[str, list[bool]] = {}
    for c in checks:
        by_phase.setdefault(str(c.get("phase")), []).append(bool(c.get("met")))
    words = []
    for phase, results in by_phase.items():
        met = all(results)
        mark = "✓ met" if met else "✗ not met"
        count = f" ({results.count(True)} of {len(results)} checks)" if len(results) > 1 else ""
        words.append(f"{esc(phase)}: <strong>{mark}</strong>{count}")
    return " · ".join(words)


def activities(line: Timeline) -> str:
    rows = []
    for r in line.rows:
        if r.instant:
            continue
        met = yes_no(r.ok) if r.kind == "probe" else DASH
        rows.append(
            f"<tr><td>{esc(r.phase)}</td><td>{esc(r.label)}</td><td>{esc(r.type)}</td>"
            f"<td>{esc(r.status)}</td><td>{met}</td>"
            f'<td class="num">+{seconds(r.start)}</td>'
            f'<td class="num">{seconds(r.end - r.start)}</td>'
            f'<td class="muted">{esc(_short(r.detail))}</td></tr>'
        )
    if not rows:
        return '<p class="muted">No activity ran.</p>'
    return (
        "<table><caption class=sr>Activities in time order</caption><thead><tr><th>Phase</th>"
        "<th>Name</th><th>Type</th><th>Status</th><th>Tolerance met</th><th>Started at</th>"
        f"<th>Duration</th><th>Error</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def disruptions(record: dict[str, Any], now: datetime, slo: float | None) -> str:
    rows = "".join(
        f"<tr><td>{esc(d.get('pod'))}</td><td>{esc(d.get('workload'))}</td>"
        f"<td>{esc(d.get('method'))}</td><td>{when(d.get('at'), now)}</td>"
        f"<td>{esc(d.get('state', 'done'))}</td></tr>"
        for d in record.get("disrupted") or []
        if isinstance(d, dict)
    )
    recovery = "".join(
        f"<tr><td>{esc(r.get('namespace'))}/{esc(r.get('name'))}</td>"
        f'<td class="num">{seconds(r.get("first_replacement_ready_seconds"))}</td>'
        f'<td class="num">{seconds(r.get("recovery_seconds"))}</td>'
        f"<td>{_within(r.get('recovery_seconds'), slo)}</td><td>{yes_no(r.get('timed_out'))}</td>"
        f'<td class="muted">{esc(r.get("error") or "")}</td></tr>'
        for r in record.get("recovery") or []
        if isinstance(r, dict)
    )
    out = ""
    if rows:
        out += (
            "<h3>Disruptions</h3><table><thead><tr><th>Pod</th><th>Workload</th><th>Method</th>"
            f"<th>At</th><th>State</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    if recovery:
        out += (
            "<h3>Recovery</h3><table><thead><tr><th>Workload</th><th>First replacement ready</th>"
            "<th>Ready again</th><th>Within SLO</th><th>Timed out</th><th>Note</th></tr></thead>"
            f"<tbody>{recovery}</tbody></table>"
        )
    return out


def _within(took: Any, slo: float | None) -> str:
    if slo is None:
        return "no SLO set"
    if not isinstance(took, int | float):
        return DASH
    return f"{'yes' if took <= slo else 'no'} (SLO {seconds(slo)})"


def problems(record: dict[str, Any]) -> str:
    lines = [str(record["error"])] if record.get("error") else []
    refusal = record.get("refusal")
    if isinstance(refusal, dict):
        lines.append(f"refused after injecting: {refusal.get('reason')}: {refusal.get('detail')}")
    lines += [str(e) for e in record.get("errors") or []]
    if not lines:
        return ""
    items = "".join(f"<li>{esc(_short(line, 1000))}</li>" for line in lines[:50])
    return f"<h3>Errors</h3><ul class=problem>{items}</ul>"


PRETTY_LIMIT = 64 * 1024


def journal_text(journal: dict[str, Any] | None) -> str:
    """Indented when small; a large journal stays compact (indenting is the slow pure-Python
    encoder: it was half of a 200-activity page's render time)."""
    compact = json.dumps(journal, default=str)
    return compact if len(compact) > PRETTY_LIMIT else json.dumps(journal, indent=2, default=str)


def render(
    row: dict[str, Any],
    journal: dict[str, Any] | None,
    *,
    now: datetime,
    slo: float | None,
    state: Banners | None = None,
) -> str:
    journal = journal if isinstance(journal, dict) else None
    record = (journal or {}).get("aftershock")
    record = record if isinstance(record, dict) else {}
    line = timeline.build(journal, slo=slo)
    experiment = str(row["experiment"])
    running = row.get("state") == "running"
    facts = [
        (
            "Outcome",
            widgets.pill(row.get("outcome"), running=running) + " " + esc(row.get("reason") or ""),
        ),
        ("Experiment", f'<a href="/experiments/{esc(experiment)}">{esc(experiment)}</a>'),
        ("Trigger", esc(row.get("trigger"))),
        ("Started", when(row.get("started_at"), now)),
        ("Ended", when(row.get("ended_at"), now) if row.get("ended_at") else "running"),
        ("Duration", seconds(row.get("duration_seconds"))),
        ("Dry-run", yes_no(row.get("dry_run"))),
        ("Hypothesis", hypothesis(record)),
        ("Deviated", yes_no((journal or {}).get("deviated"))),
        ("Recovery SLO", seconds(slo) if slo is not None else "none set"),
    ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts)
    text = journal_text(journal)
    run_id = esc(row["id"])
    body = (
        f'<dl class="kv">{dl}</dl>'
        "<h2>Timeline</h2>"
        '<p class="muted">Seconds from the start of the run. Bars: activities (✓ ok / ✗ failed, '
        "dashed outline when not met); ▼ disruption; ● first replacement ready; ■ workload "
        "ready again; ◆ recovery SLO.</p>"
        + svg.timeline(line, title=f"Timeline of run {row['id']}")
        + "<h2>Activities</h2>"
        + activities(line)
        + disruptions(record, now, slo)
        + "<h2>Guard decisions</h2>"
        + guard(record)
        + problems(record)
        + "<h2>Journal</h2>"
        f'<p><a href="/api/v1/runs/{run_id}/journal" download="{run_id}.json">'
        f"Download the journal</a> (JSON, {len(text.encode()) / 1024:.1f} KiB)</p>"
        f"<details><summary>Show the journal</summary><pre>{esc(text)}</pre></details>"
    )
    crumbs = f'<a href="/experiments/{esc(experiment)}">{esc(experiment)}</a> &rsaquo; run {run_id}'
    return page(f"run {row['id']}", body, state=state, crumbs=crumbs)
