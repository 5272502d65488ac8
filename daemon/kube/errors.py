"""Our exceptions for Kubernetes API outcomes; nothing outside daemon/kube sees ApiException."""

from __future__ import annotations

import json
from typing import Any


class KubeError(Exception):
    """Any failed API call. `status` is the HTTP code (0 when no answer arrived)."""

    status = 0

    def __init__(
        self, message: str, *, status: int = 0, reason: str = "", body: dict[str, Any] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.status = status or self.status
        self.reason = reason
        self.body = body or {}


class NotFound(KubeError):
    status = 404


class Conflict(KubeError):
    status = 409


class Forbidden(KubeError):
    status = 403


class Unauthorized(KubeError):
    status = 401


class Invalid(KubeError):
    status = 422


class Gone(KubeError):
    """410: the resourceVersion is too old; re-list and watch again."""

    status = 410


class TooManyRequests(KubeError):
    """429: throttled, or (for eviction) a PodDisruptionBudget said no."""

    status = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    @property
    def disruption_budget(self) -> bool:
        causes = (self.body.get("details") or {}).get("causes") or []
        return any(c.get("reason") == "DisruptionBudget" for c in causes)


class Unavailable(KubeError):
    """5xx, connection refused/reset, timeouts: the API server did not serve the request."""


_BY_STATUS: dict[int, type[KubeError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}


def from_status(status: int, body: Any, headers: Any = None, what: str = "") -> KubeError:
    """Build the right exception from an HTTP status and a (JSON) Status body."""
    parsed: dict[str, Any] = {}
    if isinstance(body, bytes | str):
        try:
            candidate = json.loads(body)
            parsed = candidate if isinstance(candidate, dict) else {}
        except (ValueError, TypeError):
            parsed = {}
    elif isinstance(body, dict):
        parsed = body
    message = parsed.get("message") or (
        body.decode(errors="replace") if isinstance(body, bytes) else str(body or "")
    )
    message = message.strip()
    # The status code belongs in what an operator reads: "injected fault" alone hides a 500.
    message = f"{message} (HTTP {status})" if message and status else message or f"HTTP {status}"
    if what:
        message = f"{what}: {message}"
    kind = _BY_STATUS.get(status)
    if kind is TooManyRequests:
        retry = None
        if headers is not None and headers.get("Retry-After"):
            try:
                retry = float(headers.get("Retry-After"))
            except ValueError:
                retry = None
        return TooManyRequests(
            message, retry_after=retry, status=status, reason=parsed.get("reason", ""), body=parsed
        )
    if kind is not None:
        return kind(message, status=status, reason=parsed.get("reason", ""), body=parsed)
    if status >= 500 or status == 0:
        return Unavailable(message, status=status, reason=parsed.get("reason", ""), body=parsed)
    return KubeError(message, status=status, reason=parsed.get("reason", ""), body=parsed)
