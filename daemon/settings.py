"""All of aftershock's settings: one pydantic-settings root, built once by the CLI.

Precedence: environment (`AFTERSHOCK_GROUP__KEY`) over the YAML file given by `--config`
over defaults. Defaults sit on the safe side (docs/safety.md): dry-run on, opt-in required,
system namespaces protected. Nothing reads the environment at import time.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from daemon.documents import DocumentError, ReadLimits, read_document
from daemon.durations import Duration, PositiveDuration
from daemon.notify.config import NotifySettings
from daemon.timezones import check_timezone

ENV_PREFIX = "AFTERSHOCK_"
DELIMITER = "__"


def _split_list(value: Any) -> Any:
    """Lists from the environment: a JSON array or comma-separated words."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a valid JSON list: {exc.msg}") from None
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


StrList = Annotated[list[str], NoDecode]


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _namespace_names(value: list[str]) -> list[str]:
    """Namespace names are DNS labels: `Kube-System` would protect nothing."""
    for name in value:
        if len(name) > 63 or not _DNS_LABEL.match(name):
            raise ValueError(
                f"{name!r} is not a namespace name (lower-case letters, digits and '-', "
                "at most 63 characters); it would protect nothing"
            )
    return value


class KubeSettings(Group):
    mode: Literal["auto", "in-cluster", "kubeconfig", "url"] = "auto"
    kubeconfig: Path | None = None
    context: str | None = None
    api_url: str | None = None
    request_timeout: PositiveDuration = timedelta(seconds=10)
    namespace: str = "aftershock"  # always protected, so it must be a real namespace name
    # false: RBAC grants Roles only (Helm rbac.scope=namespace), so aftershock never makes
    # cluster-scoped reads: namespace labels are not read and opt-in comes from workloads.
    cluster_scope: bool = True

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        _namespace_names([value])
        return value


class CatalogSettings(Group):
    path: Path = Path("/etc/aftershock/experiments")
    max_file_bytes: Annotated[int, Field(gt=0, le=64 * 1024 * 1024)] = 1024 * 1024
    max_depth: Annotated[int, Field(ge=4, le=1000)] = 64
    max_nodes: Annotated[int, Field(ge=100, le=10_000_000)] = 100_000
    max_files: Annotated[int, Field(gt=0, le=100_000)] = 2000
    reload_interval: PositiveDuration = timedelta(seconds=10)

    def read_limits(self) -> ReadLimits:
        return ReadLimits(self.max_file_bytes, self.max_depth, self.max_nodes)


DEFAULT_PROTECTED = ["kube-system", "kube-public", "kube-node-lease"]


