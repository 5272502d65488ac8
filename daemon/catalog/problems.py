"""Problems found in catalog files, located by file, value path, line and column."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from daemon.documents import Document, DocumentError, PathKey, describe_path, walk_data_path


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    severity: Severity
    message: str
    path: PathKey = ()
    line: int | None = None
    column: int | None = None
    code: str = ""  # set on problems the daemon also lists among catalog problems

    @property
    def location(self) -> str:
        return describe_path(self.path) if self.path else ""

    def render(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}" + (f", column {self.column}" if self.column else ""))
        if self.path:
            where.append(self.location)
        prefix = ": ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": str(self.severity),
            "message": self.message,
            "location": self.location or None,
            "line": self.line,
            "column": self.column,
        }


def error(message: str, path: PathKey = (), doc: Document | None = None) -> Problem:
    return _located(Severity.ERROR, message, path, doc)


def warning(
    message: str, path: PathKey = (), doc: Document | None = None, code: str = ""
) -> Problem:
    return _located(Severity.WARNING, message, path, doc, code)


# Warnings about safety that the daemon shows among catalog problems, not only in `validate`.
SAFETY_CODES = frozenset({"looser_than_global", "extension_name"})


def _located(
    severity: Severity, message: str, path: PathKey, doc: Document | None, code: str = ""
) -> Problem:
    position = doc.locate(path) if doc is not None else None
    line, column = position or (None, None)
    return Problem(severity, message, path, line, column, code)


def from_document_error(exc: DocumentError) -> Problem:
    return Problem(Severity.ERROR, exc.message, (), exc.line, exc.column)


def suggest(word: str, vocabulary: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(vocabulary), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def from_validation(
    exc: ValidationError,
    data: Any,
    doc: Document | None,
    prefix: PathKey = (),
    vocabulary: Iterable[str] = (),
) -> list[Problem]:
    """One problem per pydantic error, with pydantic's internal location parts removed."""
    vocab = frozenset(vocabulary)
    problems: list[Problem] = []
    seen: set[tuple[PathKey, str]] = set()
    for err in exc.errors(include_url=False):
        path = (*prefix, *walk_data_path(data, tuple(err["loc"])))
        kind = err["type"]
        message = err["msg"]
        key = path[-1] if path else ""
        if kind == "extra_forbidden":
            message = f"unknown key {key!r}" + suggest(str(key), vocab)
        elif kind == "missing":
            message = f"{key!r} is required" if key else "a required value is missing"
        elif kind in ("value_error", "assertion_error"):
            message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        elif (
            kind
            not in (
                "union_tag_invalid",
                "tolerance_type",
                "literal_error",
            )
            and not isinstance(err.get("input"), dict | list)
        ) or kind == "literal_error":
            message = f"{message} (got {_short(err.get('input'))})"
        if (path, message) in seen:
            continue
        seen.add((path, message))
        problems.append(error(message, path, doc))
    return problems
