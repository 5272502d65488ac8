"""Kubernetes label selectors: the string grammar and LabelSelector objects, parsed and matched.

Shared by the simulated API server (which must answer exactly as a real one) and by
aftershock's own target selection (which must select exactly what the API would). The
grammar and the error texts follow k8s.io/apimachinery/pkg/labels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Operator = Literal["=", "!=", "in", "notin", "exists", "!", "gt", "lt"]

_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_DNS_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_KEY_NAME = re.compile(rf"^{_NAME}$")
_PREFIX = re.compile(rf"^{_DNS_SUBDOMAIN}$")
_VALUE = re.compile(rf"^({_NAME})?$")
_TOKEN = re.compile(r"\s*(!=|==|=|\(|\)|,|!|>|<|[^\s!=(),<>]+)")


class SelectorError(ValueError):
    """The selector string is invalid; the message reads like the API server's."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: Operator
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        if self.operator == "=":
            return present and labels[self.key] == self.values[0]
        if self.operator == "in":
            return present and labels[self.key] in self.values
        if self.operator == "!=":
            return not present or labels[self.key] != self.values[0]
        if self.operator == "notin":
            return not present or labels[self.key] not in self.values
        if not present:
            return False
        try:
            value = int(labels[self.key])
        except ValueError:
            return False
        bound = int(self.values[0])
        return value > bound if self.operator == "gt" else value < bound

    def __str__(self) -> str:
        if self.operator == "exists":
            return self.key
        if self.operator == "!":
            return f"!{self.key}"
        if self.operator in ("in", "notin"):
            return f"{self.key} {self.operator} ({','.join(self.values)})"
        symbol = {"=": "=", "!=": "!=", "gt": ">", "lt": "<"}[self.operator]
        return f"{self.key}{symbol}{self.values[0]}"


