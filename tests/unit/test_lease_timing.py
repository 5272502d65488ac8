"""Leader election timing on a fake clock: a replica leads until renew_deadline after the
start of its last successful renewal; a follower takes over only lease_duration after it
*received* the holder's last record. The gap between the two (lease_duration -
renew_deadline) is the whole time a kill judged under the lease has to reach the API server,
so neither a slow GET nor a freeze during the pre-kill halt read may eat into it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from daemon.kube.errors import Conflict, NotFound
from daemon.kube.lease import LeaderElector
from daemon.service import Daemon


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeLeases:
    """One Lease with a resourceVersion; `during_get` runs while a GET is in flight (the
    server answers with the state as it is when the response is written)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lease: dict[str, Any] | None = None
        self.version = 0
        self.during_get: Callable[[], None] | None = None
        self.get_latency = 0.0

    def get(self, _resource: str, _namespace: str, _name: str) -> dict[str, Any]:
        hook, self.during_get = self.during_get, None
        self.clock.now += self.get_latency
        if hook is not None:
            hook()
        if self.lease is None:
            raise NotFound("no lease")
        return copy.deepcopy(self.lease)

    def _write(self, body: dict[str, Any]) -> None:
        self.version += 1
        body = copy.deepcopy(body)
        body.setdefault("metadata", {})["resourceVersion"] = str(self.version)
        self.lease = body

    def create_lease(self, _namespace: str, body: dict[str, Any]) -> None:
        self._write(body)

    def replace_lease(self, _namespace: str, _name: str, body: dict[str, Any]) -> None:
        assert self.lease is not None
        if body["metadata"].get("resourceVersion") != self.lease["metadata"]["resourceVersion"]:
            raise Conflict("resourceVersion changed")
        self._write(body)


def elector(kube: FakeLeases, identity: str, clock: Clock) -> LeaderElector:
    return LeaderElector(
        kube,  # type: ignore[arg-type]
        "aftershock",
        "aftershock-leader",
        identity,
        lease_duration=timedelta(seconds=3),
        renew_deadline=timedelta(seconds=2),
        retry_period=timedelta(milliseconds=500),
        wall_clock=lambda: datetime.fromtimestamp(clock.now, UTC),
        monotonic=clock,
    )


def test_a_slow_get_does_not_shorten_the_holders_lease() -> None:
    """The follower's GET is sent at 0 and answered at 1.5 with alpha's renewal written at
    1.2: alpha leads until 3.2, so the follower may not take over before 1.5 + 3 = 4.5
    (stamping the record at the request's start, 0, let it take over at 3.0)."""
    clock = Clock()
    kube = FakeLeases(clock)
    alpha, beta = elector(kube, "alpha", clock), elector(kube, "beta", clock)
    assert alpha.try_acquire_or_renew()

    def alpha_renews() -> None:
        clock.now = 1.2
        assert alpha.try_acquire_or_renew()
        clock.now = 1.5

    kube.during_get = alpha_renews
    assert not beta.try_acquire_or_renew()  # sent at 0, answered at 1.5
    assert alpha.is_leader()
    last_lead = 0.0
    while clock.now < 6:  # alpha frozen from here on: it never renews again
        clock.now += 0.1
        if alpha.is_leader():
            last_lead = clock.now
        if beta.try_acquire_or_renew():
            break
    assert beta.is_leader()
    assert clock.now >= 4.5
    assert clock.now - last_lead >= 1.0  # lease_duration - renew_deadline, whole


def test_a_lease_lost_during_the_pre_kill_halt_read_refuses_the_kill() -> None:
    """A freeze (SIGSTOP) during the gate's ConfigMap GET: leadership judged before it is
    stale after it, and the gate asks again last."""
    leading = [True]

    def frozen_during_read(_max_age: float = 0.0) -> None:
        leading[0] = False  # the lease ran out while the process was stopped

    halting = SimpleNamespace(check_configmap=frozen_during_read)
    daemon = SimpleNamespace(
        is_leader=lambda: leading[0],
        halting=halting,
        halt=SimpleNamespace(reason=lambda: None),
        _stopping=SimpleNamespace(is_set=lambda: False),
    )
    assert Daemon.disruption_check(daemon) == "leadership_lost"  # type: ignore[arg-type]
    leading[0] = True
    halting.check_configmap = lambda _max_age=0.0: None
    assert Daemon.disruption_check(daemon) is None  # type: ignore[arg-type]


def test_holder_is_who_leads_as_last_seen_and_none_once_that_record_is_stale() -> None:
    """What a follower's cordon sweep is told: the leader whose drill may be in progress."""
    clock = Clock()
    kube = FakeLeases(clock)
    alpha, beta = elector(kube, "alpha", clock), elector(kube, "beta", clock)
    assert beta.holder() is None  # nothing seen yet
    assert alpha.try_acquire_or_renew()
    assert alpha.holder() == "alpha"
    assert not beta.try_acquire_or_renew()
    assert beta.holder() == "alpha"
    clock.now += 10  # alpha stopped renewing: its record is older than lease_duration
    assert beta.holder() is None
