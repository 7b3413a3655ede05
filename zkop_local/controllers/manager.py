"""``ControllerManager``: all local controllers over one lightkube client and one set of caches."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .deployment import DeploymentController, ReplicaSetController
from .endpoints import EndpointsController, EndpointSliceController
from .garbage import GarbageCollector
from .informer import Store
from .loop import Controller
from .namespaces import NamespaceController
from .nodes import NodeLifecycleController
from .statefulset import StatefulSetController
from .volumes import VolumeController

if TYPE_CHECKING:
    from lightkube import AsyncClient

log = logging.getLogger(__name__)

ALL_CONTROLLERS = (
    "statefulset",
    "deployment",
    "replicaset",
    "endpointslice",
    "endpoints",
    "persistentvolume",
    "namespace",
    "garbagecollector",
    "nodelifecycle",
)


class ControllerManager:
    """Runs the controllers as asyncio tasks; like kube-controller-manager, but in-process.

    ``client`` must be a lightkube ``AsyncClient`` for the local API server (the manager does not own it
    and does not close it). ``state_dir`` is the control plane's state directory; provisioned volumes
    live in ``<state_dir>/volumes``. ``controllers`` picks a subset by name (default: all).
    """

    def __init__(
        self,
        client: AsyncClient,
        state_dir: Path | str,
        *,
        controllers: Iterable[str] = ALL_CONTROLLERS,
        node_eviction_delay: dt.timedelta = dt.timedelta(seconds=5),
        node_monitor_grace: dt.timedelta = dt.timedelta(seconds=40),
    ) -> None:
        self.client = client
        self.state_dir = Path(state_dir)
        self.enabled = tuple(controllers)
        unknown = set(self.enabled) - set(ALL_CONTROLLERS)
        if unknown:
            raise ValueError(f"unknown controllers: {sorted(unknown)}")
        self.node_eviction_delay = node_eviction_delay
        self.node_monitor_grace = node_monitor_grace
        self.store: Store | None = None
        self.controllers: dict[str, Controller] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def _build(self, store: Store) -> dict[str, Controller]:
        c = self.client
        built: dict[str, Controller] = {
            "statefulset": StatefulSetController(c, store),
            "deployment": DeploymentController(c, store),
            "replicaset": ReplicaSetController(c, store),
            "endpointslice": EndpointSliceController(c, store),
            "endpoints": EndpointsController(c, store),
            "persistentvolume": VolumeController(c, store, self.state_dir),
            "namespace": NamespaceController(c, store),
            "garbagecollector": GarbageCollector(c, store),
            "nodelifecycle": NodeLifecycleController(
                c, store, self.node_monitor_grace, self.node_eviction_delay
            ),
        }
        return {name: built[name] for name in self.enabled}

    async def start(self) -> None:
        """Start every controller; returns at once (the caches fill in the background)."""
        if self._tasks:
            return
        (self.state_dir / "volumes").mkdir(parents=True, exist_ok=True)
        self.store = Store(self.client)
        self.controllers = self._build(self.store)
        self._tasks = [
            asyncio.create_task(ctrl.run(), name=f"controller {name}")
            for name, ctrl in self.controllers.items()
        ]
        for task in self._tasks:
            task.add_done_callback(self._report_crash)

    @staticmethod
    def _report_crash(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped: %r", task.get_name(), task.exception())

    async def wait_synced(self, timeout: float = 10.0) -> None:
        """Until every watched cache has been listed once (handy for tests and the demo)."""
        assert self.store is not None, "start() first"
        resources = {r for ctrl in self.controllers.values() for r in ctrl.watches}
        await asyncio.wait_for(self.store.wait_synced(sorted(resources)), timeout)

    async def stop(self) -> None:
        """Cancel the controllers and the watches, waiting for each to finish."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.store is not None:
            await self.store.close()
            self.store = None
