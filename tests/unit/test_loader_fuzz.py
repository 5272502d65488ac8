"""Property: whatever bytes a catalog file holds, the loader returns a loaded experiment or
structured problems. It never raises, and a result is never both loaded and in error."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.catalog.extension import extension_vocabulary
from daemon.catalog.loader import FileResult, LoadOptions, load_file
from daemon.catalog.models import KNOWN_ACTIVITY_KEYS, KNOWN_EXPERIMENT_KEYS
from daemon.catalog.problems import Problem, Severity
from daemon.documents import ReadLimits
from tests.conftest import MINIMAL

OPTIONS = LoadOptions(limits=ReadLimits(max_bytes=64 * 1024, max_depth=32, max_nodes=5000))
VOCABULARY = sorted(
    KNOWN_EXPERIMENT_KEYS
    | KNOWN_ACTIVITY_KEYS
    | extension_vocabulary()
    | {
        "url",
        "module",
        "func",
        "arguments",
        "probes",
        "aftershock",
        "name",
        "pattern",
        "range",
        "path",
    }
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "",
            "probe",
            "action",
            "http",
            "python",
            "process",
            "aftershock",
            "1m",
            "-1s",
            "* * * * *",
            "61 * * * *",
            "UTC",
            "Mars/Olympus",
            "${x}",
            "mon-fri",
            "09:00",
            "50%",
            "chaosk8s.pod.actions",
            "terminate_pods",
            "regex",
            "jsonpath",
            "range",
            "$[",
        ]
    ),
    st.text(max_size=20),
)
keys = st.one_of(st.sampled_from(VOCABULARY), st.text(min_size=1, max_size=10))
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=40,
)


def check(result: FileResult) -> None:
    assert isinstance(result, FileResult)
    for problem in result.problems:
        assert isinstance(problem, Problem)
        assert isinstance(problem.message, str)
        assert problem.message
        assert problem.severity in (Severity.ERROR, Severity.WARNING)
        assert problem.line is None or problem.line >= 1
        problem.render()
    has_error = any(p.severity is Severity.ERROR for p in result.problems)
    if result.ok:
        assert result.loaded is not None
        assert not has_error
    else:
        assert has_error, "an experiment that did not load must say why"


def load_bytes(name: str, content: bytes) -> FileResult:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / name
        path.write_bytes(content)
        return load_file(path, OPTIONS)


def dump(data: Any, as_json: bool) -> bytes:
    if as_json:
        return json.dumps(data, default=str).encode()
    return yaml.safe_dump(data, allow_unicode=True).encode()


common = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(data=trees, as_json=st.booleans())
def test_random_documents(data: Any, as_json: bool) -> None:
    check(load_bytes("e.json" if as_json else "e.yaml", dump(data, as_json)))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _paths(child, (*prefix, index))
    return out


PATHS = [p for p in _paths(MINIMAL) if p]


@common
@given(
    edits=st.lists(st.tuples(st.sampled_from(PATHS), trees), min_size=1, max_size=3),
    extension=st.one_of(
        st.none(),
        st.dictionaries(st.sampled_from(sorted(extension_vocabulary())), trees, max_size=4),
    ),
    as_json=st.booleans(),
)
def test_mutated_valid_experiments(edits, extension, as_json: bool) -> None:
    data = copy.deepcopy(MINIMAL)
    for path, value in edits:
        target = data
        try:
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    if extension is not None:
        data["extensions"] = [{"name": "aftershock", **extension}]
    check(load_bytes("e.json" if as_json else "e.yaml", dump(data, as_json)))


@common
@given(
    content=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)),
    suffix=st.sampled_from([".yaml", ".json"]),
)
def test_random_bytes(content: bytes, suffix: str) -> None:
    result = load_bytes("e" + suffix, content)
    check(result)
    assert not result.ok  # random bytes are never a valid experiment
