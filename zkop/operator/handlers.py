"""kopf handlers: thin. Each one parses nothing and decides nothing; it calls `reconcile`.

Create, update and resume react to the resource; a per-cluster daemon re-observes ZooKeeper (roles change
without any Kubernetes event): every couple of seconds while an operation is under way, every
RESYNC_SECONDS when the ensemble is stable. Passes for one cluster never overlap: a per-cluster lock
serialises them.
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
from zkop.kube.client import Kube, identify
from zkop.operator.election import Election, ElectionConfig, default_identity
from zkop.operator.leadership import LEADERSHIP
from zkop.operator.reconcile import Context, Outcome, reconcile
from zkop.render.names import RenderOptions
from zkop.zookeeper.sessions import Sessions

log = logging.getLogger(__name__)

# How often each cluster is re-observed when stable, and while an operation is in progress.
RESYNC_SECONDS = float(os.environ.get("ZKOP_RESYNC_SECONDS", "10"))
BUSY_SECONDS = min(2.0, RESYNC_SECONDS)


class OperatorState:
    """Process-wide state the handlers share: the API client and one lock per cluster."""

    def __init__(self) -> None:
        self.context: Context | None = None
        self.sessions = Sessions()  # ZooKeeper sessions for writing into ensembles (znodes, registries)
        self.options = RenderOptions()
        self.locks: dict[str, asyncio.Lock] = {}
        self.election_config: ElectionConfig | None = None  # None: one replica, always acting
        self.election: Election | None = None

    def lock(self, uid: str) -> asyncio.Lock:
        return self.locks.setdefault(uid, asyncio.Lock())


STATE = OperatorState()


def configure(options: RenderOptions, election: ElectionConfig | None = None) -> None:
    STATE.options = options
    STATE.election_config = election
    LEADERSHIP.identity = election.identity if election else default_identity()


@kopf.on.startup()
async def _startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Leader election among replicas is zkop's own (Lease); kopf's peering is not used.
    settings.peering.standalone = True
    settings.posting.level = logging.WARNING
    settings.persistence.finalizer = "zkop.io/finalizer"
    client = AsyncClient()
    identify(client, f"zkop/{LEADERSHIP.identity}")  # writes attributable to this replica
    STATE.context = Context(Kube(client), STATE.options)
    if STATE.election_config is not None:
        STATE.election = Election(STATE.election_config, LEADERSHIP, f"zkop/{LEADERSHIP.identity}")


@kopf.on.cleanup()
async def _cleanup(**_: Any) -> None:
    if STATE.election is not None:
        await STATE.election.stop()  # stops acting, then hands the Lease over
    await STATE.sessions.close()
    if STATE.context is not None:
        await STATE.context.kube.client.close()


async def _pass(body: kopf.Body) -> Outcome:
    assert STATE.context is not None, "startup handler did not run"
    if not LEADERSHIP.acting:
        return Outcome()  # another replica holds the Lease and acts
    async with STATE.lock(body["metadata"]["uid"]):
        return await reconcile(body, STATE.context)


@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
@kopf.on.resume(GROUP, VERSION, PLURAL)
async def on_change(body: kopf.Body, **_: Any) -> None:
    await _pass(body)


@kopf.daemon(GROUP, VERSION, PLURAL, initial_delay=BUSY_SECONDS, cancellation_timeout=10)
async def ensemble_loop(body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
    """Re-observe and reconcile for as long as the cluster exists (kopf keeps `body` current)."""
    while not stopped:
        try:
            outcome = await _pass(body)
            busy = outcome.action is not None or outcome.progressing
        except Exception:  # a failed pass is retried by the next one; kopf would stop the daemon
            log.exception(
                "%s/%s: reconcile pass failed", body["metadata"]["namespace"], body["metadata"]["name"]
            )
            busy = True
        await stopped.wait(BUSY_SECONDS if busy else RESYNC_SECONDS)


from zkop.operator import configsync as _configsync  # noqa: E402,F401  registers handlers
from zkop.operator import exports as _exports  # noqa: E402,F401  registers handlers
from zkop.operator import znodes as _znodes  # noqa: E402,F401  registers handlers
