"""The `http` provider, as chaoslib runs it: {status, headers, body}."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from daemon.engine.errors import ActivityFailed

if TYPE_CHECKING:
    from daemon.engine.context import RunContext


def run_http(provider: dict[str, Any], timeout: float) -> dict[str, Any]:
    url = provider["url"]
    method = str(provider.get("method", "GET")).upper()
    headers = provider.get("headers")
    arguments = provider.get("arguments") or {}
    raw_timeout = provider.get("timeout")
    if isinstance(raw_timeout, list | tuple):
        request_timeout: Any = tuple(raw_timeout)
    else:
        request_timeout = raw_timeout if raw_timeout is not None else timeout
    try:
        if method == "GET":
            response = requests.get(
                url,
                params=arguments,
                headers=headers,
                timeout=request_timeout,
                verify=provider.get("verify_tls", True),
            )
        else:
            response = requests.request(
                method,
                url,
                data=arguments,
                headers=headers,
                timeout=request_timeout,
                verify=provider.get("verify_tls", True),
            )
    except requests.exceptions.Timeout:
        raise ActivityFailed("activity took too long to complete") from None
    except requests.exceptions.ConnectionError as exc:
        raise ActivityFailed(f"failed to connect to {url}: {exc}") from None
    except requests.exceptions.RequestException as exc:
        raise ActivityFailed(f"HTTP call to {url} failed: {exc}") from None
    body: Any
    if response.headers.get("Content-Type") == "application/json":
        try:
            body = response.json()
        except ValueError:
            body = response.text
    else:
        body = response.text
    expected = provider.get("expected_status")
    if expected is not None:
        allowed = expected if isinstance(expected, list) else [expected]
        if response.status_code not in allowed:
            raise ActivityFailed(
                f"HTTP call failed with code {response.status_code} (expected {expected})"
            )
    return {"status": response.status_code, "headers": dict(response.headers), "body": body}


def http_provider(
    ctx: RunContext,  # noqa: ARG001 - the calling convention
    provider: dict[str, Any],
    timeout: float,
) -> dict[str, Any]:
    """The registry's calling convention for a non-Python provider (provider_spec)."""
    return run_http(provider, timeout)
