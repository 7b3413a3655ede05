"""kopf handlers: thin. Each one parses nothing and decides nothing; it calls `reconcile`.

Create, update and resume react to the resource; a timer re-observes ZooKeeper (roles change without any
Kubernetes event). Passes for one cluster never overlap: a per-cluster lock serialises them.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import kopf
from lightkube import AsyncClient

from zkop.api.cluster import PLURAL
from zkop.api.common import GROUP, VERSION
from zkop.kube.client import Kube
from zkop.operator.reconcile import Context, Outcome, reconcile
from zkop.render.names import RenderOptions

log = logging.getLogger(__name__)

# How often each cluster is re-observed. ZooKeeper roles change without any Kubernetes event.
RESYNC_SECONDS = float(os.environ.get("ZKOP_RESYNC_SECONDS", "10"))


class OperatorState:
    """Process-wide state the handlers share: the API client and one lock per cluster."""

    def __init__(self) -> None:
        self.context: Context | None = None
        self.options = RenderOptions()
        self.locks: dict[str, asyncio.Lock] = {}

    def lock(self, uid: str) -> asyncio.Lock:
        return self.locks.setdefault(uid, asyncio.Lock())


STATE = OperatorState()


def configure(options: RenderOptions) -> None:
    STATE.options = options


@kopf.on.startup()
async def _startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Leader election among replicas is zkop's own (Lease); kopf's peering is not used.
    settings.peering.standalone = True
    settings.posting.level = logging.WARNING
    settings.persistence.finalizer = "zkop.io/finalizer"
    STATE.context = Context(Kube(AsyncClient()), STATE.options)


@kopf.on.cleanup()
async def _cleanup(**_: Any) -> None:
    if STATE.context is not None:
        await STATE.context.kube.client.close()


async def _pass(body: kopf.Body) -> Outcome:
    assert STATE.context is not None, "startup handler did not run"
    async with STATE.lock(body["metadata"]["uid"]):
        return await reconcile(body, STATE.context)


@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
@kopf.on.resume(GROUP, VERSION, PLURAL)
async def on_change(body: kopf.Body, **_: Any) -> None:
    await _pass(body)


@kopf.timer(GROUP, VERSION, PLURAL, interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
async def on_timer(body: kopf.Body, **_: Any) -> None:
    await _pass(body)
