"""Writes the history refused, kept to retry: a halt must take effect even when it cannot be
recorded, and be recorded as soon as the disk allows (docs/safety.md, "Halt").

Keyed, so a newer write of the same fact replaces an older one; retried in insertion
order by the daemon's housekeeping loop. The lock is held across a write and its
bookkeeping, so a retry can never land after (and undo) a newer direct write.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from daemon.store.history import StoreError


class PendingWrites:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._writes: dict[str, Callable[[], None]] = {}

    def __contains__(self, key: str) -> bool:
        with self.lock:
            return key in self._writes

    def attempt(self, key: str, write: Callable[[], None]) -> bool:
        """Write now; if the history refuses, keep it for `flush`. True when written."""
        with self.lock:
            try:
                write()
            except StoreError:
                self._writes[key] = write
                return False
            self._writes.pop(key, None)
            return True

    def keep(self, key: str, write: Callable[[], None]) -> None:
        """Register a write without trying it now: `attempt` or `flush` does it later (a run's
        end is recorded by a listener, but never depends on the listener being called)."""
        with self.lock:
            self._writes[key] = write

    def discard(self, key: str) -> None:
        with self.lock:
            self._writes.pop(key, None)

    def flush(self) -> str:
        """Retry every pending write, oldest first; '' when none is left, else why not."""
        with self.lock:
            for key, write in list(self._writes.items()):
                try:
                    write()
                except StoreError as exc:
                    return str(exc)
                del self._writes[key]
            return ""
