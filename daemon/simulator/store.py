"""The object store behind the simulated API: versioned objects, event history, watchers.

Like etcd behind a real API server, every write bumps one cluster-wide resourceVersion and
appends an event to a bounded per-resource history. A watch starting at version N replays
the history after N (or gets 410 Expired when N has been compacted away) and is then fed
live events; replay and registration happen under one lock, so a watcher never misses or
duplicates an event. Stored objects are never mutated in place: a write stores a new dict,
so readers may hold references without copying.
"""

from __future__ import annotations

import copy
import queue
import random
import string
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from daemon.simulator.errors import ApiError

Obj = dict[str, Any]
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apiserver's generateName alphabet


def now_rfc3339(at: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro(at: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if at is None else at, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    key: str  # storage key, e.g. "pods", "deployments.apps"
    obj: Obj
    old: Obj | None


@dataclass
class Watcher:
    """One watch stream's queue; the server thread drains it."""

    key: str
    accepts: Callable[[Obj], bool]
    namespace: str | None
    max_queue: int = 100_000
    events: queue.SimpleQueue[Event | None] = field(default_factory=queue.SimpleQueue)
    closed: bool = False
    reason: str = ""

    def offer(self, event: Event) -> None:
        if self.closed:
            return
        if self.namespace is not None and event.obj["metadata"].get("namespace") != self.namespace:
            return
        if self.events.qsize() >= self.max_queue:
            self.close("watcher too slow; queue overflow")
            return
        self.events.put(event)

    def close(self, reason: str = "") -> None:
        if not self.closed:
            self.closed = True
            self.reason = reason
            self.events.put(None)


class Store:
    def __init__(self, history: int = 10_000, seed: int | None = None):
        self.lock = threading.RLock()
        self.rv = 1000
        self._objects: dict[str, dict[str, dict[str, Obj]]] = {}
        self._history: dict[str, deque[Event]] = {}
        self._compacted: dict[str, int] = {}  # highest rv no longer replayable, per key
        self._history_size = history
        self._watchers: dict[str, list[Watcher]] = {}
        self._listeners: list[Callable[[Event], None]] = []
        self._rng = random.Random(seed)

    # ------------------------------------------------------------------ reads

    def get(self, key: str, namespace: str | None, name: str) -> Obj | None:
        return self._objects.get(key, {}).get(namespace or "", {}).get(name)

    def items(self, key: str, namespace: str | None = None) -> list[Obj]:
        """Objects sorted by (namespace, name), like etcd's key order."""
        with self.lock:
            spaces = self._objects.get(key, {})
            if namespace is not None:
                bucket = spaces.get(namespace, {})
                return [bucket[n] for n in sorted(bucket)]
            return [spaces[ns][n] for ns in sorted(spaces) for n in sorted(spaces[ns])]

    # ------------------------------------------------------------------ writes

    def _next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def generate_name(self, key: str, namespace: str, prefix: str) -> str:
        bucket = self._objects.get(key, {}).get(namespace, {})
        for _ in range(100):
            name = prefix + "".join(self._rng.choice(_SUFFIX_ALPHABET) for _ in range(5))
            if name not in bucket:
                return name
        raise ApiError.server_timeout("could not generate a unique name")

    def create(self, key: str, group_resource: str, obj: Obj, *, dry_run: bool = False) -> Obj:
        with self.lock:
            meta = obj.setdefault("metadata", {})
            namespace = meta.get("namespace") or ""
            if not meta.get("name"):
                prefix = meta.get("generateName")
                if not prefix:
                    raise ApiError.invalid(
                        group_resource,
                        "",
                        "metadata.name: Required value: name or generateName is required",
                    )
                meta["name"] = self.generate_name(key, namespace, prefix)
            name = meta["name"]
            bucket = self._objects.setdefault(key, {}).setdefault(namespace, {})
            if name in bucket:
                raise ApiError.already_exists(group_resource, name)
            meta["uid"] = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            meta["creationTimestamp"] = now_rfc3339()
            meta.pop("resourceVersion", None)
            meta.pop("deletionTimestamp", None)
            if "spec" in obj:
                meta["generation"] = 1
            if dry_run:
                meta["resourceVersion"] = str(self.rv)
                return obj
            meta["resourceVersion"] = str(self._next_rv())
            bucket[name] = obj
            self._emit(key, "ADDED", obj, None)
            return obj

    def replace(
        self,
        key: str,
        group_resource: str,
        obj: Obj,
        *,
        expect_rv: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Store a new version of an existing object; `expect_rv` makes it conditional (409).

        Like the API server, a write that changes nothing is not a write: the current object
        comes back with its resourceVersion and watchers see nothing.
        """
        with self.lock:
            meta = obj["metadata"]
            namespace, name = meta.get("namespace") or "", meta["name"]
            current = self.get(key, namespace, name)
            if current is None:
                raise ApiError.not_found(group_resource, name)
            if expect_rv and expect_rv != current["metadata"]["resourceVersion"]:
                raise ApiError.conflict(group_resource, name)
            for fixed in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ):
                if fixed in current["metadata"]:
                    meta[fixed] = current["metadata"][fixed]
                else:
                    meta.pop(fixed, None)
            if "spec" in obj:
                generation = current["metadata"].get("generation", 1)
                meta["generation"] = generation + (obj.get("spec") != current.get("spec"))
            if _same_but_version(obj, current):
                return current  # a no-op write: no new resourceVersion, no MODIFIED event
            if dry_run:
                meta["resourceVersion"] = current["metadata"]["resourceVersion"]
                return obj
            meta["resourceVersion"] = str(self._next_rv())
            self._objects[key][namespace][name] = obj
            self._emit(key, "MODIFIED", obj, current)
            return obj

    def mark_deleting(self, key: str, obj: Obj, deletion_timestamp: str, grace: int) -> Obj:
        """Graceful deletion's first step: the object stays, with a deletionTimestamp."""
        with self.lock:
            updated = copy.deepcopy(obj)
            meta = updated["metadata"]
            meta["deletionTimestamp"] = deletion_timestamp
            meta["deletionGracePeriodSeconds"] = grace
            meta["resourceVersion"] = str(self._next_rv())
            self._objects[key][meta.get("namespace") or ""][meta["name"]] = updated
            self._emit(key, "MODIFIED", updated, obj)
            return updated

    def remove(self, key: str, namespace: str | None, name: str) -> Obj | None:
        with self.lock:
            bucket = self._objects.get(key, {}).get(namespace or "", {})
            current = bucket.pop(name, None)
            if current is None:
                return None
            final = dict(current)
            final["metadata"] = dict(current["metadata"], resourceVersion=str(self._next_rv()))
            self._emit(key, "DELETED", final, current)
            return final

    # ------------------------------------------------------------------ events

    def _emit(self, key: str, kind: str, obj: Obj, old: Obj | None) -> None:
        event = Event(self.rv, kind, key, obj, old)
        history = self._history.get(key)
        if history is None:
            history = self._history[key] = deque()
        history.append(event)
        if len(history) > self._history_size:
            dropped = history.popleft()
            self._compacted[key] = dropped.rv
        for watcher in self._watchers.get(key, ()):
            watcher.offer(event)
        for listener in self._listeners:
            listener(event)

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """In-process subscribers (controllers); called under the store lock, must be quick."""
        self._listeners.append(listener)

    def snapshot(self, key: str, namespace: str | None, rv: int) -> list[Obj]:
        """The objects as they were at `rv` (a list with resourceVersionMatch=Exact).

        The kept history is undone newest first; 410 Expired when it no longer reaches `rv`.
        """
        with self.lock:
            if rv < self._compacted.get(key, 0) or rv > self.rv:
                raise ApiError.expired(
                    f"Timeout: Too large resource version: {rv}, current: {self.rv}"
                    if rv > self.rv
                    else "The resourceVersion for the provided list is too old."
                )
            state = {
                (o["metadata"].get("namespace") or "", o["metadata"]["name"]): o
                for o in self.items(key, namespace)
            }
            for event in reversed(self._history.get(key, ())):
                if event.rv <= rv:
                    break
                where = (
                    event.obj["metadata"].get("namespace") or "",
                    event.obj["metadata"]["name"],
                )
                if namespace is not None and where[0] != namespace:
                    continue
                if event.type == "ADDED":
                    state.pop(where, None)
                elif event.old is not None:
                    state[where] = event.old
            return [state[k] for k in sorted(state)]

    def oldest_replayable(self, key: str) -> int:
        return self._compacted.get(key, 0)

    def watch(self, watcher: Watcher, since: int | None) -> list[Event]:
        """Register `watcher`; returns the history to replay first (after `since`).

        `since=None` means "from now": nothing to replay. Raises ApiError.expired when
        `since` is older than the kept history.
        """
        with self.lock:
            if since is not None:
                floor = self._compacted.get(watcher.key, 0)
                if since < floor:
                    raise ApiError.expired(f"too old resource version: {since} ({floor + 1})")
                replay = [e for e in self._history.get(watcher.key, ()) if e.rv > since]
            else:
                replay = []
            self._watchers.setdefault(watcher.key, []).append(watcher)
            return replay

    def open_watches(self) -> dict[str, int]:
        """Open watch streams per resource key, so tests can wait for a client's watch."""
        with self.lock:
            return {key: len(ws) for key, ws in sorted(self._watchers.items()) if ws}

    def unwatch(self, watcher: Watcher) -> None:
        with self.lock:
            watchers = self._watchers.get(watcher.key, [])
            if watcher in watchers:
                watchers.remove(watcher)

    def random_suffix(self, length: int = 5) -> str:
        return "".join(
            self._rng.choice(string.ascii_lowercase + string.digits) for _ in range(length)
        )


def _same_but_version(obj: Obj, current: Obj) -> bool:
    strip = ("resourceVersion", "managedFields")
    left = {k: v for k, v in obj["metadata"].items() if k not in strip}
    right = {k: v for k, v in current["metadata"].items() if k not in strip}
    return left == right and {k: v for k, v in obj.items() if k != "metadata"} == {
        k: v for k, v in current.items() if k != "metadata"
    }
