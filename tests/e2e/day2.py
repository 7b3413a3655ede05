"""Day-2 scenario harness: a ZookeeperCluster on the local control plane under a continuous writer.

Every scenario runs the same checks at the end: no acknowledged write lost and nothing invented
(`verify_no_loss`), the operation finished and status says so, and how many leader elections it took.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from tests.e2e.conftest import cluster_status
from tests.support.tls import MountedSecret, dial, port, secret_data
from tests.support.waiting import eventually
from tests.support.writer import (
    ContinuousWriter,
    ElectionCounter,
    QuorumMonitor,
    Verification,
    assert_no_acknowledged_write_lost,
)
from zkop.kube.client import ZookeeperClusterResource
from zkop.render.names import member_id_of_pod
from zkop_local.cluster import LocalCluster


def cluster_body(name: str, replicas: int, reclaim: str = "Retain", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperCluster",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "storage": {"size": "1Gi", "reclaimPolicy": reclaim},
            "jvm": {"heap": "96Mi", "extraFlags": ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]},
            **spec,
        },
    }


@dataclass
class Scenario:
    """One cluster, its writer, and the addresses of its members as they change."""

    plane: LocalCluster
    name: str
    addresses: dict[int, str] = field(default_factory=dict)
    writer: ContinuousWriter | None = None
    monitor: QuorumMonitor | None = None
    tls: MountedSecret | None = None
    _refresher: asyncio.Task[None] | None = None

    @property
    def client(self) -> Any:
        assert self.plane.client is not None
        return self.plane.client

    async def refresh(self) -> None:
        pods = [
            p
            async for p in self.client.list(
                Pod, namespace="default", labels={"app.kubernetes.io/instance": self.name}
            )
        ]
        fresh = {}
        for pod in pods:
            member = member_id_of_pod(pod.metadata.name)
            if member and pod.status and pod.status.podIP and not pod.metadata.deletionTimestamp:
                fresh[member] = pod.status.podIP
        self.addresses = fresh
        if self.tls is not None:  # like a Secret volume: the client certificate follows its Secret
            await self.tls.follow(self.client, self.name)

    async def _refresh_loop(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.refresh()
            await asyncio.sleep(0.3)

    def hosts(self) -> list[str]:
        return [f"{ip}:{port(self.tls)}" for ip in self.addresses.values()]

    def member_addresses(self) -> dict[int, str | None]:
        return dict(self.addresses)

    async def status(self) -> dict[str, Any]:
        return await cluster_status(self.plane, self.name)

    async def condition(self, type_: str) -> dict[str, Any]:
        status = await self.status()
        return next((c for c in status.get("conditions", []) if c["type"] == type_), {})

    async def settled(self, replicas: int) -> dict[str, Any] | None:
        """Ready, nothing in progress, and exactly `replicas` voting members serving and synced."""
        status = await self.status()
        conditions = {c["type"]: c for c in status.get("conditions", [])}
        ready = conditions.get("Ready", {}).get("status") == "True"
        idle = conditions.get("Progressing", {}).get("status") == "False"
        members = status.get("members", [])
        synced = [m for m in members if m["synced"] and m["role"] in ("leader", "follower")]
        if ready and idle and len(members) == replicas and len(synced) == replicas:
            return status
        return None

    async def wait_settled(self, replicas: int, timeout: float = 180.0) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await eventually(
                lambda: self.settled(replicas),
                timeout=timeout,
                what=f"{self.name} settled at {replicas} members",
            )
        except AssertionError as exc:
            status = await self.status()
            conditions = [
                (c["type"], c["status"], c["reason"], c["message"]) for c in status.get("conditions", [])
            ]
            raise AssertionError(f"{exc}; conditions: {conditions}") from None
        return result

    async def patch(self, patch: dict[str, Any]) -> None:
        await self.client.patch(
            ZookeeperClusterResource, self.name, patch, namespace="default", patch_type=PatchType.MERGE
        )

    async def elections_during(self, operation: Any) -> int:
        """Leader elections while `operation` runs, from the zxid epoch (the writer keeps writing)."""
        counter = ElectionCounter(dial=dial(self.tls))
        await asyncio.to_thread(counter.begin, self.member_addresses)
        await operation
        await asyncio.to_thread(counter.end, self.member_addresses)
        return counter.elections

    async def verify(self) -> Verification:
        assert self.writer is not None
        await asyncio.to_thread(self.writer.stop)
        return await asyncio.to_thread(assert_no_acknowledged_write_lost, self.writer, self.hosts)


@contextlib.asynccontextmanager
async def scenario(plane: LocalCluster, name: str, replicas: int, **spec: Any) -> AsyncIterator[Scenario]:
    """Create the cluster, wait until it settles, start the writer and the quorum monitor."""
    s = Scenario(plane, name)
    await s.client.create(ZookeeperClusterResource.from_dict(cluster_body(name, replicas, **spec)))
    s._refresher = asyncio.create_task(s._refresh_loop())
    try:
        await s.wait_settled(replicas)
        await s.refresh()
        if spec.get("tls", {}).get("enabled", True):
            s.tls = MountedSecret(await secret_data(s.client, f"{name}-client-tls"))
        # The root is protected (spec.rootAcl): the writer, a test instrument, writes as zkop's superuser.
        password = (await secret_data(s.client, f"{name}-zkop-superuser"))["password"]
        s.writer = ContinuousWriter(
            s.hosts, root=f"/writer-{name}", interval=0.05, tls=s.tls, auth=[("digest", f"super:{password}")]
        )
        await asyncio.to_thread(s.writer.start)
        await asyncio.to_thread(s.writer.wait_for_acks, 20, 30.0)
        s.monitor = QuorumMonitor(s.member_addresses, interval=0.2, dial=dial(s.tls))
        s.monitor.start()
        yield s
    finally:
        if s.monitor is not None:
            await asyncio.to_thread(s.monitor.stop)
        if s.writer is not None and s.writer.running:
            await asyncio.to_thread(s.writer.stop)
        s._refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await s._refresher
