"""The halt ConfigMap (`<kube.namespace>/<safety.halt_configmap>`, data `halted: "true"`),
read live: one GET with a short deadline, right before every kill and before a run starts.

A switch that is only polled leaves a window in which a run started after the ConfigMap was
created still kills. When the read fails (API down, timeout, forbidden) the last known state
stays in force: a halt once seen stays until a read shows it lifted; a switch never read
successfully counts as not set (the persisted API halt does not depend on this read).
"""

from __future__ import annotations

import threading
import time

from daemon.kube.client import Kube
from daemon.kube.errors import KubeError, NotFound

# Short: it sits between the decision to kill and the kill (fire-to-kill goal: 20 ms p99).
READ_TIMEOUT = 1.0
# The gate is asked several times within the few milliseconds before one kill (before the
# activity, before the re-check, after the intent write); a read that completed this
# recently answers them all, so a kill costs one GET. A trigger and the start-up read never
# reuse a read.
GATE_MAX_AGE = 0.015
TRUE_VALUES = ("true", "1", "yes", "on")


class HaltConfigMap:
    """The ConfigMap halt switch of one namespace; thread-safe."""

    def __init__(
        self, kube: Kube | None, namespace: str, name: str, *, timeout: float = READ_TIMEOUT
    ):
        self.kube, self.namespace, self.name, self.timeout = kube, namespace, name, timeout
        self.reason: str | None = None  # last known: the reason while halted, else None
        self.error = ""  # why the last read failed ('' when it succeeded)
        self._lock = threading.Lock()
        self._read_at = -1.0  # time.monotonic() when the last successful read completed

    def read(self, max_age: float = 0.0) -> str | None:
        """Read the ConfigMap now (or reuse a successful read younger than `max_age` seconds);
        the reason when halted, else None (the last known state when the read fails)."""
        if self.kube is None:
            return self.reason
        with self._lock:
            if max_age > 0 and time.monotonic() - self._read_at <= max_age:
                return self.reason
        try:
            configmap = self.kube.get("configmaps", self.namespace, self.name, timeout=self.timeout)
        except NotFound:
            return self._set(None, "")
        except KubeError as exc:
            with self._lock:
                self.error = exc.message
                return self.reason
        data = configmap.get("data") or {}
        if str(data.get("halted", "")).strip().lower() in TRUE_VALUES:
            return self._set(str(data.get("reason") or "no reason given"), "")
        return self._set(None, "")

    def _set(self, reason: str | None, error: str) -> str | None:
        with self._lock:
            self.reason, self.error = reason, error
            self._read_at = time.monotonic()
            return reason
