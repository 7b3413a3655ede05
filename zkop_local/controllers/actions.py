"""What a decision core asks for, and the one place that carries it out against the API server.

Decision cores return a list of these values; they never call the API. The executor runs a list in
order and stops at the first unexpected failure, because later actions may depend on earlier ones
(a StatefulSet's PVC must exist before its pod). The next pass recomputes everything anyway.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from lightkube import ApiError
from lightkube.types import CascadeType, PatchType

from .objects import Obj, name_of, namespace_of
from .resources import ResourceKind, model

if TYPE_CHECKING:
    from lightkube import AsyncClient

    from .informer import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Create:
    resource: ResourceKind
    body: Obj = field(compare=True, hash=False)
    reason: str = ""

    def describe(self) -> str:
        ident = name_of(self.body) or f"{self.body.get('metadata', {}).get('generateName', '')}*"
        return f"create {self.resource.kind} {namespace_of(self.body)}/{ident}"


@dataclass(frozen=True)
class Patch:
    resource: ResourceKind
    namespace: str
    name: str
    patch: Any = field(compare=True, hash=False)
    patch_type: Literal["merge", "json"] = "merge"
    subresource: Literal["", "status"] = ""
    reason: str = ""

    def describe(self) -> str:
        sub = "/status" if self.subresource else ""
        return f"patch {self.resource.kind} {self.namespace}/{self.name}{sub}"


@dataclass(frozen=True)
class Delete:
    resource: ResourceKind
    namespace: str
    name: str
    grace_period: int | None = None
    propagation: Literal["", "Background", "Foreground", "Orphan"] = ""
    reason: str = ""

    def describe(self) -> str:
        return f"delete {self.resource.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True)
class MakeDirectory:
    path: Path
    reason: str = ""

    def describe(self) -> str:
        return f"mkdir {self.path}"


@dataclass(frozen=True)
class RemoveDirectory:
    path: Path
    reason: str = ""

    def describe(self) -> str:
        return f"rm -r {self.path}"


Action = Create | Patch | Delete | MakeDirectory | RemoveDirectory

_CASCADE = {
    "Background": CascadeType.BACKGROUND,
    "Foreground": CascadeType.FOREGROUND,
    "Orphan": CascadeType.ORPHAN,
}


def _to_obj(result: Any) -> Obj | None:
    if result is None:
        return None
    if hasattr(result, "to_dict"):
        return dict(result.to_dict())
    return dict(result)


async def execute(client: AsyncClient, actions: list[Action], store: Store | None = None) -> bool:
    """Run ``actions`` in order. Returns False if one failed unexpectedly (the rest are skipped).

    Successful writes are fed back into ``store`` at once ("write-through"), so that the next pass
    does not act on a cache that has not yet seen our own write -- the job Kubernetes controllers
    give to "expectations". Without it a generateName create could be repeated.
    """
    for action in actions:
        try:
            result = await _execute_one(client, action)
        except ApiError as err:
            code = err.status.code
            if isinstance(action, Create) and code == 409:
                continue  # someone (or our previous pass) already made it
            if isinstance(action, Delete | Patch) and code == 404:
                continue  # already gone; nothing left to change
            log.info("%s failed (%s): %s", action.describe(), code, err.status.message)
            return False
        except OSError as err:
            log.warning("%s failed: %s", action.describe(), err)
            return False
        log.debug("%s: %s", action.describe(), action.reason)
        if store is not None and isinstance(action, Create | Patch) and result is not None:
            obj = _to_obj(result)
            if obj is not None:
                obj.setdefault("apiVersion", action.resource.api_version)
                obj.setdefault("kind", action.resource.kind)
                store.observe(action.resource, obj)
    return True


async def _execute_one(client: AsyncClient, action: Action) -> Any:
    if isinstance(action, Create):
        cls = model(action.resource)
        ns = namespace_of(action.body) or None
        create: Any = client.create  # the overloads cannot see that a generic class is namespaced
        return await create(cls(action.body), namespace=ns)
    if isinstance(action, Patch):
        cls = model(action.resource)
        target = cls.Status if action.subresource == "status" else cls
        ptype = PatchType.MERGE if action.patch_type == "merge" else PatchType.JSON
        if action.resource.namespaced:
            return await client.patch(
                target, action.name, action.patch, namespace=action.namespace, patch_type=ptype
            )
        return await client.patch(target, action.name, action.patch, patch_type=ptype)
    if isinstance(action, Delete):
        cls = model(action.resource)
        cascade = _CASCADE.get(action.propagation)
        if action.resource.namespaced:
            await client.delete(
                cls,
                action.name,
                namespace=action.namespace,
                grace_period=action.grace_period,
                cascade=cascade,
            )
        else:
            await client.delete(cls, action.name, grace_period=action.grace_period, cascade=cascade)
        return None
    if isinstance(action, MakeDirectory):
        action.path.mkdir(parents=True, exist_ok=True)
        return None
    shutil.rmtree(action.path, ignore_errors=True)
    return None
