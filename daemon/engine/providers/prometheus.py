"""chaosprometheus.probes query/query_interval, and PromQL evaluation for stop conditions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from daemon.engine.context import RunContext
from daemon.engine.errors import ActivityFailed

DEFAULT_URL = "http://localhost:9090"  # chaosprometheus's default


def base_url(ctx: RunContext) -> str:
    return str(
        ctx.configuration.get("prometheus_base_url") or ctx.settings.prometheus.url or DEFAULT_URL
    ).rstrip("/")


def _when(text: str | None, now: datetime) -> str | None:
    """'now', 'N unit(s) ago', or an RFC 3339 time (chaosprometheus uses dateparser)."""
    if not text:
        return None
    value = text.strip().lower()
    if value == "now":
        return now.isoformat()
    match = re.fullmatch(r"(\d+)\s*(second|minute|hour|day)s?\s+ago", value)
    if match:
        seconds = (
            int(match.group(1))
            * {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[match.group(2)]
        )
        return (now - timedelta(seconds=seconds)).isoformat()
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        raise ActivityFailed(f"failed to parse '{text}'") from None


def _get(url: str, params: dict[str, Any], timeout: float, verify_tls: bool) -> dict[str, Any]:
    try:
        response = requests.get(
            url,
            params=params,
            headers={"Accept": "application/json"},
            timeout=timeout,
            verify=verify_tls,
        )
    except requests.exceptions.RequestException as exc:
        raise ActivityFailed(f"Prometheus at {url} unreachable: {exc}") from None
    if response.status_code != 200:
        raise ActivityFailed(f"Prometheus query {params} failed: {response.text[:500]}")
    try:
        data: dict[str, Any] = response.json()
    except ValueError:
        raise ActivityFailed(f"Prometheus answered non-JSON: {response.text[:200]}") from None
    return data


def query(
    ctx: RunContext,
    query: str,
    when: str | None = None,
    timeout: float | None = None,
    verify_tls: bool = True,
) -> dict[str, Any]:
    params: dict[str, Any] = {"query": query}
    if timeout is not None:
        params["timeout"] = timeout
    stamp = _when(when, datetime.now(UTC))
    if stamp:
        params["time"] = stamp
    return _get(
        f"{base_url(ctx)}/api/v1/query",
        params,
        ctx.settings.prometheus.timeout.total_seconds(),
        verify_tls,
    )


def query_interval(
    ctx: RunContext,
    query: str,
    start: str,
    end: str,
    step: float = 1,
    timeout: float | None = None,
    verify_tls: bool = True,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    params: dict[str, Any] = {
        "query": query,
        "start": _when(start, now),
        "end": _when(end, now),
        "step": step,
    }
    if timeout is not None:
        params["timeout"] = timeout
    return _get(
        f"{base_url(ctx)}/api/v1/query_range",
        params,
        ctx.settings.prometheus.timeout.total_seconds(),
        verify_tls,
    )


def condition_true(url: str, expression: str, timeout: float) -> tuple[bool, str]:
    """A stop condition holds when its instant query returns any sample (PromQL filtering)."""
    data = _get(f"{url.rstrip('/')}/api/v1/query", {"query": expression}, timeout, True)
    result = (data.get("data") or {}).get("result")
    if data.get("status") != "success":
        raise ActivityFailed(f"Prometheus query failed: {data.get('error', data)}")
    if isinstance(result, list):
        return bool(result), f"{len(result)} sample(s)"
    if isinstance(result, list | tuple) or result is None:
        return False, "no result"
    return bool(result), str(result)
