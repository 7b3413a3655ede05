"""Leader election among operator replicas with a coordination.k8s.io/v1 Lease, as client-go does it.

- Candidates GET the Lease; a missing one is CREATEd (the 201 decides), a held one is left alone until it
  has expired, judged on the candidate's *own* monotonic clock: the moment it last saw the record change
  plus leaseDurationSeconds. Remote timestamps are never compared, so clock skew does not matter.
- Taking over or renewing is a PUT carrying the resourceVersion read; optimistic concurrency decides a
  race (the loser gets 409). A change of holder sets acquireTime and increments leaseTransitions.
- The leader renews every retry period. It stops acting (`Leadership.lose()`) when `renew_deadline` has
  passed since the start of its last successful renewal, whatever state its requests are in. Another
  candidate saw that renewal no earlier than it was sent and waits a whole lease duration after that, so
  with renew_deadline < lease_duration the old leader has stopped before anyone else can start.
- On a graceful stop the leader releases the Lease (empty holder, duration 1 s), so a successor does not
  wait out the full duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

from zkop.operator.leadership import Leadership

log = logging.getLogger(__name__)

DEFAULT_LEASE_NAME = "zkop-leader"


def default_identity() -> str:
    """The pod name in a cluster (POD_NAME from the downward API, else HOSTNAME), plus the pid so two
    processes on one machine never share an identity."""
    host = os.environ.get("POD_NAME") or os.environ.get("HOSTNAME") or socket.gethostname()
    return f"{host}_{os.getpid()}"


def default_namespace() -> str:
    """The operator's own namespace in a cluster; `default` elsewhere."""
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    with contextlib.suppress(OSError), open(path) as f:
        return f.read().strip() or "default"
    return os.environ.get("POD_NAMESPACE", "default")


@dataclass(frozen=True)
class ElectionConfig:
    namespace: str
    identity: str
    name: str = DEFAULT_LEASE_NAME
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        # The safety argument above needs both inequalities (client-go refuses the same configurations).
        if not self.lease_duration > self.renew_deadline > self.retry_period > 0:
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")


def micro_time(moment: dt.datetime) -> dt.datetime:
    """A MicroTime value. lightkube writes datetimes with isoformat, which drops the fraction when it is
    zero; nudging that one case by a microsecond keeps the six fractional digits MicroTime has."""
    moment = moment.astimezone(dt.UTC)
    return moment.replace(microsecond=1) if moment.microsecond == 0 else moment


@dataclass(frozen=True)
class Record:
    holder: str
    lease_duration: int
    acquire_time: Any
    renew_time: Any
    transitions: int

    @classmethod
    def of(cls, lease: Lease) -> Record:
        spec = lease.spec or LeaseSpec()
        return cls(
            spec.holderIdentity or "",
            int(spec.leaseDurationSeconds or 0),
            spec.acquireTime,
            spec.renewTime,
            int(spec.leaseTransitions or 0),
        )


