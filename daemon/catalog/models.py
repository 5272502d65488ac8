"""Typed models of the Chaos Toolkit experiment format, as chaoslib validates it.

Structure and types are checked here; rules that span fields (supported provider names,
`ref` targets, `${}` references, allow-lists) are checked by `catalog.checks`, which can
point at the exact offending key. Chaos Toolkit keys we do not model are kept (extra=allow)
so a file round-trips; the loader warns about keys Chaos Toolkit itself would not know.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    Tag,
    field_validator,
)

NonEmptyStr = Annotated[str, Field(min_length=1)]
# Pauses and timeouts are bounded: `pauses.after: 1.0e+300` is a typo, not an hour-long wait.
MAX_SECONDS = 3600.0
MIN_FREQUENCY_SECONDS = 0.1  # the hypothesis during the method; faster would flood the API
Seconds = Annotated[float, Field(strict=True, ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
PositiveSeconds = Annotated[float, Field(strict=True, gt=0, le=MAX_SECONDS, allow_inf_nan=False)]

HYPOTHESIS_STRATEGIES = (
    "default",
    "before-method-only",
    "after-method-only",
    "during-method-only",
    "continuously",
)
ROLLBACK_STRATEGIES = ("default", "always", "never", "deviated")
HypothesisStrategy = Literal[
    "default", "before-method-only", "after-method-only", "during-method-only", "continuously"
]
RollbackStrategy = Literal["default", "always", "never", "deviated"]


class CtkModel(BaseModel):
    """Chaos Toolkit objects: unknown keys are kept, and field names follow the file."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


# ----------------------------------------------------------------------------- providers


class HttpProvider(CtkModel):
    type: Literal["http"]
    url: NonEmptyStr
    method: NonEmptyStr = "GET"
    headers: dict[str, str] | None = None
    arguments: dict[str, Any] | list[Any] | str | None = None
    timeout: PositiveSeconds | tuple[PositiveSeconds, PositiveSeconds] | None = None
    expected_status: StrictInt | list[StrictInt] | None = None
    verify_tls: StrictBool = True
    secrets: list[str] | str | None = None


class PythonProvider(CtkModel):
    type: Literal["python"]
    module: NonEmptyStr
    func: NonEmptyStr
    arguments: dict[str, Any] = Field(default_factory=dict)
    secrets: list[str] | str | None = None


class ProcessProvider(CtkModel):
    type: Literal["process"]
    path: NonEmptyStr
    arguments: str | list[Any] | dict[str, Any] | None = None
    timeout: PositiveSeconds | None = None
    secrets: list[str] | str | None = None


Provider = Annotated[HttpProvider | PythonProvider | ProcessProvider, Field(discriminator="type")]


# ----------------------------------------------------------------------------- activities


