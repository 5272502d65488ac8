"""Metric names referenced by a PromQL expression (walking promql-parser's AST)."""

from __future__ import annotations

from typing import Any

import promql_parser

_CHILDREN = ("lhs", "rhs", "expr", "args", "vector_selector", "param")


def metric_names(expression: str) -> set[str]:
    names: set[str] = set()

    def walk(node: Any) -> None:
        if node is None:
            return
        if isinstance(node, list | tuple):
            for item in node:
                walk(item)
            return
        if type(node).__name__ == "VectorSelector":
            if node.name:
                names.add(node.name)
            else:  # {__name__="..."}
                for matcher in node.matchers.matchers:
                    if matcher.name == "__name__":
                        names.add(matcher.value)
            return
        for attribute in _CHILDREN:
            child = getattr(node, attribute, None)
            if child is not None and not isinstance(child, str | int | float):
                walk(child)

    walk(promql_parser.parse(expression))
    return names
