"""Slack messages built from the payloads with slack_sdk's Block Kit models (pure).

The colour bar comes from a block attachment; the blocks say the outcome, the title, the
reason in plain words, the pods killed, recovery against its SLO and a link to the run page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.attachments import BlockAttachment
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from daemon.outcomes import Outcome

STYLE: dict[str, tuple[str, str]] = {  # outcome: (colour, emoji); the emoji says it without colour
    Outcome.PASSED: ("#2eb67d", ":white_check_mark:"),
    Outcome.DEVIATED: ("#e01e5a", ":rotating_light:"),
    Outcome.NOT_STEADY: ("#ecb22e", ":warning:"),
    Outcome.REFUSED: ("#9e9e9e", ":no_entry_sign:"),
    Outcome.FAILED: ("#e01e5a", ":x:"),
    Outcome.ABORTED: ("#ecb22e", ":octagonal_sign:"),
}
MAX_LINES = 10  # pods or workloads listed before "and N more"
MAX_TEXT = 2900  # a section's text is limited to 3000 characters


@dataclass(frozen=True)
class SlackMessage:
    text: str  # the notification fallback
    attachments: list[BlockAttachment]

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "attachments": [a.to_dict() for a in self.attachments]}


def _escape(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _lines(items: list[str]) -> str:
    shown = items[:MAX_LINES]
    if len(items) > MAX_LINES:
        shown.append(f"… and {len(items) - MAX_LINES} more")
    return "\n".join(shown)[:MAX_TEXT]


def _recovery_line(item: dict[str, Any]) -> str:
    where = f"`{_escape(item['namespace'])}/{_escape(item['workload'])}`"
    seconds = item["seconds"]
    got = "not recovered" if seconds is None else f"{seconds:.1f} s"
    if item["slo_seconds"] is None:
        return f"{where}: {got}"
    mark = ":white_check_mark:" if item["met"] else ":x:"
    return f"{mark} {where}: {got}, SLO {item['slo_seconds']:g} s"


def run_message(payload: dict[str, Any]) -> SlackMessage:
    outcome = payload["outcome"]
    colour, emoji = STYLE.get(outcome, ("#9e9e9e", ":grey_question:"))
    name = payload["title"] or payload["experiment"]
    dry = " (dry run)" if payload["dry_run"] else ""
    headline = f"{payload['experiment']} {outcome.replace('_', ' ')}{dry}"
    blocks: list[Block] = [
        HeaderBlock(text=f"{headline}"[:150]),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"{emoji} *{_escape(name)}*\n{_escape(payload['reason_text'])}"[:MAX_TEXT]
            )
        ),
    ]
    pods = [
        f"`{_escape(d['namespace'])}/{_escape(d['pod'])}` ({_escape(d['method'])})"
        for d in payload["disruptions"]
    ]
    recovery = [_recovery_line(r) for r in payload["recovery"]]
    fields = []
    if pods:
        fields.append(MarkdownTextObject(text=f"*Disrupted*\n{_lines(pods)}"[:1990]))
    if recovery:
        fields.append(MarkdownTextObject(text=f"*Recovery*\n{_lines(recovery)}"[:1990]))
    if fields:
        blocks.append(SectionBlock(fields=fields))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"run `{_escape(payload['run_id'])}` · trigger {payload['trigger']} · "
                    f"ended {payload['ended_at']}"
                )
            ]
        )
    )
    if payload.get("url"):
        blocks.append(
            ActionsBlock(elements=[ButtonElement(text="Open the run", url=payload["url"])])
        )
    return SlackMessage(
        text=f"{headline}: {payload['reason_text']}"[:MAX_TEXT],
        attachments=[BlockAttachment(blocks=blocks, color=colour, fallback=headline)],
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def digest_message(payload: dict[str, Any]) -> SlackMessage:
    experiments = payload["experiments"]
    worst = any(e["runs"].get(o) for e in experiments for o in ("deviated", "failed"))
    colour = STYLE[Outcome.DEVIATED][0] if worst else STYLE[Outcome.PASSED][0]
    window = payload["window"]
    title = f"aftershock daily digest: {window['from'][:10]} to {window['to'][:10]}"
    blocks: list[Block] = [HeaderBlock(text=title[:150])]
    if not experiments:
        blocks.append(SectionBlock(text=MarkdownTextObject(text="No runs in the last 24 hours.")))
    for item in experiments:
        runs = ", ".join(f"{n} {o.replace('_', ' ')}" for o, n in sorted(item["runs"].items()))
        recovery = item["recovery"]
        slo = "" if recovery["slo_seconds"] is None else f" (SLO {recovery['slo_seconds']:g} s)"
        refusals = ", ".join(f"{r} x{n}" for r, n in sorted(item["refusals"].items()))
        lines = [
            f"*{_escape(item['experiment'])}*: {runs or 'no runs'}; "
            f"pass rate {_percent(item['pass_rate'])}",
            f"recovery p50 {_seconds(recovery['p50'])}, p95 {_seconds(recovery['p95'])}{slo}",
        ]
        if refusals:
            lines.append(f"refused: {_escape(refusals)}")
        lines.append(f"next run: {item['next_run'] or 'not scheduled'}")
        blocks.append(SectionBlock(text=MarkdownTextObject(text="\n".join(lines)[:MAX_TEXT])))
    if payload.get("omitted"):
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(text=f"{payload['omitted']} more experiment(s) not shown")
                ]
            )
        )
    return SlackMessage(
        text=title, attachments=[BlockAttachment(blocks=blocks[:50], color=colour, fallback=title)]
    )


RENDERERS = {"aftershock.run/v1": run_message, "aftershock.digest/v1": digest_message}


def message_for(payload: dict[str, Any]) -> SlackMessage:
    return RENDERERS[payload["schema"]](payload)
