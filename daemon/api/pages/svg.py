"""Inline SVG drawings: the run timeline and the recovery sparkline.

Each drawing has a text alternative (<title>/<desc>, role=img) and every mark carries a shape
or a word besides its colour, so it reads in greyscale and to a screen reader.
"""

from __future__ import annotations

from daemon.api.pages import palette
from daemon.api.pages.fmt import esc, seconds
from daemon.api.pages.timeline import Row, Timeline

LABEL_W, PLOT_W, ROW_H, TOP = 330, 560, 20, 30
WIDTH = LABEL_W + PLOT_W + 90

_SHAPES = {  # instants: a shape per kind, drawn at x
    "disruption": "M{x},{y0} l-6,-9 h12 z",  # ▼
    "replacement": "M{x},{y1} m-5,0 a5,5 0 1,0 10,0 a5,5 0 1,0 -10,0",  # ●
    "ready": "M{x},{y1} m-5,-5 h10 v10 h-10 z",  # ■
    "slo": "M{x},{y1} m0,-6 l6,6 l-6,6 l-6,-6 z",  # ◆
}
_WORDS = {True: "met", False: "not met", None: ""}


def _status(row: Row) -> str:
    if row.kind == "probe":
        return "✓ met" if row.ok else "✗ not met"
    if row.kind in ("action", "rollback"):
        return "✓ ok" if row.ok else "✗ failed"
    if row.kind == "ready" and row.ok is not None:
        return "within SLO" if row.ok else "over SLO"
    if row.kind == "disruption" and not row.ok:
        return "uncertain"
    return ""


def _colour(row: Row) -> str:
    if row.kind == "probe":
        return palette.MET if row.ok else palette.NOT_MET
    if row.kind == "rollback":
        return palette.ROLLBACK
    if row.kind == "action":
        return palette.ACTIVITY if row.ok else palette.NOT_MET
    if row.kind == "slo":
        return palette.SLO
    if row.kind == "ready" and row.ok is False:
        return palette.NOT_MET
    return "#1f2328"


