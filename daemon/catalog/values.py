"""Bounds for provider argument values: one check per kind of value, shared by load and run.

Each check takes a value whose type is already right (the registry checks types first) and
returns what is wrong with it, or None. The same checks run on the file at load time and on
the values `${}` templates resolve to at run time, so a value refused by `validate` is
refused when a template produces it, before any provider is called.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from daemon.durations import format_duration, parse_duration
from daemon.labels import SelectorError, from_label_selector, parse_selector

Check = Callable[[Any], str | None]

# Documented maxima (docs/reference/validation.md).
MAX_COUNT = 10_000  # pods a count may name (qty, value in fixed mode, replicas)
MAX_GRACE_SECONDS = 86_400  # a grace period of more than a day is a mistake
MAX_WAIT_SECONDS = 3_600.0  # any provider-level wait or timeout
MAX_ATTACK_SECONDS = 3_600.0  # aftershock.traffic.attack duration
MAX_REQUEST_TIMEOUT_SECONDS = 300.0
MAX_RATE = 1_000.0  # aftershock.traffic.attack requests per second
MAX_PATTERN_LENGTH = 1_000
MAX_TEXT_LENGTH = 64 * 1024
MAX_BODY_LENGTH = 1024 * 1024

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# A kind, optionally with its API group: ReplicaSet, Rollout.argoproj.io
_KIND = re.compile(r"^[A-Z][A-Za-z0-9]{0,62}(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_FIELD_TERM = re.compile(r"^\s*[A-Za-z0-9_.\-/]+\s*(==|=|!=)\s*[^,=!]*$")
_URL = re.compile(r"^https?://[^\s/]+", re.IGNORECASE)
HTTP_METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
SAFE_HTTP_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # RFC 9110 §9.2.1


def dns_label_problem(value: str) -> str | None:
    """A Kubernetes namespace (or container) name: RFC 1123 label, lower case, ≤ 63."""
    if len(value) > 63 or not _DNS_LABEL.match(value):
        return (
            "not a valid name: lower-case letters, digits and '-', starting and ending "
            "with a letter or digit, at most 63 characters"
        )
    return None


class Choice:
    """A check that accepts one of `allowed`; the registry's docs list them (`choices`)."""

    def __init__(self, *allowed: str):
        self.allowed = allowed

    def __call__(self, value: Any) -> str | None:
        if value in self.allowed:
            return None
        return f"accepted: {', '.join(self.allowed)}"


def choice(*allowed: str) -> Check:
    return Choice(*allowed)


def integer(low: int, high: int, *, also: tuple[int, ...] = ()) -> Check:
    def check(value: Any) -> str | None:
        if value in also or low <= value <= high:
            return None
        extra = " (or " + ", ".join(map(str, also)) + ")" if also else ""
        return f"must be between {low} and {high}{extra}"

    return check


def number(low: float, high: float, *, low_open: bool = False) -> Check:
    def check(value: Any) -> str | None:
        number = float(value)
        if not math.isfinite(number):
            return "not a finite number"
        if number < low or (low_open and number == low) or number > high:
            if low_open:
                return f"must be above {low:g} and at most {high:g}"
            return f"must be between {low:g} and {high:g}"
        return None

    return check


def duration(high: float, *, positive: bool = False) -> Check:
    """A duration (`90s`, `5m`, a bare number of seconds) within (0 or 0+, high] seconds."""

    def check(value: Any) -> str | None:
        try:
            seconds = parse_duration(value).total_seconds()
        except ValueError as exc:
            return str(exc).removeprefix(f"{value!r} ").removeprefix("is ")
        if positive and seconds <= 0:
            return "must be longer than zero"
        if seconds > high:
            return f"too long: at most {format_duration(timedelta(seconds=high))}"
        return None

    return check


# A quantified group that itself ends in a quantifier, e.g. `(a+)+` or `(\w*)*`: exponential
# backtracking on a non-matching pod name would stall the run (catastrophic backtracking).
NESTED_QUANTIFIER = re.compile(r"[+*}]\)[+*{]")


def regex(value: Any) -> str | None:
    if len(value) > MAX_PATTERN_LENGTH:
        return f"pattern is longer than {MAX_PATTERN_LENGTH} characters"
    try:
        with warnings.catch_warnings():  # Python's "possible nested set" hints are not ours
            warnings.simplefilter("ignore", FutureWarning)
            re.compile(value)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    if NESTED_QUANTIFIER.search(value):
        return "a nested quantifier like (a+)+ can take exponential time; rewrite it without one"
    return None


