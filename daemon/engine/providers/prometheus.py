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


def _get(url: str, params: dict[str, Any], timeout: float, verify_tls: bool) -> Any:
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
        data = response.json()
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than json parses
        raise ActivityFailed(f"Prometheus answered non-JSON: {response.text[:200]}") from None
    return data


def query(
    ctx: RunContext,
    query: str,
    when: str | None = None,
    timeout: float | None = None,
    verify_tls: bool = True,
) -> Any:  # the answer as Prometheus gave it, as chaosprometheus returns it
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
) -> Any:  # the answer as Prometheus gave it, as chaosprometheus returns it
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
    """A stop condition holds when its instant query returns any sample (PromQL filtering).

    Raises ActivityFailed (the condition is "unavailable", so the run fails closed) for
    any answer that is not a well-formed instant-query result.
    """
    answer = _get(f"{url.rstrip('/')}/api/v1/query", {"query": expression}, timeout, True)
    return instant_verdict(answer)


class _MalformedError(Exception):
    """The answer does not have the shape of an instant-query result."""


def instant_verdict(answer: Any) -> tuple[bool, str]:
    """(holds, detail) from a Prometheus instant-query answer, read strictly.

    Only two shapes are understood: a vector (a list of samples, each `{"metric": {...},
    "value": [time, "number"]}`), which holds when it has a sample, and a scalar
    (`[time, "number"]`), one sample, so it holds. Anything else (no `data`, a null result,
    a matrix, a string, a sample without a value, a native histogram, ...) is not a
    negative answer: it raises ActivityFailed, so a stop condition is never assumed false.
    """
    if not isinstance(answer, dict):
        raise ActivityFailed(f"Prometheus answer is not a JSON object: {_excerpt(answer)}")
    if answer.get("status") != "success":
        raise ActivityFailed(f"Prometheus query failed: {_excerpt(answer.get('error', answer))}")
    try:
        return _verdict(answer.get("data"))
    except _MalformedError as exc:
        raise ActivityFailed(
            f"Prometheus answered a malformed instant-query result ({exc}): {_excerpt(answer)}"
        ) from None


def _verdict(data: Any) -> tuple[bool, str]:
    if not isinstance(data, dict):
        raise _MalformedError("no 'data' object")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return True, f"scalar {_sample(result)}"
    if kind != "vector":
        raise _MalformedError(f"resultType {_excerpt(kind)}, not 'vector' or 'scalar'")
    if not isinstance(result, list):
        raise _MalformedError("the vector's 'result' is not a list")
    for sample in result:
        if not isinstance(sample, dict) or not isinstance(sample.get("metric"), dict):
            raise _MalformedError("a vector sample without a 'metric' object")
        _sample(sample.get("value"))
    return bool(result), f"{len(result)} sample(s)"


def _sample(pair: Any) -> float:
    """The value of `[time, "number"]`, as Prometheus encodes one sample."""
    if (
        not isinstance(pair, list)
        or len(pair) != 2
        or isinstance(pair[0], bool)
        or not isinstance(pair[0], int | float)
        or not isinstance(pair[1], str)
    ):
        raise _MalformedError('a sample is not [time, "value"]')
    try:
        return float(pair[1])
    except ValueError:
        raise _MalformedError(f"sample value {_excerpt(pair[1])} is not a number") from None


def _excerpt(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
