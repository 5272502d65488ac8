"""Leader election on a coordination.k8s.io/v1 Lease (client-go's leaderelection, in small).

Only the holder schedules and injects. Leadership is judged by our own monotonic clock:
we lead until `renew_deadline` after the *start* of our last successful renewal; a follower
takes over only `lease_duration` after it *received* the last record it saw change, so two
replicas never both believe they lead, and `lease_duration - renew_deadline` is left whole
for a kill judged under the lease to reach the API server. Renewals use the Lease's
resourceVersion; a 409 means someone else wrote it and we step down at once.

What this cannot guarantee: a pause longer than that gap (SIGSTOP, a VM or GC pause, a
request queued in a slow API server) between the last pre-kill check and the server
applying the request. Kubernetes has no delete conditional on a Lease, so no client can
fence it (client-go's leader election has the same limit): keep the gap well above the
request latency.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from daemon.kube.client import Kube
from daemon.kube.errors import Conflict, KubeError, NotFound


def _micro_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        identity: str,
        *,
        lease_duration: timedelta,
        renew_deadline: timedelta,
        retry_period: timedelta,
        on_change: Callable[[bool], None] | None = None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ):
        if not retry_period < renew_deadline < lease_duration:
            raise ValueError("need retry_period < renew_deadline < lease_duration")
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline.total_seconds()
        self.retry_period = retry_period.total_seconds()
        self.on_change = on_change or (lambda _leading: None)
        self.wall_clock = wall_clock
        self.monotonic = monotonic
        self._renewed_at: float | None = None  # monotonic time of our last successful write
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="leader-election", daemon=True)
        self._was_leading = False
        self.last_error = ""
        self.transitions = 0
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0

    def is_leader(self) -> bool:
        renewed = self._renewed_at
        return renewed is not None and self.monotonic() - renewed < self.renew_deadline

    def holder(self) -> str | None:
        """Who leads, as last seen: us, the holder of a Lease seen renewed within its
        duration, or None (unknown or expired)."""
        if self.is_leader():
            return self.identity
        holder = self._observed[0] if self._observed else None
        fresh = self.monotonic() - self._observed_at < self.lease_duration.total_seconds()
        return str(holder) if holder and fresh else None

    def start(self) -> LeaderElector:
        self._thread.start()
        return self

    def stop(self, release: bool = True, deadline: float | None = None) -> None:
        """Stop renewing; release the lease (holder cleared) so a follower takes over at once.
        `deadline` (monotonic): the shutdown bound, which the wait for the renewal loop keeps."""
        self._stop.set()
        wait = self.retry_period + 5
        if deadline is not None:
            wait = min(wait, max(0.0, deadline - time.monotonic()))
        self._thread.join(timeout=wait)
        leading = self.is_leader()
        self._renewed_at = None
        self._notify()
        left = None if deadline is None else deadline - time.monotonic()
        if release and leading and (left is None or left > 0.1):
            # Within the bound, or not at all: the Lease then expires as after a crash.
            timeout = None if left is None else min(self.kube.timeout, left / 2)
            try:
                lease = self.kube.get("leases", self.namespace, self.name, timeout=timeout)
                if (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                    lease["spec"]["holderIdentity"] = None
                    lease["spec"]["leaseDurationSeconds"] = 1
                    self.kube.replace_lease(self.namespace, self.name, lease, timeout=timeout)
            except KubeError as exc:
                self.last_error = f"release: {exc.message}"

    def _notify(self) -> None:
        leading = self.is_leader()
        if leading != self._was_leading:
            self._was_leading = leading
            self.on_change(leading)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.try_acquire_or_renew()
            self._notify()
            self._stop.wait(self.retry_period)

    def try_acquire_or_renew(self) -> bool:
        now = self.wall_clock()
        started = self.monotonic()
        try:
            try:
                lease = self.kube.get("leases", self.namespace, self.name)
            except NotFound:
                self.kube.create_lease(self.namespace, self._body(None, now, acquired=True))
                self._won(started)
                return True
            seen = self.monotonic()  # the record was current at the latest now, not at `started`
            spec = lease.get("spec") or {}
            holder = spec.get("holderIdentity")
            # Like client-go: expiry is judged by *our* clock from when we last saw the record
            # change (stamped after the answer: a slow GET must not shorten the holder's
            # lease), never by comparing timestamps written by another machine's clock.
            record = (
                holder,
                spec.get("renewTime"),
                (lease.get("metadata") or {}).get("resourceVersion"),
            )
            if record != self._observed:
                self._observed, self._observed_at = record, seen
            if holder and holder != self.identity:
                duration = float(spec.get("leaseDurationSeconds") or 0)
                if seen - self._observed_at < duration:
                    self._lost("held by " + str(holder))
                    return False
            acquired = holder != self.identity
            self.kube.replace_lease(
                self.namespace, self.name, self._body(lease, now, acquired=acquired)
            )
        except Conflict:
            self._lost("another replica updated the lease first")
        except KubeError as exc:
            self.last_error = exc.message  # keep leading until renew_deadline runs out
        else:
            self._won(started)
            return True
        return False

    def _won(self, started: float) -> None:
        if not self.is_leader():
            self.transitions += 1
        self._renewed_at = started  # when the request started: conservative
        self.last_error = ""

    def _lost(self, why: str) -> None:
        self._renewed_at = None
        self.last_error = why

    def _body(
        self, lease: dict[str, Any] | None, now: datetime, *, acquired: bool
    ) -> dict[str, Any]:
        body = lease or {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {},
        }
        spec = body.setdefault("spec", {})
        spec["holderIdentity"] = self.identity
        spec["leaseDurationSeconds"] = int(self.lease_duration.total_seconds())
        spec["renewTime"] = _micro_time(now)
        if acquired:
            spec["acquireTime"] = _micro_time(now)
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if lease else 0)
        return body
