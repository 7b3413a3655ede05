"""Test-side helpers for the integration tests: a lightkube façade with dict objects, and polling."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from lightkube import ApiError, AsyncClient
from lightkube.types import PatchType

from tests.local.controllers.factories import ready_status
from zkop_local.apiserver.server import ApiServer
from zkop_local.controllers.objects import Obj, name_of, namespace_of
from zkop_local.controllers.resources import POD, ResourceKind, model

T = TypeVar("T")


class Cluster:
    """A thin test-side façade over lightkube with dict objects."""

    def __init__(self, client: AsyncClient, server: ApiServer, state_dir: Path) -> None:
        self.client = client
        self.server = server
        self.state_dir = state_dir

    async def create(self, resource: ResourceKind, body: Obj) -> Obj:
        create: Any = self.client.create  # its overloads cannot tell a generic class's scope
        created: Any = await create(
            model(resource)(copy.deepcopy(body)), namespace=namespace_of(body) or None
        )
        return dict(created.to_dict())

    async def get(self, resource: ResourceKind, name: str, namespace: str = "ns") -> Obj | None:
        kw: dict[str, Any] = {"namespace": namespace} if resource.namespaced else {}
        try:
            found: Any = await self.client.get(model(resource), name, **kw)
        except ApiError as err:
            if err.status.code == 404:
                return None
            raise
        return dict(found.to_dict())

    async def list(self, resource: ResourceKind, namespace: str = "ns") -> list[Obj]:
        kw: dict[str, Any] = {"namespace": namespace} if resource.namespaced else {}
        found = [dict(o.to_dict()) async for o in self.client.list(model(resource), **kw)]
        return sorted(found, key=name_of)

    async def patch(
        self, resource: ResourceKind, name: str, patch: Any, namespace: str = "ns", status: bool = False
    ) -> Obj:
        cls = model(resource)
        kw: dict[str, Any] = {"namespace": namespace} if resource.namespaced else {}
        result: Any = await self.client.patch(
            cls.Status if status else cls, name, patch, patch_type=PatchType.MERGE, **kw
        )
        return dict(result.to_dict())

    async def delete(self, resource: ResourceKind, name: str, namespace: str = "ns", **kw: Any) -> None:
        if resource.namespaced:
            kw["namespace"] = namespace
        await self.client.delete(model(resource), name, **kw)

    async def make_ready(self, pod_name: str, ip: str, namespace: str = "ns", ready: bool = True) -> None:
        """What a kubelet would report for a started (and, if ``ready``, Ready) pod."""
        await self.patch(POD, pod_name, {"status": ready_status(ip, ready)}, namespace, status=True)


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float = 8.0, what: str = "") -> T:
    """Poll ``probe`` until it returns something truthy (controllers are asynchronous)."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: T | None = None
    while asyncio.get_running_loop().time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or probe}: last={last!r}")
