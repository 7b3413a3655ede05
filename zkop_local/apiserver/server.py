"""``ApiServer``: the local Kubernetes API server as one object (storage, HTTP, faults, request log).

Real clusters serve HTTPS with authentication and authorization; this server speaks plain HTTP on loopback
and lets everyone do everything, because it exists only for local runs and tests.
"""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from .faults import Fault, Faults, RequestRecord
from .handlers import Api, LogProvider, Target, WriteContext
from .meta import Obj
from .namespaces import BUILTIN_NAMESPACES, NamespaceController
from .resources import Registry, ResourceType
from .routes import Routes
from .store import Store

SYSTEM_MANAGER = "zkop-local-apiserver"


class ApiServer:
    """A Kubernetes-compatible API server in this process.

    ``bookmark_interval`` is how long a watch with ``allowWatchBookmarks`` may be quiet before a BOOKMARK
    (real servers: about a minute; kopf gives up after 70 s). ``history_size`` bounds the watch history;
    a watch from an older resourceVersion gets "410 Expired" as an ERROR event.
    """

    def __init__(
        self,
        *,
        bookmark_interval: float = 30.0,
        history_size: int = 2000,
        log_provider: LogProvider | None = None,
    ) -> None:
        self.store = Store(history_size=history_size)
        self.registry = Registry()
        self.faults = Faults()
        self.api = Api(self.store, self.registry, self.faults)
        self.api.log_provider = log_provider
        self.namespaces = NamespaceController(self.api)
        self._routes = Routes(
            self.api, self.faults, bookmark_interval=bookmark_interval, server_address=lambda: self.address
        )
        self._runner: web.AppRunner | None = None
        self.address = ""
        self.url = ""
        for name in BUILTIN_NAMESPACES:
            self.api.create(
                Target(self._type("", "v1", "namespaces"), "", ""),
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                WriteContext(SYSTEM_MANAGER),
            )

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0: any free port) and return the base URL."""
        self._runner = web.AppRunner(self._routes.app(), access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        # aiohttp exposes the bound addresses only through the runner.
        bound_port = port
        for address in self._runner.addresses:
            if isinstance(address, tuple) and len(address) >= 2:
                bound_port = int(address[1])
                break
        self.address = f"{host}:{bound_port}"
        self.url = f"http://{self.address}"
        self.namespaces.start()
        return self.url

    async def stop(self) -> None:
        self.store.close_watchers()
        await self.namespaces.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ApiServer:
        if not self.url:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def kubeconfig(self, path: str | os.PathLike[str]) -> Path:
        """Write a kubeconfig (context ``zkop-local``, no credentials) that every client here accepts."""
        if not self.url:
            raise RuntimeError("start the server before writing its kubeconfig")
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "zkop-local", "cluster": {"server": self.url}}],
            "users": [{"name": "zkop-local", "user": {}}],
            "contexts": [
                {
                    "name": "zkop-local",
                    "context": {"cluster": "zkop-local", "user": "zkop-local", "namespace": "default"},
                }
            ],
            "current-context": "zkop-local",
            "preferences": {},
        }
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        return target

    # -- inspection helpers for tests and the demo ---------------------------------------------------------

    def _type(self, group: str, version: str, plural: str) -> ResourceType:
        rtype = self.registry.lookup(group, version, plural)
        if rtype is None:
            raise KeyError(f"unknown resource {plural} in {group or 'core'}/{version}")
        return rtype

    def resource_type(self, api_version: str, plural: str) -> ResourceType:
        group, _, version = api_version.rpartition("/")
        return self._type(group, version, plural)

    def get(self, api_version: str, plural: str, name: str, namespace: str = "") -> Obj | None:
        """The object as a client would GET it, or None."""
        rtype = self.resource_type(api_version, plural)
        stored = self.store.get(rtype.key, namespace, name)
        return None if stored is None else self.api.present(rtype, stored)

    def list(self, api_version: str, plural: str, namespace: str | None = None) -> builtins.list[Obj]:
        rtype = self.resource_type(api_version, plural)
        return [self.api.present(rtype, o) for o in self.store.list(rtype.key, namespace)]

    def create(self, obj: Obj, *, manager: str = SYSTEM_MANAGER) -> Obj:
        """Create an object directly (no HTTP); the plural is looked up from apiVersion and kind."""
        rtype = self._type_of(obj)
        namespace = (obj.get("metadata") or {}).get("namespace", "default") if rtype.namespaced else ""
        return self.api.create(Target(rtype, namespace), obj, WriteContext(manager))

    def _type_of(self, obj: Obj) -> ResourceType:
        group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
        for rtype in self.registry.resources(group, version):
            if rtype.kind == obj.get("kind"):
                return rtype
        raise KeyError(f"unknown kind {obj.get('kind')} in {obj.get('apiVersion')}")

    def set_log_provider(self, provider: LogProvider | None) -> None:
        self.api.log_provider = provider

    # -- faults and the request log ------------------------------------------------------------------------

    def add_fault(self, action: str, **match: Any) -> Fault:
        """See ``faults.Fault``, e.g. ``add_fault("error", verb="patch", resource="pods", code=409)``."""
        return self.faults.add(action, **match)

    def clear_faults(self) -> None:
        self.faults.clear()

    @property
    def requests(self) -> builtins.list[RequestRecord]:
        return self.faults.requests

    def compact(self) -> None:
        """Drop the watch history, so any watch resuming from an old resourceVersion gets 410."""
        self.store.compact()
