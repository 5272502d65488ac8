"""The cluster file: nodes, namespaces, workloads, services, PDBs, timing, RBAC and faults."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from daemon.documents import DocumentError, ReadLimits, read_document
from daemon.durations import Duration, PositiveDuration

Fraction = Annotated[float, Field(ge=0, le=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timing(Strict):
    """How long each step of a pod's life takes; per workload, fields override the cluster's."""

    schedule_delay: Duration | None = None
    start_delay: Duration | None = None
    ready_delay: Duration | None = None
    spread: Fraction | None = None
    crash_probability: Fraction | None = None
    shutdown_delay: Duration | None = None  # None: the pod uses its whole grace period
    backoff_base: PositiveDuration | None = None
    backoff_cap: PositiveDuration | None = None


DEFAULT_TIMING = {
    "schedule_delay": timedelta(milliseconds=50),
    "start_delay": timedelta(milliseconds=300),
    "ready_delay": timedelta(milliseconds=700),
    "spread": 0.0,
    "crash_probability": 0.0,
    "shutdown_delay": None,
    "backoff_base": timedelta(seconds=10),
    "backoff_cap": timedelta(minutes=5),
}


class Unavailable(Strict):
    status: Annotated[int, Field(ge=100, le=599)] = 503
    delay: Duration = timedelta(0)


class ServiceSpec(Strict):
    port: Annotated[int, Field(ge=1, le=65535)] = 80
    http: bool = True  # answer on a real 127.0.0.1 listener
    listen_port: Annotated[int, Field(ge=0, le=65535)] = 0
    depends_on: list[str] = Field(default_factory=list)  # `name`, or `namespace/name`
    unavailable: Unavailable = Field(default_factory=Unavailable)
    # A failure mode: a deleted pod stays in the endpoints this long and answers 502 (its
    # process stopped listening before the endpoint was removed: no preStop delay).
    endpoint_lag: Duration = timedelta(0)


class OperatorSpec(Strict):
    """A custom object whose own controller (an operator) owns the pods directly.

    Like Strimzi's StrimziPodSet or CloudNativePG's Cluster: `stable` names pods
    `<name>-<i>` and recreates the same name; `generated` gives each new pod a new name.
    """

    kind: str = Field(default="StrimziPodSet", pattern=r"^[A-Z][A-Za-z0-9]*$")
    api_version: str = Field(
        default="core.strimzi.io/v1beta2", pattern=r"^[a-z0-9.-]+\.[a-z0-9.-]+/v[a-z0-9]+$"
    )
    plural: str | None = Field(default=None, pattern=r"^[a-z0-9]+$")
    naming: Literal["stable", "generated"] = "stable"
    recreate_delay: Duration = timedelta(0)
    # "ReplicaSet": the custom object owns a ReplicaSet that owns the pods (Argo Rollouts)
    pods_via: Literal["direct", "ReplicaSet"] = "direct"


class Workload(Strict):
    kind: Literal["Deployment", "StatefulSet", "DaemonSet", "Pod", "Operator"] = "Deployment"
    name: str
    replicas: Annotated[int, Field(ge=0, le=100_000)] = 1
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    image: str | None = None
    grace_period: Annotated[int, Field(ge=0, le=3600)] = 30
    pod_management_policy: Literal["OrderedReady", "Parallel"] = "Parallel"
    timing: Timing = Field(default_factory=Timing)
    service: ServiceSpec | None = None
    logs: list[str] = Field(default_factory=lambda: ["starting {pod}", "listening on :8080"])
    operator: OperatorSpec | None = None  # kind Operator: the custom owner (defaults above)

    @model_validator(mode="after")
    def _operator_only_for_operator(self) -> Workload:
        if self.operator is not None and self.kind != "Operator":
            raise ValueError("`operator` is only for workloads of kind Operator")
        return self


class Pdb(Strict):
    name: str
    selector: dict[str, str]
    min_available: int | str | None = None
    max_unavailable: int | str | None = None

    @model_validator(mode="after")
    def _one(self) -> Pdb:
        if (self.min_available is None) == (self.max_unavailable is None):
            raise ValueError("a PDB needs exactly one of min_available or max_unavailable")
        return self


class Namespace(Strict):
    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    workloads: list[Workload] = Field(default_factory=list)
    pdbs: list[Pdb] = Field(default_factory=list)
    objects: list[dict[str, Any]] = Field(default_factory=list)


class Taint(Strict):
    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class Node(Strict):
    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    unschedulable: bool = False
    taints: list[Taint] = Field(default_factory=list)


class User(Strict):
    name: str
    token: str
    groups: list[str] = Field(default_factory=list)


class Rbac(Strict):
    enforce: bool = False
    # kube-apiserver's --anonymous-auth: tokenless requests are system:anonymous (then
    # authorized like anyone else) or, when false, refused with 401. kubectl sends no
    # token over plain HTTP, so it needs this true.
    anonymous: bool = True
    users: list[User] = Field(default_factory=list)
    objects: list[dict[str, Any]] = Field(default_factory=list)


class FaultRule(Strict):
    verb: str = "*"  # get | list | watch | create | update | patch | delete | *
    resource: str = "*"  # pods, deployments.apps, pods/eviction, ... or *
    namespace: str | None = None
    error_rate: Fraction = 0.0
    code: Literal[429, 500, 503, 504] = 500
    retry_after: Annotated[int, Field(ge=0, le=3600)] = 1
    latency: Duration = timedelta(0)
    # only requests whose JSON body contains this text (a cordon, not a claim, of a node)
    body_contains: str | None = None


class Faults(Strict):
    rules: list[FaultRule] = Field(default_factory=list)
    watch_max_duration: PositiveDuration | None = None  # streams are cut after this long


class WatchSettings(Strict):
    history: Annotated[int, Field(ge=10, le=10_000_000)] = 10_000
    bookmark_interval: PositiveDuration = timedelta(seconds=5)
    max_timeout: PositiveDuration = timedelta(minutes=30)


class ClusterFile(Strict):
    nodes: int | list[Node] = 3
    seed: int | None = None
    admin_token: str = "aftershock-sim-admin"  # noqa: S105 - the simulator's well-known test credential
    timing: Timing = Field(default_factory=Timing)
    watch: WatchSettings = Field(default_factory=WatchSettings)
    namespaces: list[Namespace] = Field(default_factory=list)
    rbac: Rbac = Field(default_factory=Rbac)
    faults: Faults = Field(default_factory=Faults)
    objects: list[dict[str, Any]] = Field(default_factory=list)

    def node_list(self) -> list[Node]:
        if isinstance(self.nodes, int):
            return [Node(name=f"sim-node-{i + 1}") for i in range(self.nodes)]
        return list(self.nodes)


class ClusterFileError(Exception):
    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def _vocabulary() -> set[str]:
    models: list[type[BaseModel]] = [
        Timing,
        Unavailable,
        ServiceSpec,
        OperatorSpec,
        Workload,
        Pdb,
        Taint,
        Namespace,
        Node,
        User,
        Rbac,
        FaultRule,
        Faults,
        WatchSettings,
        ClusterFile,
    ]
    return {name for model in models for name in model.model_fields}


def load_cluster_file(path: Path) -> ClusterFile:
    try:
        document = read_document(path, ReadLimits(max_bytes=16 * 1024 * 1024, max_nodes=5_000_000))
    except DocumentError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise ClusterFileError([f"{path}: {where}{exc.message}"]) from None
    try:
        return ClusterFile.model_validate(document.data)
    except ValidationError as exc:
        from daemon.catalog.problems import from_validation

        problems = from_validation(exc, document.data, document, vocabulary=_vocabulary())
        raise ClusterFileError([f"{path}: {p.render()}" for p in problems]) from None
