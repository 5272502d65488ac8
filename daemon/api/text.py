"""Odd text at the API boundary: refused on the way in, made safe on the way out.

JSON escapes can carry a lone surrogate (`"\\ud800"`), which is a Python str but not
Unicode text: it cannot be encoded as UTF-8, so pydantic or Starlette would answer 500.
Text fields of requests are checked here (400 problem+json naming the field); and every
answer is rendered without pydantic's response serialization, with any lone surrogate
that got into stored text (an experiment title, a journal, a halt recorded before this
check) replaced by U+FFFD, so no page or answer ever fails on the text it shows.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why VALUE is not acceptable request text, or None."""
    found = _LONE_SURROGATE.search(value)
    if found:
        return (
            f"contains a lone surrogate (\\u{ord(found.group()):04x} at position "
            f"{found.start()}), which is not Unicode text"
        )
    return None


def scrub(text: str) -> str:
    """TEXT with every lone surrogate replaced by U+FFFD (the replacement character)."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def _finite(value: Any) -> Any:
    """VALUE with non-finite floats as null (as pydantic wrote them): JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


class SafeJSONResponse(JSONResponse):
    """JSON that always encodes: lone surrogates scrubbed, NaN/Infinity as null."""

    def render(self, content: Any) -> bytes:
        def dumps(value: Any) -> str:
            return json.dumps(
                value, ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str
            )

        try:
            text = dumps(content)
        except ValueError:  # a non-finite float
            text = dumps(_finite(content))
        return scrub(text).encode("utf-8")


class SafeHTMLResponse(HTMLResponse):
    """A page that always encodes: lone surrogates scrubbed."""

    def render(self, content: Any) -> bytes:
        if isinstance(content, str):
            return scrub(content).encode("utf-8")
        return bytes(super().render(content))


class UnserializedRoute(APIRoute):
    """A route whose answer goes straight to its (safe) response class.

    FastAPI would otherwise serialize it with pydantic first (a model inferred from the
    return annotation), which raises on a lone surrogate before any response class runs.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["response_model"] = None
        super().__init__(path, endpoint, **kwargs)
