"""Probe tolerances, with chaoslib's semantics case by case.

Where chaoslib would raise out of the comparison (a 2-element range against a value that
cannot be ordered, a regex against a non-string, Decimal of a mapping), the tolerance is
simply not met here and the reason is returned: a probe's odd output must not crash a run
that has already disrupted pods. JSONPath uses jsonpath-ng (chaoslib uses jsonpath2); the
common syntax ($.a.b, [*], [n], filters) behaves the same.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from daemon.engine.substitution import substitute

ProbeRunner = Callable[[dict[str, Any], Any], Any]  # (probe activity, value) -> probe output


def within_tolerance(
    tolerance: Any,
    value: Any,
    *,
    configuration: dict[str, Any] | None = None,
    secrets: dict[str, dict[str, Any]] | None = None,
    run_probe: ProbeRunner | None = None,
) -> tuple[bool, str]:
    """(met, why-not). `why-not` is empty when met."""
    try:
        met = _check(tolerance, value, configuration or {}, secrets or {}, run_probe)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return False, f"tolerance {tolerance!r} could not be applied to {_short(value)}: {exc}"
    if met:
        return True, ""
    return False, f"value {_short(value)} is not within tolerance {tolerance!r}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def _check(  # noqa: PLR0912 - chaoslib's dispatch table, kept in one place
    tolerance: Any,
    value: Any,
    configuration: dict[str, Any],
    secrets: dict[str, dict[str, Any]],
    run_probe: ProbeRunner | None,
) -> bool:
    if isinstance(tolerance, bool):
        return bool(value == tolerance)
    if isinstance(tolerance, int):
        if isinstance(value, dict) and "status" in value:
            return bool(value["status"] == tolerance)
        return bool(value == tolerance)
    if isinstance(tolerance, str):
        return bool(value == tolerance)
    if isinstance(tolerance, list):
        if isinstance(value, dict) and "status" in value:
            return value["status"] in tolerance
        if len(tolerance) == 2:
            return bool(tolerance[0] <= value <= tolerance[1])
        return value in tolerance
    if not isinstance(tolerance, dict):
        raise TypeError(f"unsupported tolerance type {type(tolerance).__name__}")
    kind = tolerance.get("type")
    target = tolerance.get("target")
    if kind == "probe":
        if run_probe is None:
            raise ValueError("no probe runner for a probe tolerance")
        try:
            return bool(run_probe(tolerance, value))
        except Exception:  # noqa: BLE001 - chaoslib: a failing tolerance probe means "not met"
            return False
    if target and isinstance(value, dict):
        value = value.get(target, value)
    if kind == "regex":
        pattern = substitute(tolerance.get("pattern"), configuration, secrets)
        return re.compile(pattern).search(value) is not None
    if kind == "jsonpath":
        from jsonpath_ng.ext.parser import parse

        path = substitute(tolerance.get("path"), configuration, secrets)
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        if isinstance(value, str):
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        values = [match.value for match in parse(path).find(value)]
        result = len(values) > 0
        if tolerance.get("count") is not None:
            result = len(values) == tolerance["count"]
        if "expect" in tolerance:
            expect = tolerance["expect"]
            result = values == (expect if isinstance(expect, list) else [expect])
        return result
    if kind == "range":
        try:
            number = Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            return False
        low, high = tolerance["range"]
        return Decimal(str(low)) <= number <= Decimal(str(high))
    raise ValueError(f"unsupported tolerance type {kind!r}")
