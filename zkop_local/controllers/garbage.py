"""Garbage collector: ownerReferences, across every kind the API server serves (note §11).

- Background: a dependent whose owners are all gone is deleted; one that still has a live owner only
  loses the dangling references.
- Foreground: an owner being deleted with the ``foregroundDeletion`` finalizer has its dependents
  deleted; once no dependent with ``blockOwnerDeletion`` remains, the finalizer is removed.
- Orphan: an owner with the ``orphan`` finalizer has its reference removed from every dependent, then
  the finalizer is removed.

The API server adds the two finalizers on DELETE with a propagationPolicy; this controller does the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lightkube import ApiError

from .actions import Action, Delete, Patch
from .discovery import discover
from .loop import Controller
from .objects import (
    Obj,
    finalizers_of,
    is_terminating,
    meta,
    name_of,
    namespace_of,
    owner_refs_of,
    uid_of,
)
from .ownership import set_owner_refs
from .resources import ResourceKind, model

if TYPE_CHECKING:
    from lightkube import AsyncClient

    from .informer import Store

log = logging.getLogger(__name__)

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


@dataclass(frozen=True)
class OwnerKey:
    resource: ResourceKind
    namespace: str
    name: str
    uid: str


@dataclass
class Collection:
    """One GC decision: the actions, and the owners whose absence it relies on (checked live first)."""

    actions: list[Action]
    absent_owners: list[OwnerKey] = field(default_factory=list)


def _group_of(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def remove_finalizer(resource: ResourceKind, obj: Obj, finalizer: str) -> Patch:
    ops: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta(obj).get("resourceVersion")},
        {
            "op": "replace",
            "path": "/metadata/finalizers",
            "value": [f for f in finalizers_of(obj) if f != finalizer],
        },
    ]
    return Patch(
        resource, namespace_of(obj), name_of(obj), ops, patch_type="json", reason=f"done: {finalizer}"
    )


def decide_collection(
    objects: list[tuple[ResourceKind, Obj]],
    known: dict[tuple[str, str], ResourceKind],
    synced: set[ResourceKind],
) -> list[Collection]:
    """GC decisions over a snapshot of all objects.

    ``known`` maps (group, kind) to the served resource; an owner of an unknown kind, or of a kind whose
    cache is not filled yet, is assumed to exist -- the GC must never collect on missing knowledge.
    """
    by_uid: dict[str, tuple[ResourceKind, Obj]] = {uid_of(o): (rk, o) for rk, o in objects}
    dependents: dict[str, list[tuple[ResourceKind, Obj, dict[str, Any]]]] = defaultdict(list)
    for rk, obj in objects:
        for ref in owner_refs_of(obj):
            dependents[str(ref.get("uid"))].append((rk, obj, ref))

    decisions: list[Collection] = []
    for rk, obj in objects:
        refs = owner_refs_of(obj)
        if not refs or is_terminating(obj):
            continue
        solid, dangling, waiting = [], [], []
        absent: list[OwnerKey] = []
        for ref in refs:
            owner_rk = known.get((_group_of(str(ref.get("apiVersion", ""))), str(ref.get("kind", ""))))
            if owner_rk is None or owner_rk not in synced:
                solid.append(ref)
                continue
            found = by_uid.get(str(ref.get("uid")))
            owner_ns = namespace_of(obj) if owner_rk.namespaced else ""
            valid_scope = not (owner_rk.namespaced and not rk.namespaced)
            if found is None or found[0] != owner_rk or namespace_of(found[1]) != owner_ns or not valid_scope:
                dangling.append(ref)
                absent.append(OwnerKey(owner_rk, owner_ns, str(ref.get("name", "")), str(ref.get("uid"))))
            elif is_terminating(found[1]) and FOREGROUND in finalizers_of(found[1]):
                waiting.append(ref)
            else:
                solid.append(ref)
        if not dangling and not waiting:
            continue
        if solid:
            gone = {str(r.get("uid")) for r in dangling + waiting}
            keep = [r for r in refs if str(r.get("uid")) not in gone]
            decisions.append(Collection([set_owner_refs(rk, obj, keep, "owner gone")], absent))
        else:
            has_dependents = bool(dependents.get(uid_of(obj)))
            delete = Delete(
                rk,
                namespace_of(obj),
                name_of(obj),
                propagation="Foreground" if waiting and has_dependents else "Background",
                reason="all owners gone",
            )
            decisions.append(Collection([delete], absent))

    for rk, owner in objects:
        if not is_terminating(owner):
            continue
        finalizers = finalizers_of(owner)
        deps = dependents.get(uid_of(owner), [])
        if ORPHAN in finalizers:
            if deps:
                for dep_rk, dep, _ in deps:
                    keep = [r for r in owner_refs_of(dep) if r.get("uid") != uid_of(owner)]
                    decisions.append(Collection([set_owner_refs(dep_rk, dep, keep, "orphan")]))
            else:
                decisions.append(Collection([remove_finalizer(rk, owner, ORPHAN)]))
        elif FOREGROUND in finalizers and not any(ref.get("blockOwnerDeletion") for _, _, ref in deps):
            decisions.append(Collection([remove_finalizer(rk, owner, FOREGROUND)]))
    return decisions


class GarbageCollector(Controller):
    name = "garbagecollector"
    resync_seconds = 5.0
    settle_seconds = 0.1
    rediscover_seconds = 3.0

    def __init__(self, client: AsyncClient, store: Store) -> None:
        super().__init__(client, store)
        self.resources: list[ResourceKind] = []
        self._pending: dict[int, list[OwnerKey]] = {}
        self._discovery: asyncio.Task[None] | None = None

    async def _rediscover(self) -> None:
        try:
            found = await discover(self.client)
        except Exception as err:
            log.debug("discovery failed: %r", err)
            return
        for rk in found:
            if rk not in self.resources:
                self.store.subscribe(rk, self.wake)
        self.resources = found

    async def _rediscover_forever(self) -> None:
        while True:
            await asyncio.sleep(self.rediscover_seconds)
            await self._rediscover()

    async def prepare(self) -> None:
        await self._rediscover()
        self._discovery = asyncio.create_task(self._rediscover_forever(), name="gc discovery")

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            if self._discovery is not None:
                self._discovery.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._discovery

    def plans(self, now: dt.datetime) -> list[list[Action]]:
        objects = [(rk, o) for rk in self.resources for o in self.store.list(rk)]
        known = {(rk.group, rk.kind): rk for rk in self.resources}
        synced = {rk for rk in self.resources if self.store.is_synced(rk)}
        self._pending.clear()
        plans = []
        for decision in decide_collection(objects, known, synced):
            plans.append(decision.actions)
            if decision.absent_owners:
                self._pending[id(decision.actions)] = decision.absent_owners
        return plans

    async def confirm(self, plan: list[Action]) -> bool:
        for owner in self._pending.get(id(plan), []):
            try:
                kw: dict[str, Any] = {"namespace": owner.namespace} if owner.resource.namespaced else {}
                live = await self.client.get(model(owner.resource), owner.name, **kw)
            except ApiError as err:
                if err.status.code == 404:
                    continue
                return False
            if str(live.to_dict().get("metadata", {}).get("uid")) == owner.uid:
                return False  # our cache was behind; the owner is alive
        return True
