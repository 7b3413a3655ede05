"""The thin asyncio shell every controller shares: wait for a change, decide, act, repeat."""

from __future__ import annotations

import abc
import asyncio
import contextlib
import datetime as dt
import logging
from typing import TYPE_CHECKING

from .actions import Action, execute
from .objects import now_utc
from .resources import ResourceKind

if TYPE_CHECKING:
    from lightkube import AsyncClient

    from .informer import Store

log = logging.getLogger(__name__)


class Controller(abc.ABC):
    """A level-triggered control loop over the shared caches.

    Subclasses name the resources they read (``watches``) and implement ``decide``, which maps a
    snapshot of the caches to actions. A pass runs after any change to a watched resource and at
    least every ``resync_seconds`` (for time-based rules such as minReadySeconds).
    """

    name: str = "controller"
    watches: tuple[ResourceKind, ...] = ()
    resync_seconds: float = 2.0
    # Coalesce bursts of events (a StatefulSet's pods changing together) into one pass.
    settle_seconds: float = 0.02

    def __init__(self, client: AsyncClient, store: Store) -> None:
        self.client = client
        self.store = store
        self._wake = asyncio.Event()
        self.passes = 0

    def wake(self) -> None:
        self._wake.set()

    @abc.abstractmethod
    def plans(self, now: dt.datetime) -> list[list[Action]]:
        """The actions that move the observed state toward the desired one, one list per object.

        Each list runs in order and stops at its first failure; the lists are independent, so one
        object's persistent error does not starve the others. Must not do I/O.
        """

    async def confirm(self, plan: list[Action]) -> bool:
        """Last check against the live API before an irreversible plan (deleting data, collecting
        garbage). Caches of different resources lag each other, so absence in a cache is a hint, not
        proof; Kubernetes' GC and PV controller re-read the object for the same reason."""
        return True

    async def prepare(self) -> None:  # noqa: B027 -- an optional hook, empty by design
        """Hook for a controller that must do something before its first pass."""

    async def run(self) -> None:
        for r in self.watches:
            self.store.subscribe(r, self.wake)
        await self.store.wait_synced(list(self.watches))
        await self.prepare()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.resync_seconds)
            await asyncio.sleep(self.settle_seconds)
            self._wake.clear()
            try:
                plans = [p for p in self.plans(now_utc()) if p]
                failed = False
                for actions in plans:
                    if not await self.confirm(actions):
                        continue
                    log.debug("%s: %s", self.name, "; ".join(a.describe() for a in actions))
                    failed |= not await execute(self.client, actions, self.store)
                if failed:
                    # Back off a little so a persistent error does not spin the loop.
                    await asyncio.sleep(0.2)
                if plans:
                    # Our writes change the world; look again soon rather than waiting for the echo.
                    self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: pass failed", self.name)
                await asyncio.sleep(0.5)
            self.passes += 1
