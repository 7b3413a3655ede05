"""In-memory object storage with one monotonic resourceVersion counter and a bounded event history.

The counter plays the part of etcd's revision: every write takes the next number, an object carries the number
of its last write, and a list is served "at" the current number. Watches resume from any number still covered
by the history window; older numbers are "compacted" and answered with 410 (as an ERROR event, see watch.py).

All methods are synchronous: within one asyncio event loop that makes every write atomic, and a watcher that
subscribes in the same step as it snapshots can never miss an event.
"""

from __future__ import annotations

import asyncio
import base64
import builtins
import collections
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from .meta import Obj, deep

StorageKey = tuple[str, str]  # (group, plural)
ObjectKey = tuple[str, str]  # (namespace, name); namespace is "" for cluster-scoped objects


@dataclass
class WatchEvent:
    type: str  # ADDED, MODIFIED or DELETED
    rv: int
    storage: StorageKey
    namespace: str
    name: str
    obj: Obj
    # The state before this event (None for ADDED); selectors need it to turn a MODIFIED into ADDED/DELETED.
    old: Obj | None


@dataclass(eq=False)
class Watcher:
    storage: StorageKey
    namespace: str | None
    queue: asyncio.Queue[WatchEvent | None] = field(default_factory=asyncio.Queue)

    def wants(self, event: WatchEvent) -> bool:
        return event.storage == self.storage and (self.namespace is None or self.namespace == event.namespace)


@dataclass
class ListSnapshot:
    """The remaining items of a paginated list, kept so that every page is served at the first page's RV."""

    rv: int
    items: list[Obj]


class Store:
    def __init__(self, history_size: int = 2000, snapshot_limit: int = 128) -> None:
        self.rv = 0
        self._objects: dict[StorageKey, dict[ObjectKey, Obj]] = collections.defaultdict(dict)
        # The version before the last write of each object: served by the "stale read" fault.
        self._previous: dict[tuple[StorageKey, ObjectKey], Obj] = {}
        self.history: collections.deque[WatchEvent] = collections.deque(maxlen=history_size)
        # Watches that start at or after this RV can be served from history.
        self.compacted_rv = 0
        self._watchers: set[Watcher] = set()
        self._snapshots: collections.OrderedDict[str, ListSnapshot] = collections.OrderedDict()
        self._snapshot_limit = snapshot_limit
        self._snapshot_ids = itertools.count(1)

    # -- reads ---------------------------------------------------------------------------------------------

    def get(self, storage: StorageKey, namespace: str, name: str) -> Obj | None:
        """The stored object itself (callers must not mutate it; use ``deep`` first)."""
        return self._objects[storage].get((namespace, name))

    def previous(self, storage: StorageKey, namespace: str, name: str) -> Obj | None:
        return self._previous.get((storage, (namespace, name)))

    def list(self, storage: StorageKey, namespace: str | None = None) -> builtins.list[Obj]:
        """Objects ordered by (namespace, name), like etcd key order."""
        table = self._objects[storage]
        return [table[k] for k in sorted(table) if namespace is None or k[0] == namespace]

    def storages(self) -> builtins.list[StorageKey]:
        return [k for k, v in self._objects.items() if v]

    def count_in_namespace(self, namespace: str) -> int:
        return sum(1 for table in self._objects.values() for (ns, _) in table if ns == namespace)

    # -- writes --------------------------------------------------------------------------------------------

    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, storage: StorageKey, obj: Obj) -> Obj:
        """Create or replace ``obj`` (its metadata holds namespace and name); stamps a new resourceVersion."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        old = self._objects[storage].get(key)
        rv = self.next_rv()
        meta["resourceVersion"] = str(rv)
        self._objects[storage][key] = obj
        if old is not None:
            self._previous[(storage, key)] = old
        self._emit(
            WatchEvent("MODIFIED" if old is not None else "ADDED", rv, storage, key[0], key[1], obj, old)
        )
        return obj

    def remove(self, storage: StorageKey, namespace: str, name: str) -> Obj | None:
        """Remove an object; its last state gets a new resourceVersion, as the DELETED event carries."""
        old = self._objects[storage].pop((namespace, name), None)
        if old is None:
            return None
        self._previous.pop((storage, (namespace, name)), None)
        final = deep(old)
        rv = self.next_rv()
        final["metadata"]["resourceVersion"] = str(rv)
        self._emit(WatchEvent("DELETED", rv, storage, namespace, name, final, old))
        return final

    # -- watch support -------------------------------------------------------------------------------------

    def _emit(self, event: WatchEvent) -> None:
        if len(self.history) == self.history.maxlen and self.history:
            self.compacted_rv = self.history[0].rv
        self.history.append(event)
        for watcher in self._watchers:
            if watcher.wants(event):
                watcher.queue.put_nowait(event)

    def compact(self) -> None:
        """Forget all history (tests use this to force "too old resource version")."""
        self.history.clear()
        self.compacted_rv = self.rv
        self._snapshots.clear()

    def history_since(self, rv: int, watcher: Watcher) -> builtins.list[WatchEvent] | None:
        """Events after ``rv`` for the watcher, or None when ``rv`` is older than the retained window."""
        if rv < self.compacted_rv:
            return None
        return [e for e in self.history if e.rv > rv and watcher.wants(e)]

    def subscribe(self, storage: StorageKey, namespace: str | None) -> Watcher:
        watcher = Watcher(storage, namespace)
        self._watchers.add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def close_watchers_of(self, storage: StorageKey) -> None:
        """End the watch streams of one resource (its CRD was deleted)."""
        for watcher in [w for w in self._watchers if w.storage == storage]:
            watcher.queue.put_nowait(None)
            self._watchers.discard(watcher)

    def close_watchers(self) -> None:
        """End every watch stream (server shutdown)."""
        for watcher in self._watchers:
            watcher.queue.put_nowait(None)
        self._watchers.clear()

    # -- list pagination -----------------------------------------------------------------------------------

    def save_snapshot(self, rv: int, items: builtins.list[Obj]) -> str:
        snapshot_id = str(next(self._snapshot_ids))
        self._snapshots[snapshot_id] = ListSnapshot(rv, items)
        while len(self._snapshots) > self._snapshot_limit:
            self._snapshots.popitem(last=False)
        raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "id": snapshot_id}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def take_snapshot(self, token: str) -> ListSnapshot | None:
        """The snapshot behind a continue token; None when the token is unknown or expired."""
        try:
            padded = token + "=" * (-len(token) % 4)
            decoded: Any = json.loads(base64.urlsafe_b64decode(padded))
            snapshot_id = str(decoded["id"])
        except (ValueError, KeyError, TypeError):
            return None
        return self._snapshots.pop(snapshot_id, None)

    def expire_snapshots(self) -> None:
        self._snapshots.clear()
