"""The halt: through the API (persisted in the history) or the ConfigMap switch.

In force in memory at once, whatever the history's state; a newly set halt stops the runs
in flight through `stop_runs`. Recording is retried through `PendingWrites` until it lands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from daemon.halt_switch import HaltConfigMap
from daemon.logging import get_logger
from daemon.store.history import HistoryStore
from daemon.store.pending import PendingWrites

log = get_logger("aftershock.daemon")
HALT_KEY = "halt"


@dataclass
class Halt:
    api: dict[str, Any] | None = None  # {"reason", "by", "at"} while halted through the API
    configmap: str | None = None  # reason while the ConfigMap flag says halted

    def reason(self) -> str | None:
        if self.api:
            return f"halted through the API by {self.api.get('by')}: {self.api.get('reason')}"
        if self.configmap is not None:
            return f"halted by ConfigMap: {self.configmap}"
        return None


class HaltControl:
    def __init__(
        self,
        store: HistoryStore,
        pending: PendingWrites,
        switch: HaltConfigMap,
        *,
        enabled: bool,
        stop_runs: Callable[[str, str], object],
    ):
        self.store = store
        self.pending = pending
        self.switch = switch
        self.enabled = enabled  # a Kubernetes API to read the ConfigMap from
        self.stop_runs = stop_runs
        self.state = Halt()
        self.loaded = False  # runs wait until the persisted halt has been read

    def reason(self) -> str | None:
        return self.state.reason()

    def set(self, reason: str, by: str) -> bool:
        """In force at once, whatever the history's state: runs in flight are stopped and the
        pre-kill check fails before anything is written. True when it is also recorded;
        else it is retried by housekeeping until it is (and survives a restart from then on)."""
        value = {"reason": reason, "by": by, "at": datetime.now(UTC).isoformat()}
        self.state.api = value
        log.warning("chaos halted", reason=reason, by=by)
        self.stop_runs("halted", reason)
        persisted = self.pending.attempt(HALT_KEY, lambda: self.store.set_state(HALT_KEY, value))
        if not persisted:
            log.error("halt in force but not recorded yet; retrying", error=self.store.error)
        return persisted

    def resume(self, by: str) -> None:
        """Recorded first, lifted after: a resume the history refuses raises StoreError and the
        halt stays in force (in memory and, after a restart, from the history). A halt that
        arrives meanwhile is not lifted by this resume."""
        halted = self.state.api
        with self.pending.lock:
            self.store.set_state(HALT_KEY, None)
            self.pending.discard(HALT_KEY)
            self.loaded = True
            if self.state.api is halted:
                self.state.api = None
        log.warning("chaos resumed", by=by)

    def load(self) -> None:
        """The persisted API halt; a halt already in force in memory wins (it is newer)."""
        with self.pending.lock:
            stored = self.store.get_state(HALT_KEY)
            if self.state.api is None and HALT_KEY not in self.pending:
                self.state.api = stored
            self.loaded = True

    def check_configmap(self, max_age: float = 0.0) -> None:
        """Read the ConfigMap switch now (one GET, short deadline; on a read error the last
        known state stays); a switch newly set stops the runs in flight."""
        if not self.enabled:
            return
        reason = self.switch.read(max_age)
        was, self.state.configmap = self.state.configmap, reason
        if reason is not None and was is None:
            log.warning("chaos halted by ConfigMap", reason=reason)
            self.stop_runs("halted", "ConfigMap")
        elif self.switch.error:
            log.debug("halt ConfigMap unreadable", error=self.switch.error)
