"""Namespace lifecycle: the built-in namespaces and the deletion of a terminating namespace's content.

A real cluster runs this as the namespace controller in kube-controller-manager. Here a small task in the
server process does the same job: while a namespace is Terminating it deletes every namespaced object in it
(objects with finalizers or graceful pods linger until their owners finish), and once nothing is left it
drops the ``kubernetes`` finalizer and the namespace itself goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from .errors import ApiError
from .handlers import Api, Target

log = logging.getLogger(__name__)

BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class NamespaceController:
    def __init__(self, api: Api, interval: float = 0.1) -> None:
        self.api = api
        self.interval = interval
        self._terminating: set[str] = set()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        api.on_namespace_terminating = self.terminating

    def terminating(self, name: str) -> None:
        self._terminating.add(name)
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="zkop-local-namespace-controller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            if not self._terminating:
                self._wakeup.clear()
                await self._wakeup.wait()
            for name in sorted(self._terminating):
                try:
                    if self.drain(name):
                        self._terminating.discard(name)
                except Exception:  # keep the controller alive; a real one would retry with back-off
                    log.exception("draining namespace %s failed", name)
            await asyncio.sleep(self.interval)

    def drain(self, name: str) -> bool:
        """One pass over a terminating namespace; True when it is gone."""
        api = self.api
        for rtype in api.registry.all():
            if not rtype.namespaced or rtype.version != _first_version(api, rtype.group, rtype.plural):
                continue
            for obj in api.store.list(rtype.key, name):
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                with contextlib.suppress(ApiError):
                    api.delete(
                        Target(rtype, name, obj["metadata"]["name"]), {"propagationPolicy": "Background"}
                    )
        if api.store.count_in_namespace(name):
            return False
        namespace = api.store.get(("", "namespaces"), "", name)
        if namespace is None:
            return True
        if namespace["metadata"].get("finalizers"):
            return False  # someone else's finalizer still holds it
        api.store.remove(("", "namespaces"), "", name)
        return True


def _first_version(api: Api, group: str, plural: str) -> str:
    found = api.registry.any_version(group, plural)
    return found.version if found else ""
