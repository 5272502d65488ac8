"""Problems with run-time values that carry a secret are reported without the value.

The journal masks each secret value as a whole (daemon/engine/redact.py), but a problem
about a resolved value may show it transformed: a parser quoting the rest of a selector
after the secret's first word (`found 's3cret/val+ue'`), `repr` escaping a backslash or a
quote, a long value cut at 80 characters. Masking whole values cannot catch those. So a
problem with a value that came from a secret (its template names one, or its resolved
text contains one), or that quotes a secret or a word of one, is replaced as a whole by
a generic message that names the argument and quotes nothing (docs/running.md, "The journal").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from daemon.catalog.provider_spec import PathSuffix
from daemon.engine.redact import MIN_LENGTH, sensitive_names

_WORD = re.compile(r"\w{4,}")
_MISSING = object()


class SecretValues:
    """The secret names an experiment declares, and their values as a run resolved them."""

    def __init__(self, data: dict[str, Any], resolve: Callable[[Any], Any]):
        self.names = sensitive_names(data.get("secrets"), data.get("configuration"))
        self.values = tuple(
            text
            for name in sorted(self.names)
            for text in _strings(resolve("${" + name + "}"))
            if text and text != "${" + name + "}"
        )
        names = "|".join(map(re.escape, sorted(self.names)))
        # `${name}` or `$name` (string.Template's two forms), for any of the names.
        self._reference = (
            re.compile(rf"\$(?:\{{(?:{names})\}}|(?:{names})(?![_a-zA-Z0-9]))")
            if self.names
            else None
        )
        self._fragments = frozenset(
            word for text in self.values for word in _WORD.findall(text)
        ) | frozenset(text for text in self.values if len(text) >= MIN_LENGTH)

    def bears_secret(self, raw: Any, resolved: Any) -> bool:
        """Whether a value (as written, and as resolved) carries a secret."""
        if self._reference and any(self._reference.search(s) for s in _strings(raw)):
            return True
        return any(
            secret in text
            for text in _strings(resolved)
            for secret in self.values
            if len(secret) >= MIN_LENGTH
        )

    def shows_secret(self, message: str) -> bool:
        """Whether a message quotes a secret value or a word (4+ characters) of one."""
        return any(fragment in message for fragment in self._fragments)

    def safe(
        self, raw: dict[str, Any], resolved: dict[str, Any], where: PathSuffix, message: str
    ) -> str:
        """MESSAGE about the provider value at WHERE, or a generic one if it would leak."""
        if not self.bears_secret(_at(raw, where), _at(resolved, where)) and not (
            self.shows_secret(message)
        ):
            return message
        name = next((str(p) for p in reversed(where) if isinstance(p, str)), "value")
        return (
            f"'{name}' is not valid after substitution; the value and the details are not "
            "shown because it contains a secret"
        )


def _at(data: Any, where: PathSuffix) -> Any:
    for part in where:
        found = (isinstance(data, dict) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        )
        if not found:
            return _MISSING
        data = data[part]
    return data


def _strings(value: Any) -> Iterator[str]:
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, bool) or item is None or item is _MISSING:
            continue
        elif isinstance(item, int | float):
            yield str(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, Iterable) and not isinstance(item, bytes):
            stack.extend(item)