class Pauses(CtkModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    before: Seconds | None = None
    after: Seconds | None = None


class RegexTolerance(CtkModel):
    type: Literal["regex"]
    pattern: NonEmptyStr
    target: str | None = None


class JsonPathTolerance(CtkModel):
    type: Literal["jsonpath"]
    path: NonEmptyStr
    target: str | None = None
    expect: Any = None
    count: Annotated[int, Field(ge=0)] | None = None


class RangeTolerance(CtkModel):
    type: Literal["range"]
    range: tuple[
        Annotated[float, Field(allow_inf_nan=False)], Annotated[float, Field(allow_inf_nan=False)]
    ]
    target: str | None = None

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if value[0] > value[1]:
            raise ValueError(f"range lower bound {value[0]} is above upper bound {value[1]}")
        return value


class ActivityDef(CtkModel):
    type: Literal["probe", "action"]
    name: NonEmptyStr
    provider: Provider
    tolerance: Tolerance | None = None
    pauses: Pauses | None = None
    background: StrictBool = False
    timeout: PositiveSeconds | None = None
    controls: list[dict[str, Any]] | None = None


class ProbeTolerance(ActivityDef):
    type: Literal["probe"]


class ActivityRef(CtkModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    ref: NonEmptyStr


def _tolerance_tag(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "spec"
    return None


ToleranceSpec = Annotated[
    RegexTolerance | JsonPathTolerance | RangeTolerance | ProbeTolerance,
    Field(discriminator="type"),
]
Tolerance = Annotated[
    Annotated[StrictBool, Tag("bool")]
    | Annotated[StrictInt, Tag("int")]
    | Annotated[StrictStr, Tag("str")]
    | Annotated[list[Any], Tag("list")]
    | Annotated[ToleranceSpec, Tag("spec")],
    Discriminator(
        _tolerance_tag,
        custom_error_type="tolerance_type",
        custom_error_message=(
            "tolerance must be a boolean, an integer, a string, a list, or a mapping "
            "with type regex, jsonpath, range or probe (Chaos Toolkit rejects floats)"
        ),
    ),
]


def _activity_tag(value: Any) -> str:
    return "ref" if isinstance(value, dict) and "ref" in value else "def"


Activity = Annotated[
    Annotated[ActivityRef, Tag("ref")] | Annotated[ActivityDef, Tag("def")],
    Discriminator(_activity_tag),
]


# ----------------------------------------------------------------------------- experiment


class EnvConfig(CtkModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["env"]
    key: NonEmptyStr
    default: Any = None
    env_var_type: Literal["str", "int", "float", "bytes", "json"] | None = None


def _config_tag(value: Any) -> str:
    if isinstance(value, dict) and value.get("type") == "env":
        return "env"
    if isinstance(value, dict) and value.get("type") == "probe":
        return "probe"
    return "raw"


ConfigValue = Annotated[
    Annotated[EnvConfig, Tag("env")]
    | Annotated[ActivityDef, Tag("probe")]
    | Annotated[Any, Tag("raw")],
    Discriminator(_config_tag),
]


class EnvSecret(CtkModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["env"]
    key: NonEmptyStr
    default: Any = None


def _secret_tag(value: Any) -> str:
    if isinstance(value, dict) and "type" in value:
        return "env" if value["type"] == "env" else "unsupported"
    return "raw"


class UnsupportedSecret(CtkModel):
    type: str

    @field_validator("type")
    @classmethod
    def _reject(cls, value: str) -> str:
        raise ValueError(
            f"secret type {value!r} is not supported; use type 'env' (for example fed "
            "from a Kubernetes Secret) or a literal value"
        )


SecretValue = Annotated[
    Annotated[EnvSecret, Tag("env")]
    | Annotated[UnsupportedSecret, Tag("unsupported")]
    | Annotated[Any, Tag("raw")],
    Discriminator(_secret_tag),
]


class Hypothesis(CtkModel):
    title: NonEmptyStr
    probes: list[Activity] = Field(default_factory=list)
    controls: list[dict[str, Any]] | None = None


class RuntimeHypothesis(CtkModel):
    strategy: HypothesisStrategy = "default"
    freq: (
        Annotated[
            float,
            Field(strict=True, ge=MIN_FREQUENCY_SECONDS, le=MAX_SECONDS, allow_inf_nan=False),
        ]
        | None
    ) = None
    fail_fast: StrictBool | Annotated[float, Field(gt=0, le=1)] | None = None


class RuntimeRollbacks(CtkModel):
    strategy: RollbackStrategy = "default"


class Runtime(CtkModel):
    hypothesis: RuntimeHypothesis | None = None
    rollbacks: RuntimeRollbacks | None = None


class Extension(CtkModel):
    name: NonEmptyStr


class Experiment(CtkModel):
    version: str | None = None
    title: NonEmptyStr
    description: str | None = None
    tags: list[NonEmptyStr] = Field(default_factory=list)
    contributions: dict[str, str] | None = None
    configuration: dict[str, ConfigValue] = Field(default_factory=dict)
    secrets: dict[str, dict[str, SecretValue]] = Field(default_factory=dict)
    steady_state_hypothesis: Hypothesis | None = Field(
        default=None, alias="steady-state-hypothesis"
    )
    method: list[Activity]
    rollbacks: list[Activity] = Field(default_factory=list)
    controls: list[dict[str, Any]] | None = None
    runtime: Runtime | None = None
    extensions: list[Extension] = Field(default_factory=list)


# Keys Chaos Toolkit knows at each level; anything else draws a "probably a typo" warning.
KNOWN_EXPERIMENT_KEYS = frozenset(
    {
        "version",
        "title",
        "description",
        "tags",
        "contributions",
        "configuration",
        "secrets",
        "steady-state-hypothesis",
        "method",
        "rollbacks",
        "controls",
        "runtime",
        "extensions",
        "dry",
    }
)
KNOWN_ACTIVITY_KEYS = frozenset(
    {
        "type",
        "name",
        "provider",
        "tolerance",
        "pauses",
        "background",
        "timeout",
        "controls",
        "ref",
        "secrets",
        "configuration",
    }
)
