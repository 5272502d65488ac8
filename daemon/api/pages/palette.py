"""Outcome colours, letters and words: colour is never the only signal (WCAG 1.4.1).

Each colour carries white text and must reach AA contrast (4.5:1) against it; the unit
tests compute the ratio with WCAG 2's formula below.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.outcomes import Outcome


@dataclass(frozen=True)
class Look:
    colour: str  # background, white text on it
    letter: str  # shown in strip cells, with the word in the legend and aria-label
    word: str


LOOKS: dict[Outcome, Look] = {
    Outcome.PASSED: Look("#1a7f37", "P", "passed"),
    Outcome.DEVIATED: Look("#cf222e", "D", "deviated"),
    Outcome.NOT_STEADY: Look("#9a3c00", "N", "not steady before"),
    Outcome.REFUSED: Look("#6639ba", "R", "refused"),
    Outcome.FAILED: Look("#82071e", "F", "failed"),
    Outcome.ABORTED: Look("#57606a", "A", "aborted"),
}
RUNNING = Look("#0550ae", "…", "running")
UNKNOWN = Look("#57606a", "?", "unknown")
# Other colours in the pages, with the background they are drawn on (checked like the above).
TEXT_PAIRS: dict[str, tuple[str, str]] = {
    "body text": ("#1f2328", "#ffffff"),
    "muted text": ("#59636e", "#ffffff"),
    "link": ("#0550ae", "#ffffff"),
    "problem text": ("#a40e26", "#ffffff"),
    "header": ("#ffffff", "#24292f"),
    "halted banner": ("#82071e", "#ffebe9"),
    "dry-run banner": ("#3b2300", "#fff8c5"),
    "follower banner": ("#0a3069", "#ddf4ff"),
    "stale banner": ("#3b2300", "#fff1e5"),
    "override note": ("#0a3069", "#ddf4ff"),
}
MET, NOT_MET = "#1a7f37", "#cf222e"  # hypothesis checks on the timeline (with ✓/✗ text)
ACTIVITY, ROLLBACK, SLO = "#0550ae", "#6639ba", "#9a3c00"


def look(outcome: str | None, *, running: bool = False) -> Look:
    if running:
        return RUNNING
    try:
        return LOOKS[Outcome(outcome or "")]
    except ValueError:
        return UNKNOWN


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of `#rrggbb`."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)
