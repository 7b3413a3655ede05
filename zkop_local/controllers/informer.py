"""List+watch caches ("informers") shared by all controllers of one manager.

One informer per resource keeps the latest JSON of every object. Controllers read snapshots of the
caches and are woken (level-triggered) whenever anything they watch changes; they never get the
individual events, so a missed or coalesced event cannot make them miss a state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from lightkube import ApiError
from lightkube.core.exceptions import NotReadyError

from .objects import Obj, name_of, namespace_of
from .resources import ResourceKind, model

if TYPE_CHECKING:
    from lightkube import AsyncClient

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, name); namespace is "" for cluster-scoped objects


def _rv_int(obj: Obj) -> int | None:
    rv = obj.get("metadata", {}).get("resourceVersion")
    try:
        return int(rv) if rv is not None else None
    except (TypeError, ValueError):
        return None


def _newer_or_unknown(incoming: Obj, cached: Obj | None) -> bool:
    """Whether ``incoming`` may replace ``cached``.

    resourceVersions are opaque in general; the local API server uses one global counter (as etcd
    does), so when both parse as integers we use them to refuse to go back in time. That matters only
    because of write-through: a watch event older than our own write may arrive after it.
    """
    if cached is None:
        return True
    new, old = _rv_int(incoming), _rv_int(cached)
    return new is None or old is None or new >= old


class Informer:
    """The cache of one resource, filled by LIST and kept current by WATCH."""

    def __init__(self, client: AsyncClient, resource: ResourceKind, watch_timeout: int = 50) -> None:
        self.client = client
        self.resource = resource
        self.watch_timeout = watch_timeout
        self.objects: dict[Key, Obj] = {}
        self.synced = asyncio.Event()
        self.listeners: list[Callable[[], None]] = []
        # Set when the API server does not serve the resource at all (404 on list): then the cache stays
        # empty and "synced", so controllers that merely *could* use the kind do not wait forever.
        self.unavailable = False

    def _notify(self) -> None:
        for listener in self.listeners:
            listener()

    def _normalise(self, obj: Any) -> Obj:
        data: Obj = dict(obj.to_dict()) if hasattr(obj, "to_dict") else dict(obj)
        # Built-in list items usually omit kind/apiVersion; the cores want them for owner references.
        data.setdefault("apiVersion", self.resource.api_version)
        data.setdefault("kind", self.resource.kind)
        return data

    def observe(self, obj: Obj) -> None:
        """Record a newer state of one object (from a watch event or from our own write)."""
        key = (namespace_of(obj), name_of(obj))
        if _newer_or_unknown(obj, self.objects.get(key)):
            self.objects[key] = obj
            self._notify()

    def forget(self, obj: Obj) -> None:
        key = (namespace_of(obj), name_of(obj))
        cached = self.objects.get(key)
        # A DELETED event for an older incarnation must not drop a recreated object of the same name.
        if cached is not None and (
            cached.get("metadata", {}).get("uid") == obj.get("metadata", {}).get("uid")
            or _newer_or_unknown(obj, cached)
        ):
            del self.objects[key]
            self._notify()

    def items(self) -> list[Obj]:
        return list(self.objects.values())

    async def run(self) -> None:
        cls = model(self.resource)
        ns_kw: dict[str, Any] = {"namespace": "*"} if self.resource.namespaced else {}
        while True:
            try:
                listing = self.client.list(cls, **ns_kw)
                fresh: dict[Key, Obj] = {}
                async for item in listing:
                    obj = self._normalise(item)
                    fresh[(namespace_of(obj), name_of(obj))] = obj
                try:
                    rv: str | None = listing.resourceVersion
                except NotReadyError:  # a server that sent no list resourceVersion: watch from "now"
                    rv = None
                self.objects = fresh
                self.unavailable = False
                self.synced.set()
                self._notify()
                async for event, item in self.client.watch(
                    cls, resource_version=rv, server_timeout=self.watch_timeout, **ns_kw
                ):
                    obj = self._normalise(item)
                    if event == "DELETED":
                        self.forget(obj)
                    elif event in ("ADDED", "MODIFIED"):
                        self.observe(obj)
            except asyncio.CancelledError:
                raise
            except ApiError as err:
                if err.status.code == 404:
                    if not self.unavailable:
                        log.info("%s is not served; leaving its cache empty", self.resource)
                    self.unavailable = True
                    self.objects = {}
                    self.synced.set()
                    await asyncio.sleep(5)
                elif err.status.code != 410:  # 410: our resourceVersion expired; simply list again
                    log.warning("watch %s: %s", self.resource, err.status.message)
                    await asyncio.sleep(0.5)
            except Exception as err:
                log.debug("watch %s interrupted: %r", self.resource, err)
                await asyncio.sleep(0.5)


class Store:
    """All informers of one manager, created on first use and shared between controllers."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.informers: dict[ResourceKind, Informer] = {}
        self._tasks: dict[ResourceKind, asyncio.Task[None]] = {}

    def informer(self, resource: ResourceKind) -> Informer:
        inf = self.informers.get(resource)
        if inf is None:
            inf = self.informers[resource] = Informer(self.client, resource)
            self._tasks[resource] = asyncio.create_task(inf.run(), name=f"informer {resource}")
        return inf

    def subscribe(self, resource: ResourceKind, listener: Callable[[], None]) -> Informer:
        inf = self.informer(resource)
        inf.listeners.append(listener)
        return inf

    def list(self, resource: ResourceKind, namespace: str | None = None) -> list[Obj]:
        inf = self.informers.get(resource)
        if inf is None:
            return []
        if namespace is None:
            return inf.items()
        return [o for o in inf.items() if namespace_of(o) == namespace]

    def get(self, resource: ResourceKind, namespace: str, name: str) -> Obj | None:
        inf = self.informers.get(resource)
        return None if inf is None else inf.objects.get((namespace, name))

    def observe(self, resource: ResourceKind, obj: Obj) -> None:
        inf = self.informers.get(resource)
        if inf is not None:
            inf.observe(obj)

    def is_synced(self, resource: ResourceKind) -> bool:
        inf = self.informers.get(resource)
        return inf is not None and inf.synced.is_set()

    async def wait_synced(self, resources: Iterable[ResourceKind]) -> None:
        for r in resources:
            await self.informer(r).synced.wait()

    def stop_informer(self, resource: ResourceKind) -> None:
        task = self._tasks.pop(resource, None)
        self.informers.pop(resource, None)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
