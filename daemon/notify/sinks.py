"""The sink types, as a registry: type name -> how one payload is sent once.

Each sender takes the payload, the URL and signing key read just now, and a timeout, and
returns the `Reply`; retries, back-off and counting are the delivery worker's, not theirs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.v1.event import CloudEvent
from slack_sdk.webhook import WebhookClient

from daemon import __version__
from daemon.notify.slack import message_for
from daemon.notify.transport import Reply, describe_error, post, retry_after

Sender = Callable[[dict[str, Any], str, bytes | None, float], Reply]
SIGNATURE_HEADER = "X-Aftershock-Signature-256"
EVENT_TYPES = {
    "aftershock.run/v1": "io.aftershock.run.finished",
    "aftershock.digest/v1": "io.aftershock.digest.daily",
}
USER_AGENT = f"aftershock/{__version__}"

# slack_sdk logs request URLs (debug) and errors with them; a Slack webhook URL is the secret
# itself. A logger outside the logging tree, above CRITICAL: no configuration can enable it.
_quiet = logging.Logger("aftershock.notify.slack_sdk", level=logging.CRITICAL + 1)  # noqa: LOG001


def signature(key: bytes, body: bytes) -> str:
    """GitHub's convention: `sha256=` and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def _delivery_id(payload: dict[str, Any]) -> str:
    return str(payload.get("run_id") or payload.get("id") or "")


def _signed_post(
    body: bytes, headers: dict[str, str], url: str, key: bytes | None, timeout: float
) -> Reply:
    headers = {"User-Agent": USER_AGENT, **headers}
    if key is not None:
        headers[SIGNATURE_HEADER] = signature(key, body)
    return post(url, body, headers, timeout)


def send_webhook(payload: dict[str, Any], url: str, key: bytes | None, timeout: float) -> Reply:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Aftershock-Event": EVENT_TYPES[payload["schema"]],
        "X-Aftershock-Delivery": _delivery_id(payload),
    }
    return _signed_post(body, headers, url, key, timeout)


def cloud_event(payload: dict[str, Any]) -> CloudEvent:
    attributes: dict[str, Any] = {
        "type": EVENT_TYPES[payload["schema"]],
        "source": "/aftershock/" + str(payload.get("experiment") or "digest"),
        "id": _delivery_id(payload),
        "subject": str(payload.get("run_id") or payload.get("id") or ""),
        "datacontenttype": "application/json",
        # When it happened: the run's end (a digest: the end of its window).
        "time": datetime.fromisoformat(payload.get("ended_at") or payload["window"]["to"]),
    }
    return CloudEvent(attributes=attributes, data=payload)


def send_cloudevent(payload: dict[str, Any], url: str, key: bytes | None, timeout: float) -> Reply:
    message = to_structured_event(cloud_event(payload))  # CloudEvents 1.0, structured mode
    return _signed_post(message.body, dict(message.headers), url, key, timeout)


def send_slack(payload: dict[str, Any], url: str, key: bytes | None, timeout: float) -> Reply:
    del key  # Slack incoming webhooks are authenticated by their URL
    message = message_for(payload)
    client = WebhookClient(
        url,
        timeout=max(1, math.ceil(timeout)),
        retry_handlers=[],  # the delivery worker owns retries and counts them
        logger=_quiet,
        user_agent_prefix=USER_AGENT,
    )
    try:
        answer = client.send(text=message.text, attachments=message.attachments)
    except Exception as exc:  # noqa: BLE001 - timeouts, resets: an answer we never got
        return Reply(0, error=describe_error(exc))
    headers = {k.lower(): v for k, v in (answer.headers or {}).items()}
    value = headers.get("retry-after")
    return Reply(
        answer.status_code,
        str(answer.body or "")[:2000],
        retry_after(value[0] if isinstance(value, list) else value),
    )


SENDERS: dict[str, Sender] = {
    "slack": send_slack,
    "webhook": send_webhook,
    "cloudevents": send_cloudevent,
}
