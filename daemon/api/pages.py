"""Server-rendered status pages: no build step, no JavaScript, every value escaped."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

COLOURS = {
    "passed": "#1a7f37",
    "deviated": "#cf222e",
    "not_steady": "#bc4c00",
    "refused": "#8250df",
    "failed": "#a40e26",
    "aborted": "#6e7781",
}

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f8fa;color:#1f2328}
header{background:#24292f;color:#fff;padding:14px 24px;display:flex;gap:16px;align-items:baseline}
header h1{font-size:20px;margin:0}header span{opacity:.75;font-size:13px}
main{padding:16px 24px;max-width:1300px}
.banner{padding:10px 14px;border-radius:6px;margin:0 0 10px;font-weight:600}
.halted{background:#ffebe9;border:1px solid #cf222e;color:#a40e26}
.dry{background:#fff8c5;border:1px solid #d4a72c}
.follower{background:#ddf4ff;border:1px solid #54aeff}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d0d7de;border-radius:6px}
th,td{text-align:left;padding:8px 10px;border-bottom:1px solid #d8dee4;font-size:14px;vertical-align:top}
th{background:#f6f8fa;font-weight:600}
.pill{display:inline-block;padding:2px 8px;border-radius:12px;color:#fff;font-size:12px;font-weight:600}
.muted{color:#656d76;font-size:12px}.problem{color:#a40e26;font-size:12px}
pre{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px;overflow:auto;font-size:12px}
a{color:#0969da}
"""


def iso(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, UTC).isoformat() if moment else None


def _when(text: str | None) -> str:
    """ISO 8601 → '2026-11-23 10:55:54 UTC' for people; the API keeps full ISO."""
    if not text:
        return "–"
    try:
        return datetime.fromisoformat(text).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return text


def _pill(outcome: str | None) -> str:
    if not outcome:
        return '<span class="muted">never ran</span>'
    colour = COLOURS.get(outcome, "#6e7781")
    return f'<span class="pill" style="background:{colour}">{escape(outcome)}</span>'


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>aftershock</h1><span>{escape(title)}</span></header><main>{body}</main>"
        "</body></html>"
    )


def _banners(halted: str | None, leader: bool, dry_run: bool) -> str:
    out = []
    if halted:
        out.append(f'<div class="banner halted">Chaos halted: {escape(halted)}</div>')
    if dry_run:
        out.append('<div class="banner dry">Dry-run: targets are chosen, nothing is killed</div>')
    if not leader:
        out.append(
            '<div class="banner follower">Follower: another replica holds the lease and injects</div>'
        )
    return "".join(out)