class Elector:
    """Drives `leadership` from the Lease. `run()` until cancelled; `acting` mirrors leadership."""

    def __init__(
        self,
        client: AsyncClient,
        config: ElectionConfig,
        leadership: Leadership,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.client = client
        self.config = config
        self.leadership = leadership
        self.clock = clock
        self.wall = wall
        self.observed: Record | None = None
        self.observed_at = 0.0
        self.leading = False
        self.transitions_seen: list[tuple[float, str]] = []  # (when, "gain"|"lose"), for logs and tests

    # -- one attempt -------------------------------------------------------------------------------------

    def _spec(self, acquire: dt.datetime, now: dt.datetime, transitions: int) -> LeaseSpec:
        return LeaseSpec(
            holderIdentity=self.config.identity,
            # Rounded up: candidates wait what is written, which must not be shorter than configured.
            leaseDurationSeconds=math.ceil(self.config.lease_duration),
            acquireTime=micro_time(acquire),
            renewTime=micro_time(now),
            leaseTransitions=transitions,
        )

    async def try_acquire_or_renew(self) -> bool:
        """One step of client-go's tryAcquireOrRenew: True when this candidate holds the Lease now."""
        now = self.wall()
        try:
            lease = await self.client.get(Lease, self.config.name, namespace=self.config.namespace)
        except ApiError as exc:
            if exc.status.code != 404:
                log.warning("leader election: reading Lease failed: %s", exc.status.message)
                return False
            return await self._create(now)
        record = Record.of(lease)
        seen = self.clock()  # after the response: the later the observation, the safer the expiry
        if record != self.observed:
            self.observed, self.observed_at = record, seen
        held_by_other = record.holder not in ("", self.config.identity)
        if held_by_other and self.observed_at + record.lease_duration > seen:
            return False
        mine = record.holder == self.config.identity
        acquire = record.acquire_time if mine and record.acquire_time else now
        transitions = record.transitions if mine else record.transitions + 1
        lease.spec = self._spec(acquire, now, transitions)
        try:
            # PUT with the resourceVersion just read: a concurrent writer makes this a 409, not a tie.
            updated = await self.client.replace(lease)
        except ApiError as exc:
            if exc.status.code != 409:
                log.warning("leader election: updating Lease failed: %s", exc.status.message)
            return False
        self.observed, self.observed_at = Record.of(updated), self.clock()
        return True

    async def _create(self, now: dt.datetime) -> bool:
        lease = Lease(
            metadata=ObjectMeta(name=self.config.name, namespace=self.config.namespace),
            spec=self._spec(now, now, 0),
        )
        try:
            created = await self.client.create(lease)
        except ApiError as exc:
            if exc.status.code != 409:
                log.warning("leader election: creating Lease failed: %s", exc.status.message)
            return False
        self.observed, self.observed_at = Record.of(created), self.clock()
        return True

    # -- the loop ----------------------------------------------------------------------------------------

    def _gain(self) -> None:
        self.leading = True
        self.transitions_seen.append((self.clock(), "gain"))
        self.leadership.gain()
        log.info(
            "leader election: %s acquired Lease %s/%s",
            self.config.identity,
            self.config.namespace,
            self.config.name,
        )

    def _lose(self, why: str) -> None:
        if self.leading:
            self.leadership.lose()
            self.leading = False
            self.transitions_seen.append((self.clock(), "lose"))
            log.warning("leader election: %s stopped acting: %s", self.config.identity, why)

    async def _acquire(self) -> None:
        while True:
            if await self._bounded(self.try_acquire_or_renew(), self.config.renew_deadline):
                return
            # client-go jitters the acquire retry (factor 1.2) so candidates do not move in lockstep.
            await asyncio.sleep(self.config.retry_period * (1 + 0.2 * random.random()))

    async def _renew(self) -> None:
        """Return when leadership is lost; `lose()` happens exactly at the renew deadline."""
        last_success = self.clock()
        while True:
            await asyncio.sleep(self.config.retry_period)
            while True:
                remaining = last_success + self.config.renew_deadline - self.clock()
                if remaining <= 0:
                    self._lose("could not renew the Lease before the renew deadline")
                    return
                attempt = self.clock()
                if await self._bounded(self.try_acquire_or_renew(), remaining):
                    last_success = attempt  # measured from when the request left, not when it returned
                    break
                remaining = last_success + self.config.renew_deadline - self.clock()
                await asyncio.sleep(max(0.0, min(self.config.retry_period, remaining)))

    @staticmethod
    async def _bounded(attempt: Any, timeout: float) -> bool:
        try:
            return bool(await asyncio.wait_for(attempt, timeout=max(timeout, 0.001)))
        except TimeoutError:
            return False
        except Exception as exc:  # the API server unreachable, a broken response: a failed attempt
            log.warning("leader election: attempt failed: %s: %s", type(exc).__name__, exc)
            return False

    async def run(self) -> None:
        self.leadership.lose()  # nothing acts before the Lease says so
        try:
            while True:
                await self._acquire()
                self._gain()
                await self._renew()
        except asyncio.CancelledError:
            was_leading = self.leading
            self._lose("stopping")
            if was_leading and self.config.release_on_cancel:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.release(), timeout=self.config.retry_period)
            raise

    async def release(self) -> None:
        """Hand the Lease back (client-go's ReleaseOnCancel): holder cleared, duration 1 s, transitions
        kept, so the next candidate takes over at its next retry instead of after a full lease."""
        lease = await self.client.get(Lease, self.config.name, namespace=self.config.namespace)
        if Record.of(lease).holder != self.config.identity:
            return
        now = micro_time(self.wall())
        assert lease.spec is not None
        lease.spec.holderIdentity = None
        lease.spec.leaseDurationSeconds = 1
        lease.spec.acquireTime = now
        lease.spec.renewTime = now
        await self.client.replace(lease)
        log.info("leader election: %s released the Lease", self.config.identity)


class Election:
    """The running election of this process: its own API client (Lease traffic never queues behind
    reconcile requests) and the task driving `leadership`."""

    def __init__(self, config: ElectionConfig, leadership: Leadership, user_agent: str) -> None:
        from zkop.kube.client import identify

        self.client = AsyncClient()
        identify(self.client, user_agent)
        self.elector = Elector(self.client, config, leadership)
        leadership.lose()  # before the first handler runs, not when the task first gets scheduled
        self.task = asyncio.create_task(self.elector.run(), name="zkop-leader-election")

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.client.close()