def selector(value: Any) -> str | None:
    """A label selector string, in the API server's grammar."""
    if len(value) > MAX_TEXT_LENGTH:
        return f"selector is longer than {MAX_TEXT_LENGTH} characters"
    try:
        parse_selector(value)
    except SelectorError as exc:
        return f"not a valid selector: {exc}"
    return None


def format_selector(value: Any) -> str | None:
    """chaosk8s log probes format `{name}` into the selector first."""
    return selector(str(value).replace("{name}", "x"))


def selector_or_object(value: Any) -> str | None:
    """A selector string, or a LabelSelector object {matchLabels, matchExpressions}."""
    if isinstance(value, str):
        return selector(value)
    unknown = sorted(set(value) - {"matchLabels", "matchExpressions"})
    if unknown:
        names = ", ".join(map(repr, unknown))
        return f"unknown key(s) {names}; accepted: matchLabels, matchExpressions"
    labels = value.get("matchLabels")
    if labels is not None and not isinstance(labels, Mapping):
        return f"matchLabels must be a mapping of label to value, got {labels!r}"
    if isinstance(labels, Mapping) and any(
        not isinstance(v, str) or not isinstance(k, str) for k, v in labels.items()
    ):
        return "matchLabels values must be strings"
    expressions = value.get("matchExpressions")
    if expressions is not None and (
        not isinstance(expressions, list) or not all(isinstance(e, Mapping) for e in expressions)
    ):
        return "matchExpressions must be a list of {key, operator, values} mappings"
    try:
        from_label_selector(value)
    except SelectorError as exc:
        return f"not a valid label selector: {exc}"
    return None


def field_selector(value: Any) -> str | None:
    if not value.strip():
        return None
    if len(value) > MAX_TEXT_LENGTH:
        return f"selector is longer than {MAX_TEXT_LENGTH} characters"
    for term in value.split(","):
        if not _FIELD_TERM.match(term):
            return f"not a field selector like status.phase=Running (at {term!r})"
    return None


def namespace(value: Any) -> str | None:
    return dns_label_problem(value)


def namespaces(value: Any) -> str | None:
    if not value:
        return "an empty list; leave namespaces out to mean every namespace"
    for item in value:
        if not isinstance(item, str):
            return f"{item!r} is not a namespace name"
        problem = dns_label_problem(item)
        if problem:
            return problem
    return None


def object_name(value: Any) -> str | None:
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        return "not a valid Kubernetes object name (lower case, digits, '-' and '.')"
    return None


def kinds(value: Any) -> str | None:
    for item in value:
        if not isinstance(item, str) or not _KIND.match(item):
            return (
                f"{item!r} is not a Kubernetes kind like ReplicaSet, StatefulSet or, with its "
                "API group, Rollout.argoproj.io"
            )
    return None


def url(value: Any) -> str | None:
    if len(value) > 8192 or not _URL.match(value):
        return "not an http:// or https:// URL"
    return None


def text(limit: int = MAX_TEXT_LENGTH, *, non_empty: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if non_empty and not value.strip():
            return "must not be empty"
        if len(value) > limit:
            return f"longer than {limit} characters"
        return None

    return check


def string_map(value: Any) -> str | None:
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            return f"{key!r}: {item!r}: keys and values must be strings"
    return None


def conditions(value: Any) -> str | None:
    for item in value:
        if not isinstance(item, Mapping) or not {"type", "status"} <= set(item):
            return f"{item!r} is not a condition like {{type: Ready, status: 'True'}}"
    return None


def since(value: Any) -> str | None:
    """read_pod_logs `last`: `20s`, `5m` or `5 minutes`."""
    words = re.fullmatch(r"\s*\d+\s*(second|minute|hour|day)s?(\s+ago)?\s*", str(value).lower())
    return None if words else duration(366 * 86_400.0)(value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def timeouts(value: Any) -> str | None:
    """http/process `timeout`: seconds, or http's [connect, read]."""
    parts = value if isinstance(value, list) else [value]
    if isinstance(value, list) and len(value) != 2:
        return "a timeout is seconds or [connect, read]"
    for part in parts:
        if not is_number(part):
            return f"{part!r} is not a number of seconds"
        problem = number(0, MAX_WAIT_SECONDS, low_open=True)(part)
        if problem:
            return problem
    return None


def status_codes(value: Any) -> str | None:
    for code in value if isinstance(value, list) else [value]:
        if not isinstance(code, int) or isinstance(code, bool) or not 100 <= code <= 599:
            return f"{code!r} is not an HTTP status code (100 to 599)"
    return None
