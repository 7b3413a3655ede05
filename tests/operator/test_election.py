"""Leader election against the local API server: electors with short durations, sampled continuously.

Durations are scaled down (lease 2 s, renew deadline 1.2 s, retry 0.2 s); the safety argument only needs
lease > renew deadline > retry, which these keep.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.coordination_v1 import Lease

from zkop.kube.client import identify
from zkop.operator.election import ElectionConfig, Elector, micro_time
from zkop.operator.leadership import Leadership
from zkop_local.apiserver.server import ApiServer

LEASE, RENEW, RETRY = 2.0, 1.2, 0.2


@dataclass
class Replica:
    name: str
    elector: Elector
    leadership: Leadership
    task: asyncio.Task[None] | None = None


@dataclass
class Harness:
    server: ApiServer
    kubeconfig: Path
    replicas: list[Replica] = field(default_factory=list)
    clients: list[AsyncClient] = field(default_factory=list)
    samples: list[tuple[float, tuple[str, ...]]] = field(default_factory=list)

    def add(self, name: str, *, release: bool = True) -> Replica:
        client = AsyncClient(KubeConfig.from_file(str(self.kubeconfig)))
        identify(client, f"zkop/{name}")
        self.clients.append(client)
        leadership = Leadership()
        leadership.lose()  # as `Election` does before its task first runs
        config = ElectionConfig(
            namespace="default",
            identity=name,
            lease_duration=LEASE,
            renew_deadline=RENEW,
            retry_period=RETRY,
            release_on_cancel=release,
        )
        replica = Replica(name, Elector(client, config, leadership), leadership)
        self.replicas.append(replica)
        return replica

    def start(self, replica: Replica) -> None:
        replica.task = asyncio.create_task(replica.elector.run())

    async def stop(self, replica: Replica) -> float:
        """Cancel as a crash would (or a shutdown, with release); the moment it was cancelled."""
        assert replica.task is not None
        moment = time.monotonic()
        replica.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await replica.task
        replica.task = None
        return moment

    def acting(self) -> list[Replica]:
        return [r for r in self.replicas if r.leadership.acting]

    async def sample(self) -> None:
        while True:
            self.samples.append((time.monotonic(), tuple(r.name for r in self.acting())))
            await asyncio.sleep(0.005)

    async def leader(self, timeout: float = 10.0, exclude: Replica | None = None) -> Replica:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            acting = [r for r in self.acting() if r is not exclude]
            if acting:
                return acting[0]
            await asyncio.sleep(0.01)
        raise AssertionError(f"nobody acted within {timeout}s")

    def assert_never_two(self) -> None:
        both = [(t, names) for t, names in self.samples if len(names) > 1]
        assert not both, f"two replicas acted at once: {both[:3]}"

    def gains_and_losses(self) -> list[tuple[float, str, str]]:
        events = [(t, kind, r.name) for r in self.replicas for t, kind in r.elector.transitions_seen]
        return sorted(events)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    server = ApiServer(bookmark_interval=0.5)
    await server.start()
    h = Harness(server, server.kubeconfig(tmp_path / "kubeconfig"))
    sampler = asyncio.create_task(h.sample())
    try:
        yield h
    finally:
        sampler.cancel()
        for replica in h.replicas:
            if replica.task is not None:
                await h.stop(replica)
        for client in h.clients:
            await client.close()
        await server.stop()


def assert_handovers_are_ordered(h: Harness) -> None:
    """Every gain comes after the previous holder's loss (by each elector's own record)."""
    holder: str | None = None
    for _, kind, name in h.gains_and_losses():
        if kind == "gain":
            assert holder is None, f"{name} gained while {holder} still acted"
            holder = name
        elif holder == name:
            holder = None


async def test_of_three_candidates_exactly_one_acts(harness: Harness) -> None:
    for name in ("a", "b", "c"):
        harness.start(harness.add(name))
    leader = await harness.leader()
    await asyncio.sleep(LEASE * 2)  # several renewals and several failed attempts by the others
    assert [r.name for r in harness.acting()] == [leader.name]
    harness.assert_never_two()
    lease = harness.server.get("coordination.k8s.io/v1", "leases", "zkop-leader", "default")
    assert lease is not None
    spec = lease["spec"]
    assert spec["holderIdentity"] == leader.name
    assert spec["leaseDurationSeconds"] == 2
    assert spec["leaseTransitions"] == 0
    for key in ("acquireTime", "renewTime"):
        assert len(spec[key].split(".")[1]) == len("123456Z"), spec[key]  # MicroTime: 6 digits
    assert spec["renewTime"] > spec["acquireTime"]  # renewed, acquisition kept


async def test_a_crashed_leader_is_replaced_within_lease_duration_plus_retry(harness: Harness) -> None:
    for name in ("a", "b", "c"):
        harness.start(harness.add(name, release=False))
    leader = await harness.leader()
    await asyncio.sleep(RETRY * 3)
    before = harness.server.get("coordination.k8s.io/v1", "leases", "zkop-leader", "default")
    assert before is not None
    crashed_at = await harness.stop(leader)
    successor = await harness.leader(timeout=LEASE * 3, exclude=leader)
    took = time.monotonic() - crashed_at
    assert successor is not leader
    # Expiry is judged from the last renewal the successor saw, at most one retry before the crash;
    # it notices at its next attempt (retry, jittered by up to 20 %), plus request time.
    assert took <= LEASE + 2 * RETRY * 1.2 + 0.3, took
    harness.assert_never_two()
    lease = harness.server.get("coordination.k8s.io/v1", "leases", "zkop-leader", "default")
    assert lease is not None and lease["spec"]["holderIdentity"] == successor.name
    assert lease["spec"]["leaseTransitions"] == 1
    assert lease["spec"]["acquireTime"] > before["spec"]["acquireTime"]  # set again on takeover


async def test_a_graceful_stop_releases_the_lease_for_a_fast_handover(harness: Harness) -> None:
    for name in ("a", "b"):
        harness.start(harness.add(name, release=True))
    leader = await harness.leader()
    stopped_at = await harness.stop(leader)
    assert not leader.leadership.acting
    await harness.leader(timeout=LEASE * 3, exclude=leader)
    assert time.monotonic() - stopped_at < LEASE - 0.5  # did not wait out the lease
    harness.assert_never_two()
    assert_handovers_are_ordered(harness)


async def test_a_leader_that_cannot_renew_stops_acting_at_the_renew_deadline(harness: Harness) -> None:
    for name in ("a", "b", "c"):
        harness.start(harness.add(name))
    leader = await harness.leader()
    await asyncio.sleep(RETRY * 2)
    fault = harness.server.add_fault("error", verb="update", resource="leases", code=500)
    faulted_at = time.monotonic()
    for _ in range(int(LEASE * 2 / 0.01)):
        if not leader.leadership.acting:
            break
        await asyncio.sleep(0.01)
    stopped_after = time.monotonic() - faulted_at
    assert not leader.leadership.acting
    # The deadline counts from the start of the last good renewal, at most one retry before the fault.
    assert stopped_after <= RENEW + 0.1, stopped_after
    # Nobody can write the Lease: nobody acts, even after every candidate judged it expired.
    await asyncio.sleep(LEASE + 2 * RETRY)
    assert harness.acting() == []
    harness.server.faults.remove(fault.id)
    await harness.leader(timeout=LEASE * 2)
    harness.assert_never_two()
    assert_handovers_are_ordered(harness)


async def test_a_partitioned_leader_stops_before_another_starts(harness: Harness) -> None:
    """Only the leader's writes fail (its own connection is broken); the others take over."""
    for name in ("a", "b", "c"):
        harness.start(harness.add(name, release=False))
    leader = await harness.leader()
    await asyncio.sleep(RETRY * 2)

    async def broken(*_: Any, **__: Any) -> Any:
        raise ConnectionError("partitioned")

    leader.elector.client.replace = broken  # type: ignore[method-assign]
    successor = await harness.leader(timeout=LEASE * 3, exclude=leader)
    lost = [t for t, kind in leader.elector.transitions_seen if kind == "lose"]
    gained = [t for t, kind in successor.elector.transitions_seen if kind == "gain"]
    assert lost and gained and lost[-1] < gained[-1]
    # ...and with the margin the durations promise: lease - renew deadline, less scheduling noise.
    assert gained[-1] - lost[-1] > (LEASE - RENEW) - 2 * RETRY - 0.2
    harness.assert_never_two()
    assert_handovers_are_ordered(harness)


async def test_a_lease_held_by_someone_else_is_respected_until_it_expires(harness: Harness) -> None:
    """A holder this elector has never seen renew still gets a full lease duration from first sight."""
    import datetime as dt

    now = micro_time(dt.datetime.now(dt.UTC))
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    harness.server.create(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "zkop-leader", "namespace": "default"},
            "spec": {
                "holderIdentity": "someone-else",
                "leaseDurationSeconds": 2,
                "acquireTime": stamp,
                "renewTime": stamp,
                "leaseTransitions": 4,
            },
        }
    )
    replica = harness.add("a")
    started = time.monotonic()
    harness.start(replica)
    await harness.leader(timeout=LEASE * 3)
    assert time.monotonic() - started >= LEASE
    lease = harness.server.get("coordination.k8s.io/v1", "leases", "zkop-leader", "default")
    assert lease is not None and lease["spec"]["leaseTransitions"] == 5
    assert isinstance(await replica.elector.client.get(Lease, "zkop-leader", namespace="default"), Lease)