def _ticks(span: float) -> list[float]:
    for step in (0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if span / step <= 8:
            return [i * step for i in range(int(span / step) + 1)]
    return [0.0, span]


def timeline(line: Timeline, *, title: str) -> str:
    """One row per activity or event, in time order; bars scaled to the run's span."""
    if not line.rows:
        return '<p class="muted">No timeline: the journal records no activity.</p>'
    # An SLO far beyond the run would squash it: the axis ends with the run, the SLO mark
    # sits at the right edge with an arrow and its time in words.
    rest = max([0.0, *(r.end for r in line.rows if r.kind != "slo")])
    span = max(line.span if line.span <= 1.5 * rest or rest == 0 else rest * 1.05, 0.001)

    def x(t: float) -> float:
        return LABEL_W + PLOT_W * min(max(t, 0.0), span) / span

    height = TOP + ROW_H * len(line.rows) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" '
        f'aria-labelledby="tl-title tl-desc" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}">'
        f'<title id="tl-title">{esc(title)}</title>'
        f'<desc id="tl-desc">{len(line.rows)} events over {esc(seconds(span))}; '
        "the tables below give the same facts.</desc>"
    ]
    # How long users may have been hurt: from the disruption to the workload ready again.
    for row in line.rows:
        if row.kind == "ready" and row.since is not None and row.start > row.since:
            left, right = x(row.since), x(row.start)
            parts.append(
                f'<rect x="{left:.1f}" y="{TOP - 4}" width="{right - left:.1f}" '
                f'height="{height - TOP - 2}" fill="#fff1e5"><title>'
                f"{esc(row.label.replace('ready again: ', ''))} not fully ready for "
                f"{esc(seconds(row.start - row.since))}</title></rect>"
            )
    for tick in _ticks(span):
        tx = x(tick)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{TOP - 6}" x2="{tx:.1f}" y2="{height - 6}" stroke="#d0d7de"/>'
            f'<text x="{tx:.1f}" y="{TOP - 10}" font-size="11" text-anchor="middle" '
            f'fill="#59636e">{tick:g} s</text>'
        )
    for i, row in enumerate(line.rows):
        y0 = TOP + i * ROW_H
        y1 = y0 + ROW_H / 2
        colour = _colour(row)
        status = _status(row)
        phase = f"{row.phase}: " if row.phase and row.kind in ("probe", "action") else ""
        label = f"{phase}{row.label}"
        tip = f"{label} at {seconds(row.start)}" + (
            f", took {seconds(row.end - row.start)}" if not row.instant else ""
        )
        tip += f" ({status})" if status else ""
        tip += f": {row.detail}" if row.detail and not row.instant else ""
        tip += f", {row.detail}" if row.detail and row.instant else ""
        parts.append(
            f'<g class="row" data-kind="{row.kind}" data-start="{row.start:.6f}">'
            f"<title>{esc(tip)}</title>"
            f'<text x="4" y="{y1 + 4:.1f}" font-size="12" fill="#1f2328">'
            f"{esc(label if len(label) <= 44 else label[:43] + '…')}</text>"
        )
        if row.instant:
            shape = _SHAPES[row.kind].format(x=f"{x(row.start):.1f}", y0=y0 + 14, y1=y1)
            parts.append(f'<path d="{shape}" fill="{colour}"/>')
            if row.kind in ("disruption", "slo"):
                parts.append(
                    f'<line x1="{x(row.start):.1f}" y1="{TOP}" x2="{x(row.start):.1f}" '
                    f'y2="{height - 6}" stroke="{colour}" stroke-dasharray="4 3"/>'
                )
            words = f"at {seconds(row.start)}" + (" (off the chart →)" if row.start > span else "")
            words += f", {row.detail}" if row.detail else ""
            words += f" {status}" if status else ""
        else:
            width = max(x(row.end) - x(row.start), 2.0)
            dash = "" if row.ok else ' stroke="#1f2328" stroke-dasharray="3 2"'
            parts.append(
                f'<rect x="{x(row.start):.1f}" y="{y0 + 3}" width="{width:.1f}" '
                f'height="{ROW_H - 6}" fill="{colour}"{dash}/>'
            )
            words = f"{seconds(row.end - row.start)} {status}".strip()
        # Words right of the mark, else left of it, else inside the bar: always in view.
        needed = 6.2 * len(words) + 8
        fill = "#1f2328"
        if x(row.end) + needed <= WIDTH:
            anchor = f'x="{x(row.end) + 8:.1f}"'
        elif x(row.start) - needed >= LABEL_W:
            anchor = f'x="{x(row.start) - 8:.1f}" text-anchor="end"'
        else:
            anchor, fill = f'x="{x(row.end) - 4:.1f}" text-anchor="end"', "#ffffff"
        parts.append(
            f'<text {anchor} y="{y1 + 4:.1f}" font-size="11" fill="{fill}">{esc(words)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def sparkline(
    values: list[float | None],
    *,
    slo: float | None,
    label: str,
    width: int = 160,
    height: int = 36,
    axis: bool = False,
) -> str:
    """Recovery seconds, oldest to newest, one dot per run, the SLO as a dashed line;
    runs over the SLO get a cross. `axis` adds the scale (for the experiment page)."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if not points:
        return '<span class="muted">no recovery measured</span>'
    left = 52 if axis else 3
    pad = 4
    highest = max(v for _, v in points)
    # An SLO far above every run would flatten them: it then sits on the top edge, and says so.
    above = slo is not None and slo > 3 * highest > 0
    top = (highest if above or slo is None else max(highest, slo)) * 1.1 or 1.0
    slo_y = pad if above else None
    step = (width - left - pad) / max(len(values) - 1, 1)

    def x(i: int) -> float:
        return left + i * step

    ceiling = pad + (18 if above and axis else 4 if above else 0)  # room for the SLO above

    def y(v: float) -> float:
        return height - pad - (height - pad - ceiling) * v / top

    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" class="spark" role="img" '
        f'aria-label="{esc(label)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><title>{esc(label)}</title>'
    ]
    if axis:
        parts.extend(
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#59636e">{esc(seconds(value))}</text>'
            f'<line x1="{left}" x2="{width}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#d0d7de"/>'
            for value in (0.0, highest)
            if value == 0.0 or y(0.0) - y(value) > 14
        )
    if slo is not None:
        at = slo_y if slo_y is not None else y(slo)
        where = " (above the scale)" if above else ""
        parts.append(
            f'<line x1="{left}" x2="{width}" y1="{at:.1f}" y2="{at:.1f}" '
            f'stroke="{palette.SLO}" stroke-dasharray="4 3"><title>SLO {esc(seconds(slo))}'
            f"{where}</title></line>"
        )
        if axis:
            parts.append(
                f'<text x="{left - 6}" y="{at + 4:.1f}" font-size="11" text-anchor="end" '
                f'fill="{palette.SLO}">SLO{" ↑" if above else ""}</text>'
                f'<text x="{width - 4}" y="{at + 12:.1f}" font-size="11" text-anchor="end" '
                f'fill="{palette.SLO}">SLO {esc(seconds(slo))}{where}</text>'
            )
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in points)
    parts.append(
        f'<polyline points="{line}" fill="none" stroke="{palette.ACTIVITY}" stroke-width="1.5"/>'
    )
    radius = 2.5 if axis else 1.8
    for i, v in points:
        if slo is not None and v > slo:
            parts.append(
                f'<path d="M{x(i):.1f},{y(v):.1f} m-3,-3 l6,6 m0,-6 l-6,6" '
                f'stroke="{palette.NOT_MET}" stroke-width="2"/>'
            )
        else:
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{radius}" fill="{palette.ACTIVITY}"/>'
            )
    parts.append("</svg>")
    return "".join(parts)