@dataclass(frozen=True)
class Selector:
    """All requirements must hold; the empty selector matches everything."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False  # a LabelSelector that selects nothing (never the case for strings)

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements and not self.nothing

    def equality_pairs(self) -> dict[str, str]:
        """key=value requirements, which an index can answer directly."""
        return {
            r.key: r.values[0]
            for r in self.requirements
            if r.operator == "=" or (r.operator == "in" and len(r.values) == 1)
        }

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def validate_key(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and not prefix:
        raise SelectorError(f'invalid label key "{key}": prefix part must be non-empty')
    if prefix and (len(prefix) > 253 or not _PREFIX.match(prefix)):
        raise SelectorError(
            f'invalid label key "{key}": prefix part a lowercase RFC 1123 subdomain must consist '
            "of lower case alphanumeric characters, '-' or '.', and must start and end with an "
            "alphanumeric character"
        )
    if not name or len(name) > 63 or not _KEY_NAME.match(name):
        raise SelectorError(
            f'invalid label key "{key}": name part must consist of alphanumeric characters, '
            "'-', '_' or '.', and must start and end with an alphanumeric character "
            "(63 characters at most)"
        )


def validate_value(value: str) -> None:
    if len(value) > 63 or not _VALUE.match(value):
        raise SelectorError(
            f'invalid label value: "{value}": a valid label must be an empty string or consist '
            "of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (63 characters at most)"
        )


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    position = 0
    stripped = text.rstrip()
    while position < len(stripped):
        match = _TOKEN.match(stripped, position)
        if not match:
            raise SelectorError(f"unable to parse requirement: unexpected character at {position}")
        out.append(match.group(1))
        position = match.end()
    return out


def parse_selector(text: str | None) -> Selector:  # noqa: PLR0912, PLR0915 - one recursive-descent loop, like apimachinery's
    """Parse the `labelSelector` query-string grammar."""
    if text is None or not text.strip():
        return Selector()
    tokens = _tokens(text)
    requirements: list[Requirement] = []
    index = 0

    def take() -> str | None:
        nonlocal index
        if index < len(tokens):
            index += 1
            return tokens[index - 1]
        return None

    def peek() -> str | None:
        return tokens[index] if index < len(tokens) else None

    while True:
        token = take()
        if token is None:
            raise SelectorError("unable to parse requirement: found '', expected: identifier")
        if token == "!":
            key = take()
            if key is None or key in "(),=!<>":
                raise SelectorError(
                    f"unable to parse requirement: found '{key or ''}', expected: identifier after '!'"
                )
            validate_key(key)
            requirements.append(Requirement(key, "!"))
        else:
            if token in "(),=!<>" or token in ("==", "!="):
                raise SelectorError(
                    f"unable to parse requirement: found '{token}', expected: identifier"
                )
            key = token
            validate_key(key)
            following = peek()
            if following is None or following == ",":
                requirements.append(Requirement(key, "exists"))
            elif following in ("=", "==", "!="):
                take()
                value = peek()
                if value is None or value == ",":
                    value = ""
                else:
                    take()
                if value in "()!<>" and value:
                    raise SelectorError(
                        f"unable to parse requirement: found '{value}', expected: identifier"
                    )
                validate_value(value)
                requirements.append(Requirement(key, "!=" if following == "!=" else "=", (value,)))
            elif following in (">", "<"):
                take()
                value = take()
                if value is None or not re.fullmatch(r"-?\d+", value):
                    raise SelectorError(
                        f"unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer, found '{value or ''}'"
                    )
                requirements.append(Requirement(key, "gt" if following == ">" else "lt", (value,)))
            elif following in ("in", "notin"):
                take()
                if take() != "(":
                    raise SelectorError("unable to parse requirement: found '', expected: '('")
                values: list[str] = []
                while True:
                    item = take()
                    if item is None:
                        raise SelectorError("unable to parse requirement: found '', expected: ')'")
                    if item == ")":
                        break
                    if item == ",":
                        if not values or peek() in (",", ")"):
                            values.append("")
                        continue
                    validate_value(item)
                    values.append(item)
                if not values:
                    raise SelectorError(
                        "unable to parse requirement: for 'in', 'notin' operators, values set can't be empty"
                    )
                requirements.append(Requirement(key, following, tuple(sorted(set(values)))))  # type: ignore[arg-type]
            else:
                raise SelectorError(
                    f"unable to parse requirement: found '{following}', expected: "
                    "'in', 'notin', '=', '==', '!=', 'gt', 'lt'"
                )
        separator = take()
        if separator is None:
            break
        if separator != ",":
            raise SelectorError(f"unable to parse requirement: found '{separator}', expected: ','")
    return Selector(tuple(requirements))


def from_label_selector(obj: Mapping[str, Any] | None) -> Selector:
    """A `metav1.LabelSelector` (matchLabels + matchExpressions).

    A null selector selects nothing; an empty one ({}) selects everything, as in the API.
    """
    if obj is None:
        return Selector(nothing=True)
    requirements: list[Requirement] = []
    for key, value in sorted((obj.get("matchLabels") or {}).items()):
        validate_key(key)
        validate_value(str(value))
        requirements.append(Requirement(key, "=", (str(value),)))
    operators: dict[str, Operator] = {
        "In": "in",
        "NotIn": "notin",
        "Exists": "exists",
        "DoesNotExist": "!",
    }
    for expression in obj.get("matchExpressions") or []:
        key = expression.get("key", "")
        operator = expression.get("operator")
        if operator not in operators:
            raise SelectorError(f'"{operator}" is not a valid label selector operator')
        validate_key(key)
        values = tuple(sorted(str(v) for v in expression.get("values") or []))
        if operator in ("In", "NotIn") and not values:
            raise SelectorError(
                f"for 'in', 'notin' operators, values set can't be empty (key {key})"
            )
        if operator in ("Exists", "DoesNotExist") and values:
            raise SelectorError(
                f"values set must be empty for exists and does not exist (key {key})"
            )
        requirements.append(Requirement(key, operators[operator], values))
    return Selector(tuple(requirements))


def to_string(obj: Mapping[str, Any] | None) -> str:
    """The query-string form of a LabelSelector object (what `status.selector` carries)."""
    return str(from_label_selector(obj))
