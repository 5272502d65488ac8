"""The run record (the journal's `aftershock` section) as typed values with one JSON form.

The engine writes the record as it goes (RunContext.record, appended to from provider
threads under its lock); these dataclasses are its typed reading and writing: `from_json`
and `to_json` round-trip exactly (tests/property/test_record_roundtrip.py), so stored
history, pages and metrics read what they read before. Keys a record does not know (added by
a newer version, or by the daemon: `detail`, ...) are kept in `extra` and written back
unchanged; a key absent from the JSON stays absent (None here), an empty list stays empty.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, NamedTuple, Self

from daemon.outcomes import Outcome


class WorkloadKey(NamedTuple):
    """A workload, as the guard counts it; `str()` is the journal's "ns/Kind/name"."""

    namespace: str
    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.kind}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> WorkloadKey:
        """ "ns/Kind/name" -> the key (a name may not hold "/", so the split is exact)."""
        parts = str(text).split("/", 2)
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"workload {text!r} is not namespace/Kind/name")
        return cls(*parts)


Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]  # (to JSON, from JSON)


def _as_is(value: Any) -> Any:
    return value


def _items(codec: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda values: [codec(v) for v in values]


def _opt(codec: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else codec(value)


@dataclass(kw_only=True)
class JsonRecord:
    """A JSON object with known keys (the dataclass fields, in their JSON order) and `extra`.

    A field whose value is None is absent from the JSON, unless listed in NULLABLE (a key
    whose JSON value may itself be null: it is always written)."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()
    CODECS: ClassVar[Mapping[str, Codec]] = {}
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def _known(cls) -> list[str]:
        return [f.name for f in fields(cls) if f.name != "extra"]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self._known():
            value = getattr(self, name)
            if value is None and name not in self.NULLABLE:
                continue
            encode = self.CODECS.get(name, (_as_is, _as_is))[0]
            out[name] = None if value is None else encode(value)
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        known = cls._known()
        values = {
            name: _opt(cls.CODECS.get(name, (_as_is, _as_is))[1])(data[name])
            for name in known
            if name in data
        }
        return cls(**values, extra={k: v for k, v in data.items() if k not in known})


@dataclass(kw_only=True)
class Disruption(JsonRecord):
    """One pod the run disrupted (or may have: state `uncertain`), in `disrupted`."""

    CODECS: ClassVar[Mapping[str, Codec]] = {
        "workload": (str, WorkloadKey.parse),
        "scale": (list, tuple),
    }
    pod: str | None = None
    workload: WorkloadKey | None = None
    method: str | None = None  # delete, evict, scale
    at: float | None = None  # epoch seconds the workload was disrupted
    state: str | None = None  # done, uncertain (scale: its settled state)
    scale: tuple[int, int] | None = None  # a scale-down: [from, to]


@dataclass(kw_only=True)
class HypothesisCheck(JsonRecord):
    """One pass over the hypothesis, in `hypothesis_checks` (read by the metrics)."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset({"met"})
    phase: str | None = None  # before, during, after
    met: bool | None = None
    errored: bool | None = None


@dataclass(kw_only=True)
class StopConditionCheck(JsonRecord):
    """One evaluation of a stop condition, in `stop_conditions`."""

    query: str | None = None
    at: str | None = None  # ISO 8601
    result: str | None = None  # true, false, unavailable
    detail: str | None = None


@dataclass(kw_only=True)
class Recovery(JsonRecord):
    """How one disrupted workload recovered (daemon/recovery.py), in `recovery`."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset(
        {
            "recovery_seconds",
            "first_replacement_created_seconds",
            "first_replacement_ready_seconds",
            "error",
        }
    )
    namespace: str | None = None
    kind: str | None = None
    name: str | None = None
    recovered: bool | None = None
    recovery_seconds: float | None = None
    first_replacement_created_seconds: float | None = None  # first seen by the watch
    first_replacement_ready_seconds: float | None = None
    timed_out: bool | None = None
    error: str | None = None
    relists: int | None = None
    api_errors: int | None = None
    measured: bool | None = None
    observed: bool | None = None


@dataclass(kw_only=True)
class Refusal(JsonRecord):
    """Why the guard (or a re-check) said no after the run had injected, in `refusal`."""

    reason: str | None = None
    detail: str | None = None


def _records(kind: type[JsonRecord]) -> Codec:
    return (_items(lambda r: r.to_json()), _items(kind.from_json))


@dataclass(kw_only=True)
class RunRecord(JsonRecord):
    """The journal's `aftershock` section. Guard decisions stay in `plans` as the guard
    journals them (daemon/engine/providers/k8s.py journal_plan)."""

    CODECS: ClassVar[Mapping[str, Codec]] = {
        "outcome": (str, Outcome),
        "disrupted": _records(Disruption),
        "recovery": _records(Recovery),
        "hypothesis_checks": _records(HypothesisCheck),
        "stop_conditions": _records(StopConditionCheck),
        "refusal": (lambda r: r.to_json(), Refusal.from_json),
    }
    experiment_id: str | None = None
    run_id: str | None = None
    seed: int | None = None
    dry_run: bool | None = None
    strategy: str | None = None  # the hypothesis strategy
    rollback_strategy: str | None = None
    outcome: Outcome | None = None
    reason: str | None = None
    error: str | None = None
    traceback: list[str] | None = None
    rollback_error: str | None = None
    refusal: Refusal | None = None
    disrupted: list[Disruption] | None = None
    recovery: list[Recovery] | None = None
    hypothesis_checks: list[HypothesisCheck] | None = None
    stop_conditions: list[StopConditionCheck] | None = None
    plans: list[dict[str, Any]] | None = None  # the guard's plans, decisions and re-checks
    errors: list[str] | None = None
    abandoned: list[dict[str, Any]] | None = None  # activities left running: phase, activity
    dry_run_actions: list[str] | None = None