def index(
    experiments: list[dict[str, Any]],
    *,
    halted: str | None,
    leader: bool,
    dry_run: bool,
    catalog_problems: list[str],
    sinks: Sequence[dict[str, Any]] = (),
) -> str:
    rows = []
    for e in experiments:
        last = e["last_run"]
        link = f'<a href="/runs/{escape(last["id"])}">journal</a>' if last.get("id") else ""
        problems = "".join(f'<div class="problem">{escape(p)}</div>' for p in e["problems"][:3])
        if e["stale"]:
            problems = (
                '<div class="problem">invalid edit on disk; last good version runs</div>' + problems
            )
        recovery = e["recovery"]
        last_recovery = ", ".join(f"{escape(k)} {v:.2f}s" for k, v in recovery["last"].items())
        p50 = "" if recovery["p50"] is None else f"p50 {recovery['p50']:.2f}s"
        rows.append(
            "<tr class=experiment>"
            f"<td><strong>{escape(e['id'])}</strong><div class=muted>{escape(e['title'] or '')}</div>{problems}</td>"
            f"<td>{escape(e['schedule'] or 'on demand')}{'' if e['enabled'] else ' <span class=muted>(disabled)</span>'}</td>"
            f"<td>{escape(_when(e['next_run']))}</td>"
            f"<td>{_pill(last['outcome'])} <span class=muted>{escape(last.get('reason') or '')}</span>"
            f"<div class=muted>{escape(_when(last.get('ended_at')) if last.get('ended_at') else '')}</div>"
            f"{'<div class=muted>running now</div>' if e['running'] else ''}</td>"
            f"<td>{p50}<div class=muted>{last_recovery}</div></td>"
            f"<td>{link}</td></tr>"
        )
    problems = "".join(f'<div class="problem">{escape(p)}</div>' for p in catalog_problems)
    table = (
        "<table><thead><tr><th>Experiment</th><th>Schedule</th><th>Next run</th>"
        "<th>Last outcome</th><th>Recovery</th><th></th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )
    return _page(
        f"{len(experiments)} experiments",
        _banners(halted, leader, dry_run) + problems + table + _sinks(sinks),
    )


def _sinks(sinks: Sequence[dict[str, Any]]) -> str:
    """Notification sinks: where each URL comes from, never the URL (docs/notifications.md)."""
    if not sinks:
        return ""
    rows = "".join(
        f"<tr><td><strong>{escape(s['name'])}</strong> <span class=muted>{escape(s['type'])}"
        f"</span></td><td class=muted>{escape(s['target'])}</td>"
        f"<td>{s['counts']['sent']} sent, {s['counts']['failed']} failed, "
        f"{s['counts']['dropped'] + s['counts']['abandoned']} lost; {s['queued']} queued</td>"
        f"<td class=muted>{escape(s['last_error'] or '')}</td></tr>"
        for s in sinks
    )
    return (
        "<h2>Notifications</h2><table><thead><tr><th>Sink</th><th>URL from</th>"
        f"<th>Deliveries</th><th>Last error</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def run(row: dict[str, Any], journal: dict[str, Any] | None) -> str:
    record = (journal or {}).get("aftershock") or {}
    facts = [
        ("Experiment", row["experiment"]),
        ("Trigger", row["trigger"]),
        ("Started", row["started_at"]),
        ("Ended", row["ended_at"] or "running"),
        ("Duration", f"{row['duration_seconds']} s" if row["duration_seconds"] else "–"),
        ("Dry-run", "yes" if row["dry_run"] else "no"),
        ("Chaos Toolkit status", (journal or {}).get("status", "–")),
        ("Deviated", str((journal or {}).get("deviated", "–"))),
    ]
    lines = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in facts)
    outcome = f"<p>{_pill(row['outcome'])} {escape(row.get('reason') or '')}</p>"
    activities: list[tuple[str, dict[str, Any]]] = []
    for phase, records in (
        ("hypothesis before", ((journal or {}).get("steady_states") or {}).get("before") or {}),
        ("hypothesis after", ((journal or {}).get("steady_states") or {}).get("after") or {}),
    ):
        probes = records.get("probes", []) if isinstance(records, dict) else []
        activities.extend((phase, probe) for probe in probes)
    activities += [("method", r) for r in (journal or {}).get("run", [])]
    activities += [("rollback", r) for r in (journal or {}).get("rollbacks", [])]
    rows = "".join(
        f"<tr><td>{escape(phase)}</td><td>{escape(str(r.get('activity', {}).get('name', '')))}</td>"
        f"<td>{escape(str(r.get('status')))}</td><td>{escape(str(r.get('tolerance_met', '')))}</td>"
        f"<td>{escape(str(round(r.get('duration') or 0, 3)))} s</td>"
        f"<td class=muted>{escape((r.get('exception') or [''])[-1].strip()[:300])}</td></tr>"
        for phase, r in activities
    )
    recovery = "".join(
        f"<tr><td>{escape(r['namespace'])}/{escape(r['name'])}</td><td>{escape(str(r['recovery_seconds']))}</td>"
        f"<td>{escape(str(r['first_replacement_ready_seconds']))}</td><td>{escape(str(r['timed_out']))}</td></tr>"
        for r in record.get("recovery", [])
    )
    body = (
        outcome
        + f"<table>{lines}</table><h3>Activities</h3><table><thead><tr><th>Phase</th><th>Name</th>"
        "<th>Status</th><th>Tolerance met</th><th>Duration</th><th>Error</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        + (
            "<h3>Recovery</h3><table><thead><tr><th>Workload</th><th>Recovery s</th>"
            f"<th>First replacement ready s</th><th>Timed out</th></tr></thead><tbody>{recovery}</tbody></table>"
            if recovery
            else ""
        )
        + f"<h3>Journal</h3><pre>{escape(json.dumps(journal, indent=2, default=str))}</pre>"
        + '<p><a href="/">← all experiments</a></p>'
    )
    return _page(f"run {row['id']}", body)
