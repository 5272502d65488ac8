"""One disruption budget per run: pure accounting of what a run has already disrupted.

The guard plans one request at a time; without this ledger each kill activity would see the
whole budget again (four background kills of 2 pods under max_pods 2 killed 4). The ledger
is what the run has spent so far, counted *before* each request is sent (an intent counts at
once, a request known to have failed is given back), and `admit` is the re-check made right
before every single delete/evict/scale against live readiness. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from daemon import records
from daemon.records import WorkloadKey
from daemon.safety.guard import History, Limits, floor_for


@dataclass(frozen=True)
class Intent:
    """One disruption about to be requested, as the history records it before the act."""

    run_id: str
    workload: WorkloadKey
    pod: str  # bare pod name (for a scale-down: the pods the plan chose)
    uid: str
    method: str  # delete | evict | scale
    at: float


@dataclass(frozen=True)
class ScaleBase:
    """The base of a run's scale-up bound for one Deployment: recorded at the run's first
    read of it, completed once a scale of it landed (or may have)."""

    first_seen: int  # the replicas the run first read
    scaled_from: int | None  # the replicas the run's first scale that landed left from


@dataclass
class Ledger:
    """What one run has disrupted (pending, done or uncertain; failed is given back)."""

    per_workload: dict[WorkloadKey, int] = field(default_factory=dict)
    total: int = 0
    last: dict[WorkloadKey, datetime] = field(default_factory=dict)
    uids: set[str] = field(default_factory=set)  # pods this run asked to disrupt
    scaled_from: dict[WorkloadKey, int] = field(default_factory=dict)  # replicas before 1st scale
    # Replicas the run first read for each Deployment it was asked to scale: the per-run
    # scale-up ceiling is computed from it, never from the live (already scaled) count.
    first_seen: dict[WorkloadKey, int] = field(default_factory=dict)

    def spend(self, key: WorkloadKey, at: datetime, uid: str = "", count: int = 1) -> None:
        self.per_workload[key] = self.per_workload.get(key, 0) + count
        self.total += count
        self.last[key] = max(at, self.last.get(key, at))
        if uid:
            self.uids.add(uid)

    def give_back(self, key: WorkloadKey, uid: str = "", count: int = 1) -> None:
        """A request the server is known to have refused disrupted nothing."""
        self.per_workload[key] = max(0, self.per_workload.get(key, 0) - count)
        self.total = max(0, self.total - count)
        self.uids.discard(uid)

    def spent(self, key: WorkloadKey) -> int:
        return self.per_workload.get(key, 0)


def merged_history(persisted: History, ledger: Ledger) -> History:
    """The history the guard plans with: earlier runs (and this run's recorded intents), plus
    whatever the ledger holds that the recorder has not reported (never counted twice: a
    recorder that already includes this run's rows is the stricter of the two)."""
    last = dict(persisted.last_disruption)
    for key, at in ledger.last.items():
        if key not in last or at > last[key]:
            last[key] = at
    return History(
        last_disruption=last,
        disrupted_last_24h=max(persisted.disrupted_last_24h, ledger.total),
    )


def percent_cap(limits: Limits, desired: int) -> int:
    return math.floor(limits.max_percent / 100 * desired)


def ready_floor(limits: Limits, desired: int) -> int:
    return max((floor_for(f, desired) for f in limits.min_ready), default=0)


def admit(
    ledger: Ledger,
    key: WorkloadKey,
    *,
    desired: int,
    ready_now: int,
    limits: Limits,
    disrupted_last_24h: int,
    count: int = 1,
) -> tuple[str, str] | None:
    """May `count` more pods of `key` be disrupted now? None, or (rule, detail).

    `ready_now` is live: Ready, not terminating pods of the workload, minus those this run
    already asked to disrupt. Called with the request's own intent not yet spent.
    """
    name = str(records.WorkloadKey(*key))
    if ledger.total + count > limits.max_pods:
        return (
            "max_pods",
            f"{ledger.total} pod(s) already disrupted in this run; {count} more is over "
            f"max_pods {limits.max_pods}",
        )
    cap = percent_cap(limits, desired)
    if ledger.spent(key) + count > cap:
        return (
            "max_percent",
            f"{ledger.spent(key)} of {desired} pods of {name} already disrupted in this run; "
            f"{count} more is over max_percent {limits.max_percent:g}% ({cap} allowed)",
        )
    floor = ready_floor(limits, desired)
    if ready_now - count < floor:
        return (
            "min_ready_replicas",
            f"{name} has {ready_now} ready now; disrupting {count} would leave "
            f"{ready_now - count}, under the floor of {floor}",
        )
    if disrupted_last_24h + count > limits.max_disruptions_per_day:
        return (
            "daily_budget",
            f"{disrupted_last_24h} pods disrupted in the last 24 h; max_disruptions_per_day "
            f"{limits.max_disruptions_per_day}",
        )
    return None