class SafetySettings(Group):
    dry_run: bool = True
    require_opt_in: bool = True
    opt_in_label: str = "aftershock/enabled"
    # Declared before protected_namespaces: its check reads this acknowledgement.
    allow_unprotected_defaults: bool = False
    protected_namespaces: StrList = Field(default_factory=lambda: list(DEFAULT_PROTECTED))
    max_pods: Annotated[int, Field(gt=0)] = 10
    max_percent: Annotated[float, Field(gt=0, le=100)] = 50.0
    min_ready_replicas: Annotated[int, Field(ge=0)] = 1
    require_workload_ready: bool = True
    respect_pdb: bool = True
    allow_bare_pods: bool = False
    cooldown: Duration = timedelta(minutes=10)
    max_disruptions_per_day: Annotated[int, Field(gt=0)] = 100
    on_limit: Literal["refuse", "cap"] = "refuse"
    process_allowlist: StrList = Field(default_factory=list)
    halt_configmap: str = "aftershock-halt"
    stop_condition_interval: PositiveDuration = timedelta(seconds=5)
    # No Prometheus answer: stop conditions fail safe (no injection, abort) unless this is true.
    stop_conditions_fail_open: bool = False

    @field_validator("protected_namespaces", "process_allowlist", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("protected_namespaces")
    @classmethod
    def _protected(cls, value: list[str], info: ValidationInfo) -> list[str]:
        _namespace_names(value)
        dropped = [n for n in DEFAULT_PROTECTED if n not in value]
        if dropped and not info.data.get("allow_unprotected_defaults"):
            raise ValueError(
                f"leaves {', '.join(dropped)} unprotected; list them, or acknowledge it with "
                "safety.allow_unprotected_defaults: true "
                "(AFTERSHOCK_SAFETY__ALLOW_UNPROTECTED_DEFAULTS=true)"
            )
        return value


class SchedulingSettings(Group):
    max_concurrent_runs: Annotated[int, Field(ge=1, le=64)] = 1
    misfire_grace: Duration = timedelta(seconds=60)
    timezone: str = "UTC"
    seed: int = 0  # MTBF day plans derive from (seed, experiment, date)
    shutdown_timeout: PositiveDuration = timedelta(seconds=20)  # below the pod's grace period

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_timezone(value)


class ApiSettings(Group):
    host: str = "0.0.0.0"  # noqa: S104 - a pod must be reachable by its Service and probes
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    auth: Literal["token", "kubernetes", "none"] = "token"
    token_file: Path | None = None
    protect_reads: bool = False
    # auth=kubernetes: TokenReview, then SubjectAccessReview for verb create (mutations) or
    # get (protected reads) on this virtual resource in the daemon's namespace.
    review_group: str = "aftershock.io"
    review_resource: str = "control"


class LeaderSettings(Group):
    enabled: bool = True
    lease_name: str = "aftershock-leader"
    identity: str | None = None  # default: the host name (the pod name in Kubernetes)
    lease_duration: PositiveDuration = timedelta(seconds=15)
    renew_deadline: PositiveDuration = timedelta(seconds=10)
    retry_period: PositiveDuration = timedelta(seconds=2)


class StoreSettings(Group):
    path: Path = Path("/var/lib/aftershock/history.db")
    retention: PositiveDuration = timedelta(days=30)
    max_runs_per_experiment: Annotated[int, Field(ge=1)] = 1000


class LoggingSettings(Group):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class PrometheusSettings(Group):
    url: str | None = None
    timeout: PositiveDuration = timedelta(seconds=5)


class EngineSettings(Group):
    activity_timeout: PositiveDuration = timedelta(seconds=30)


class NodeSettings(Group):
    """Node drills (docs/node-drills.md): off unless enabled here and in the chart's RBAC."""

    enabled: bool = False
    max_nodes: Annotated[int, Field(gt=0)] = 1  # cordoned by aftershock at once, cluster-wide
    # never fewer schedulable nodes than this: a count, or "N%" of all nodes
    min_schedulable_nodes: (
        Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=r"^\d+%$")]
    ) = 1
    allow_protected_namespaces: bool = False  # drain nodes that run protected pods
    drain_timeout: PositiveDuration = timedelta(minutes=5)
    # how long the end of a run keeps retrying to take its cordons back through API errors
    # (cut to the shutdown deadline on SIGTERM); a daemon's housekeeping sweep goes on after it
    release_patience: PositiveDuration = timedelta(minutes=5)
    # how long a claim whose cordon never came (its process died) holds its slot
    claim_ttl: PositiveDuration = timedelta(minutes=3)


class Settings(BaseSettings):
    """The root; build it with `load_settings`, not directly, to get file + env merging."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=DELIMITER,
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    kube: KubeSettings = Field(default_factory=KubeSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    scheduling: SchedulingSettings = Field(default_factory=SchedulingSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    prometheus: PrometheusSettings = Field(default_factory=PrometheusSettings)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    leader: LeaderSettings = Field(default_factory=LeaderSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)  # docs/notifications.md
    nodes: NodeSettings = Field(default_factory=NodeSettings)  # docs/node-drills.md

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Init kwargs carry the --config file, which the environment overrides.
        del settings_cls, dotenv_settings, file_secret_settings
        return env_settings, init_settings


def weakened_safety(settings: Settings) -> list[str]:
    """Settings that weaken a safe default, for a warning at start-up: never silent."""
    safety = settings.safety
    found = []
    dropped = [n for n in DEFAULT_PROTECTED if n not in safety.protected_namespaces]
    if dropped:
        found.append(
            f"safety.protected_namespaces leaves {', '.join(dropped)} unprotected "
            "(acknowledged by safety.allow_unprotected_defaults)"
        )
    for key, safe in (
        ("require_opt_in", True),
        ("require_workload_ready", True),
        ("respect_pdb", True),
        ("allow_bare_pods", False),
        ("stop_conditions_fail_open", False),
    ):
        if getattr(safety, key) != safe:
            found.append(f"safety.{key} is {str(not safe).lower()} (safe default: {safe!s})")
    if safety.min_ready_replicas == 0:
        found.append("safety.min_ready_replicas is 0: a workload may lose every Ready pod")
    nodes = settings.nodes
    if nodes.enabled:  # off by default: a drill cordons nodes and evicts whatever they run
        found.append(
            f"nodes.enabled is true: node drills may cordon and drain up to {nodes.max_nodes} "
            f"node(s) at once (safe default: False)"
        )
        if nodes.allow_protected_namespaces:
            found.append(
                "nodes.allow_protected_namespaces is true: a drain may evict pods of protected "
                "namespaces (safe default: False)"
            )
        if str(nodes.min_schedulable_nodes) in {"0", "0%"}:
            found.append("nodes.min_schedulable_nodes is 0: a drill may leave no schedulable node")
    return found


class SettingsLoadError(Exception):
    """Start-up must stop; `lines` say which setting is wrong and what it accepts."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


