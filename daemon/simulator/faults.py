"""Fault injection for the simulated API: errors, latency, dropped watches, outages."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from typing import Any

from daemon.simulator.cluster_file import FaultRule, Faults
from daemon.simulator.errors import ApiError


class DropConnection(Exception):  # noqa: N818 - it is a control-flow signal, not an error
    """Close the client's connection without an answer, as during an outage."""


class FaultState:
    def __init__(self, faults: Faults, seed: int | None = None):
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.faults = faults
        self.outage_until = 0.0
        self.watch_generation = 0  # bumped to cut every open watch stream

    def replace(self, faults: Faults) -> None:
        with self._lock:
            self.faults = faults

    def outage(self, seconds: float) -> None:
        with self._lock:
            self.outage_until = time.monotonic() + seconds
            self.watch_generation += 1

    def drop_watches(self) -> None:
        with self._lock:
            self.watch_generation += 1

    def in_outage(self) -> bool:
        return time.monotonic() < self.outage_until

    def verdict(
        self, verb: str, resource: str, namespace: str, body: Any = None
    ) -> tuple[float, ApiError | None]:
        """(latency seconds, error to return or None) for one request; raises DropConnection."""
        if self.in_outage():
            raise DropConnection
        latency = 0.0
        with self._lock:
            rules = list(self.faults.rules)
            roll = self._rng.random()
        for rule in rules:
            if not _applies(rule, verb, resource, namespace):
                continue
            if rule.body_contains is not None and rule.body_contains not in json.dumps(body):
                continue
            latency = max(latency, rule.latency.total_seconds())
            if rule.error_rate and roll < rule.error_rate:
                return latency, _error(rule)
        return latency, None

    def describe(self) -> dict[str, Any]:
        data = self.faults.model_dump(mode="json")
        data["outage_remaining_seconds"] = max(0.0, round(self.outage_until - time.monotonic(), 3))
        return data


def _applies(rule: FaultRule, verb: str, resource: str, namespace: str) -> bool:
    if rule.verb not in ("*", verb):
        return False
    if rule.resource not in ("*", resource) and rule.resource != resource.split("/", maxsplit=1)[0]:
        return False
    return rule.namespace is None or rule.namespace == namespace


def _error(rule: FaultRule) -> ApiError:
    if rule.code == 429:
        return ApiError(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
            {"retryAfterSeconds": rule.retry_after},
            headers={"Retry-After": str(rule.retry_after)},
        )
    if rule.code == 503:
        return ApiError(
            503,
            "ServiceUnavailable",
            "the server is currently unable to handle the request",
            headers={"Retry-After": str(rule.retry_after)},
        )
    if rule.code == 504:
        return ApiError(
            504, "Timeout", "the server was unable to return a response in the time allotted"
        )
    return ApiError(500, "InternalError", "Internal error occurred: injected fault")


class Stats:
    """Requests and bytes served, per verb/resource/code, for benchmarks and tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.bytes_out = 0
        self.server_seconds: dict[str, list[float]] = {}

    def record(self, verb: str, resource: str, code: int, size: int, seconds: float) -> None:
        with self._lock:
            self.requests[(verb, resource, code)] += 1
            self.bytes_out += size
            samples = self.server_seconds.setdefault(f"{verb} {resource}", [])
            if len(samples) < 100_000:
                samples.append(seconds)

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self.requests.values()),
                "bytes_out": self.bytes_out,
                "requests": [
                    {"verb": v, "resource": r, "code": c, "count": n}
                    for (v, r, c), n in sorted(self.requests.items())
                ],
                "server_seconds": {
                    k: {"count": len(s), "median": sorted(s)[len(s) // 2], "max": max(s)}
                    for k, s in self.server_seconds.items()
                    if s
                },
            }

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.bytes_out = 0
            self.server_seconds.clear()
