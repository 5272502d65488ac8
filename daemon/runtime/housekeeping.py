"""One background loop for what has no schedule of its own: the halt ConfigMap, catalog
reload, the history's health and retention, the persisted halt, interrupted-run recovery,
leftover cordons of ended runs (node drills), and retrying the writes the history refused
(halts, ends of runs)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from daemon.logging import get_logger
from daemon.store.history import HistoryStore, StoreError
from daemon.store.pending import PendingWrites

log = get_logger("aftershock.daemon")


class Housekeeping:
    def __init__(
        self,
        *,
        interval: float,
        store: HistoryStore,
        pending: PendingWrites,
        stopping: threading.Event,
        check_halt_configmap: Callable[[], None],
        reload_catalog: Callable[[], object],
        longest_cooldown: Callable[[], timedelta | None],
        halt_loaded: Callable[[], bool],
        load_halt: Callable[[], None],
        recovery_due: Callable[[], bool],
        recover: Callable[[], None],
        sweep_cordons: Callable[[], object] = lambda: None,
    ):
        self.interval = interval
        self.store = store
        self.pending = pending
        self.stopping = stopping
        self.check_halt_configmap = check_halt_configmap
        self.reload_catalog = reload_catalog
        self.longest_cooldown = longest_cooldown
        self.halt_loaded = halt_loaded
        self.load_halt = load_halt
        self.recovery_due = recovery_due  # not recovered yet, and this replica leads
        self.recover = recover
        self.sweep_cordons = sweep_cordons  # node drills: leftover cordons of ended runs
        self._thread = threading.Thread(
            target=self._loop, name="aftershock-housekeeping", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def join(self, deadline: float) -> None:
        if self._thread.ident is not None:
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _loop(self) -> None:
        last_prune = -3600.0  # time.monotonic() may be under an hour (a fresh boot)
        while not self.stopping.wait(self.interval):
            try:
                self.check_halt_configmap()  # first: independent of the catalog and the history
                self.reload_catalog()
                if self.store.error:
                    self.store.check()  # recovers once the disk does
                # Hourly, from the first pass; an unusable history must not stop the rest of
                # housekeeping (halt, recovery, pending writes).
                if not self.store.error and time.monotonic() - last_prune > 3600:
                    with contextlib.suppress(StoreError):  # store.error tells /readyz
                        self.store.prune(time.time(), keep_disruptions=self.longest_cooldown())
                        last_prune = time.monotonic()
                if not self.halt_loaded() and not self.store.error:
                    self.load_halt()
                if not self.store.error and self.recovery_due():
                    self.recover()
                if not self.store.error:
                    self.sweep_cordons()
                self.pending.flush()
            except Exception:  # housekeeping must outlive any one failure; logged with traceback
                log.exception("housekeeping failed")