_HINTS = {
    "bool_parsing": "accepted: true, false, 1, 0, yes, no, on, off",
    "bool_type": "accepted: true, false",
    "int_parsing": "accepted: a whole number",
    "float_parsing": "accepted: a number",
    "path_type": "accepted: a file system path",
}


def _env_name(loc: tuple[Any, ...]) -> str:
    """The variable that holds `loc`: up to its first list index (a JSON value from there)."""
    parts = []
    for part in loc:
        if not isinstance(part, str):
            break
        parts.append(part.upper())
    return ENV_PREFIX + DELIMITER.join(parts)


def _known_env_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for group, info in Settings.model_fields.items():
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            for key in model.model_fields:
                names[_env_name((group, key))] = f"{group}.{key}"
    return names


def _unknown_env(environ: Mapping[str, str]) -> list[str]:
    """Typos like AFTERSHOCK_SAFETY__DRYRUN would otherwise be ignored silently.

    Only names with the nested delimiter are judged: Kubernetes service links inject
    AFTERSHOCK_PORT, AFTERSHOCK_SERVICE_HOST and the like for a Service named aftershock.
    """
    known = _known_env_names()
    lines = []
    for name in sorted(environ):
        upper = name.upper()
        if upper.startswith(ENV_PREFIX) and DELIMITER in upper and upper not in known:
            close = difflib.get_close_matches(upper, sorted(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            lines.append(f"{name}: unknown setting{hint}")
    return lines


def load_settings(config_file: Path | None = None) -> Settings:
    """Build the settings or raise SettingsLoadError naming every bad variable or key."""
    file_data: dict[str, Any] = {}
    if config_file is not None:
        try:
            document = read_document(config_file, ReadLimits(max_bytes=1024 * 1024))
        except DocumentError as exc:
            where = f"line {exc.line}: " if exc.line else ""
            raise SettingsLoadError([f"{config_file}: {where}{exc.message}"]) from None
        if not isinstance(document.data, dict):
            raise SettingsLoadError([f"{config_file}: settings file must be a mapping of groups"])
        file_data = document.data
    environ = dict(os.environ)
    problems = _unknown_env(environ)
    if problems:
        raise SettingsLoadError(problems)
    try:
        return Settings(**file_data)
    except SettingsError as exc:
        raise SettingsLoadError([str(exc)]) from None
    except ValidationError as exc:
        raise SettingsLoadError(_describe(exc, environ, config_file)) from None


def _describe(exc: ValidationError, env: Mapping[str, str], config_file: Path | None) -> list[str]:
    upper_env = {k.upper(): v for k, v in env.items()}
    lines = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        dotted = ".".join(str(p) for p in loc)
        name = _env_name(loc)
        if name in upper_env and name.startswith(f"{ENV_PREFIX}NOTIFY"):
            source = f"{name} at {dotted}"  # JSON that may hold webhook URLs: never echoed
        elif name in upper_env:
            source = f"{name}={upper_env[name]!r}"
        elif config_file is not None:
            source = f"{dotted} in {config_file} (or env {name})"
        else:
            source = f"{dotted} (env {name})"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown setting"
        hint = _HINTS.get(err["type"])
        lines.append(f"{source}: {message}" + (f" ({hint})" if hint else ""))
    return lines
