"""The run record has one JSON form: from_json then to_json gives back the same JSON, for
records as the engine writes them and with keys it does not know (issue 13, item 5)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.outcomes import Outcome
from daemon.records import (
    Disruption,
    HypothesisCheck,
    Recovery,
    RunRecord,
    StopConditionCheck,
    WorkloadKey,
)

_name = st.text("abcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=12)
_kind = st.sampled_from(["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Pod"])
_keys = st.builds(WorkloadKey, _name, _kind, _name)
_seconds = st.floats(0, 1e6, allow_nan=False)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_extra = st.dictionaries(st.sampled_from(["detail", "trigger", "future_key"]), _json, max_size=2)


def _with_extra(base: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda b, e: {**b, **e}, base, _extra)


_disruption = _with_extra(
    st.fixed_dictionaries(
        {
            "pod": _name,
            "workload": _keys.map(str),
            "method": st.sampled_from(["delete", "evict", "scale"]),
            "at": _seconds,
            "state": st.sampled_from(["done", "uncertain"]),
        },
        optional={"scale": st.lists(st.integers(0, 100), min_size=2, max_size=2)},
    )
)
_recovery = st.fixed_dictionaries(
    {
        "namespace": _name,
        "kind": _kind,
        "name": _name,
        "recovered": st.booleans(),
        "recovery_seconds": st.none() | _seconds,
        "first_replacement_created_seconds": st.none() | _seconds,
        "first_replacement_ready_seconds": st.none() | _seconds,
        "timed_out": st.booleans(),
        "error": st.none() | st.text(max_size=10),
        "relists": st.integers(0, 9),
        "api_errors": st.integers(0, 9),
        "measured": st.booleans(),
        "observed": st.booleans(),
    }
)
_check = st.fixed_dictionaries(
    {
        "phase": st.sampled_from(["before", "during", "after"]),
        "met": st.none() | st.booleans(),
        "errored": st.booleans(),
    }
)
_stop = st.fixed_dictionaries(
    {
        "query": st.text(max_size=10),
        "at": st.just("2026-11-30T05:00:00+00:00"),
        "result": st.sampled_from(["true", "false", "unavailable"]),
        "detail": st.text(max_size=10),
    }
)
_record = _with_extra(
    st.fixed_dictionaries(
        {
            "experiment_id": _name,
            "run_id": _name,
            "seed": st.integers(0, 2**63),
            "dry_run": st.booleans(),
            "strategy": st.just("default"),
            "rollback_strategy": st.just("default"),
        },
        optional={
            "outcome": st.sampled_from(Outcome).map(str),
            "reason": st.text(max_size=10),
            "error": st.text(max_size=10),
            "traceback": st.lists(st.text(max_size=10), max_size=2),
            "rollback_error": st.text(max_size=10),
            "refusal": st.fixed_dictionaries({"reason": _name, "detail": st.text(max_size=10)}),
            "disrupted": st.lists(_disruption, max_size=3),
            "recovery": st.lists(_recovery, max_size=3),
            "hypothesis_checks": st.lists(_check, max_size=3),
            "stop_conditions": st.lists(_stop, max_size=3),
            "plans": st.lists(st.dictionaries(st.text(max_size=5), _json, max_size=3), max_size=2),
            "errors": st.lists(st.text(max_size=10), max_size=2),
            "abandoned": st.lists(
                st.fixed_dictionaries({"phase": st.just("method"), "activity": _name}), max_size=2
            ),
            "dry_run_actions": st.lists(st.text(max_size=10), max_size=2),
        },
    )
)


@settings(max_examples=200)
@given(_record)
def test_the_record_round_trips_to_identical_json(data: dict[str, Any]) -> None:
    record = RunRecord.from_json(data)
    assert json.dumps(record.to_json(), sort_keys=True) == json.dumps(data, sort_keys=True)
    assert RunRecord.from_json(record.to_json()) == record


@given(_record)
def test_the_typed_record_reads_what_the_readers_read(data: dict[str, Any]) -> None:
    record = RunRecord.from_json(data)
    if "outcome" in data:
        assert record.outcome is Outcome(data["outcome"])
    for typed, raw in zip(record.disrupted or [], data.get("disrupted", []), strict=True):
        assert isinstance(typed, Disruption)
        assert str(typed.workload) == raw["workload"]
        namespace, _kind, workload = WorkloadKey.parse(raw["workload"])  # as metrics read it
        assert (namespace, workload) == (typed.workload.namespace, typed.workload.name)
    assert all(isinstance(r, Recovery) for r in record.recovery or [])
    assert all(isinstance(c, HypothesisCheck) for c in record.hypothesis_checks or [])
    assert all(isinstance(c, StopConditionCheck) for c in record.stop_conditions or [])


@given(_keys)
def test_workload_keys_parse_what_they_print(key: WorkloadKey) -> None:
    assert WorkloadKey.parse(str(key)) == key
    assert str(key) == "/".join(key)  # the journal's form, unchanged


def test_a_malformed_workload_is_named() -> None:
    for text in ("shop/webapp", "", "shop//x"):
        with pytest.raises(ValueError, match=re.escape(repr(text))):
            WorkloadKey.parse(text)
