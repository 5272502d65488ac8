"""The page shell, style sheet and banners shared by every page.

The HTML is semantic (headings, lists, tables, <details>) so a page reads in order without
its CSS; the style only adds colour and layout. No script anywhere: it works offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from daemon.api.pages.fmt import esc

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#fff;
  color:#1f2328;line-height:1.45}
header{background:#24292f;color:#fff;padding:12px 24px;display:flex;gap:16px;
  align-items:baseline;flex-wrap:wrap}
header h1{font-size:20px;margin:0}
header a{color:#fff}
header p{margin:0;font-size:14px}
main{padding:12px 24px;max-width:1300px}
a{color:#0550ae}
a:focus-visible,summary:focus-visible,button:focus-visible,select:focus-visible{
  outline:3px solid #0550ae;outline-offset:2px}
.banner{padding:10px 14px;border-radius:6px;margin:0 0 10px;font-weight:600;border:1px solid}
.banner p{margin:0 0 4px}
.halted{background:#ffebe9;border-color:#cf222e;color:#82071e}
.dry{background:#fff8c5;border-color:#9a6700;color:#3b2300}
.follower{background:#ddf4ff;border-color:#0969da;color:#0a3069}
.stale{background:#fff1e5;border-color:#bc4c00;color:#3b2300}
.override{background:#ddf4ff;color:#0a3069;border-radius:4px;padding:0 4px;font-size:13px}
table{border-collapse:collapse;width:100%;border:1px solid #d0d7de;margin:0 0 16px}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #d8dee4;font-size:14px;
  vertical-align:top}
th{background:#f6f8fa;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#59636e;font-size:13px}
.problem{color:#a40e26;font-size:13px}
.pill{display:inline-block;padding:1px 8px;border-radius:12px;color:#fff;font-size:13px;
  font-weight:600}
.strip{list-style:none;display:flex;flex-wrap:wrap;gap:2px;padding:0;margin:4px 0}
.strip a{display:inline-block;width:18px;height:22px;line-height:22px;text-align:center;
  color:#fff;text-decoration:none;font-size:12px;font-weight:700;border-radius:3px}
.legend{list-style:none;display:flex;flex-wrap:wrap;gap:12px;padding:0;font-size:13px}
.card{border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;margin:0 0 12px}
.card h2{font-size:17px;margin:0}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:6px 18px;
  margin:6px 0}
.facts h3{font-size:13px;margin:0;color:#59636e;font-weight:600}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0 0 16px}
dl.kv dt{font-weight:600}
dl.kv dd{margin:0}
pre{background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px;padding:12px;overflow:auto;
  font-size:12px;max-height:70vh}
svg text{font-family:system-ui,sans-serif}svg.timeline{max-width:100%;height:auto}
form.filter{display:flex;gap:12px;align-items:end;flex-wrap:wrap;margin:0 0 12px}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);
  white-space:nowrap}
ol.fires{margin:2px 0;padding-left:20px;font-size:13px}
nav.pages{display:flex;gap:16px;margin:0 0 16px}
"""


@dataclass(frozen=True)
class Banners:
    """Daemon-wide state every page announces at its top."""

    halted: str | None = None
    dry_run: bool = False
    leader: bool = True
    stale: list[str] = field(default_factory=list)  # experiment ids running a last good version
    catalog_problems: list[str] = field(default_factory=list)


def banners(state: Banners) -> str:
    out = []
    if state.halted:
        out.append(
            f'<p class="banner halted" role="alert">Halted: {esc(state.halted)} '
            "(no chaos runs until resumed)</p>"
        )
    if state.dry_run:
        out.append(
            '<p class="banner dry">Dry-run: targets are chosen and recorded, nothing is killed.</p>'
        )
    if not state.leader:
        out.append(
            '<p class="banner follower">Follower: another replica holds the lease and runs '
            "the experiments; this one only reports.</p>"
        )
    if state.stale or state.catalog_problems:
        names = ", ".join(esc(s) for s in state.stale[:10])
        what = (
            f"invalid edits on disk for {names}; their last good versions keep running."
            if state.stale
            else "the catalog has problems."
        )
        details = "".join(f"<li>{esc(p)}</li>" for p in state.catalog_problems[:20])
        more = (
            f"<details><summary>{len(state.catalog_problems)} catalog problem(s)</summary>"
            f"<ul>{details}</ul></details>"
            if details
            else ""
        )
        out.append(f'<div class="banner stale"><p>Stale catalog: {what}</p>{more}</div>')
    return "".join(out)


def page(title: str, body: str, *, state: Banners | None = None, crumbs: str = "") -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)} · aftershock</title><style>{STYLE}</style></head><body>"
        '<header><h1><a href="/">aftershock</a></h1>'
        f"<p>{crumbs or esc(title)}</p></header><main>"
        + (banners(state) if state else "")
        + body
        + "</main></body></html>"
    )
