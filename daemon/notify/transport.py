"""One POST with a timeout, its answer reduced to what delivery decides on.

No redirects are followed (a redirected POST would lose its body or leak it elsewhere), and
errors never carry the URL: it may be the secret itself (a Slack webhook URL).
"""

from __future__ import annotations

import email.utils
import http.client
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

MAX_BODY = 2000


@dataclass(frozen=True)
class Reply:
    status: int  # 0: no answer (timeout, refused, closed)
    body: str = ""
    retry_after: float | None = None  # seconds, from a Retry-After header
    error: str | None = None  # why there was no answer

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        return self.status in {0, 429} or self.status >= 500

    def describe(self) -> str:
        return self.error or f"HTTP {self.status} {self.body[:200]}".strip()


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def describe_error(exc: BaseException) -> str:
    """The kind of failure without the URL (urllib and ValueError messages may contain it)."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return "no answer: timed out"
    if isinstance(reason, OSError) and reason.strerror:
        return f"no answer: {reason.strerror}"
    if isinstance(reason, ValueError):
        return "invalid URL"
    return f"no answer: {type(reason).__name__}"


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - the operator's configured sink
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            text = answer.read(MAX_BODY).decode("utf-8", errors="replace")
            return Reply(answer.status, text, retry_after(answer.headers.get("Retry-After")))
    except urllib.error.HTTPError as exc:
        text = exc.read(MAX_BODY).decode("utf-8", errors="replace") if exc.fp else ""
        return Reply(exc.code, text, retry_after(exc.headers.get("Retry-After")))
    except (OSError, ValueError, http.client.HTTPException) as exc:  # timeouts, resets, bad URL
        return Reply(0, error=describe_error(exc))
