"""Two operator replicas with leader election against the local control plane: one acts; kill -9 it and
the other takes over and keeps reconciling; their writes, attributed through the User-Agent in the API
server's request log, never overlap in time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import ApiError
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from tests.e2e.conftest import leftovers, ready_status
from tests.e2e.day2 import cluster_body
from tests.support.waiting import eventually
from zkop.kube.client import ZookeeperClusterResource
from zkop_local.cluster import LocalCluster

pytestmark = [pytest.mark.netns, pytest.mark.zookeeper]

LEASE, RENEW, RETRY = 4.0, 3.0, 0.5
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class Replicas:
    """`zkop run --all-namespaces --leader-election` twice, identities zkop-a_<pid> and zkop-b_<pid>."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.writes: dict[
            int, tuple[str, float, str, str]
        ] = {}  # id(record) -> (replica, time, method, path)

    def start(self, name: str) -> None:
        log = open(self.cluster.state_dir / f"operator-{name}.log", "ab")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            [
                *[sys.executable, "-m", "zkop", "run", "--all-namespaces", "--leader-election"],
                *["--leader-election-namespace", "default", "--lease-duration", str(LEASE)],
                *["--renew-deadline", str(RENEW), "--retry-period", str(RETRY)],
            ],
            env={
                **os.environ,
                "KUBECONFIG": str(self.cluster.kubeconfig),
                "ZKOP_RESYNC_SECONDS": "2",
                "POD_NAME": f"zkop-{name}",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()  # the child has its own descriptor

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)

    def collect(self) -> None:
        """Copy zkop's writes out of the request log (it is bounded; this keeps every one)."""
        for record in self.cluster.server.requests:
            agent = record.user_agent
            if record.method in WRITES and agent.startswith("zkop/zkop-") and "/leases" not in record.path:
                replica = agent.removeprefix("zkop/zkop-").split("_")[0]
                self.writes[id(record)] = (replica, record.time, record.method, record.path)

    async def collect_forever(self) -> None:
        while True:
            self.collect()
            await asyncio.sleep(0.2)

    def intervals(self) -> dict[str, tuple[float, float]]:
        spans: dict[str, tuple[float, float]] = {}
        for replica, moment, _, _ in self.writes.values():
            low, high = spans.get(replica, (moment, moment))
            spans[replica] = (min(low, moment), max(high, moment))
        return spans


@pytest.fixture
async def plane(tmp_path: Path) -> AsyncIterator[LocalCluster]:
    state_dir = tmp_path / "local"
    cluster = LocalCluster(state_dir, run_operator=False, backoff_base=1.0)
    await cluster.start()
    try:
        yield cluster
    finally:
        await cluster.stop()
        assert leftovers(state_dir) == []


async def holder(cluster: LocalCluster) -> str:
    assert cluster.client is not None
    try:
        lease = await cluster.client.get(Lease, "zkop-leader", namespace="default")
    except ApiError:
        return ""
    return (lease.spec.holderIdentity or "") if lease.spec else ""


async def test_the_standby_takes_over_after_kill_9_and_writes_never_overlap(plane: LocalCluster) -> None:
    client = plane.client
    assert client is not None
    replicas = Replicas(plane)
    collector = asyncio.create_task(replicas.collect_forever())
    try:
        replicas.start("a")
        replicas.start("b")
        first = await eventually(lambda: holder(plane), timeout=30, what="a Lease holder")
        await client.create(ZookeeperClusterResource.from_dict(cluster_body("zk", 1)))
        await eventually(lambda: ready_status(plane), timeout=180, what="zk Ready")

        acting = first.removeprefix("zkop-").split("_")[0]
        standby = "b" if acting == "a" else "a"
        os.kill(replicas.processes[acting].pid, signal.SIGKILL)
        killed_at = time.monotonic()

        async def taken_over() -> str:
            name = await holder(plane)
            return name if name.startswith(f"zkop-{standby}_") else ""

        await eventually(taken_over, timeout=LEASE + 4 * RETRY + 5, interval=0.1, what="the standby's Lease")
        took = time.monotonic() - killed_at
        assert took <= LEASE + 4 * RETRY + 2, took

        # The new leader keeps reconciling: a spec change reaches the rendered configuration.
        await client.patch(
            ZookeeperClusterResource,
            "zk",
            {"spec": {"config": {"maxClientCnxns": 77}}},
            namespace="default",
            patch_type=PatchType.MERGE,
        )

        async def applied() -> bool:
            config_map = await client.get(ConfigMap, "zk-config", namespace="default")
            return "maxClientCnxns=77" in str((config_map.data or {}).get("zoo.cfg", ""))

        await eventually(applied, timeout=60, what="the config change applied by the new leader")
        replicas.collect()
    finally:
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector
        replicas.stop_all()

    spans = replicas.intervals()
    assert set(spans) == {"a", "b"}, spans  # both acted: before and after the kill
    first_span, second_span = spans[acting], spans[standby]
    assert first_span[1] < second_span[0], f"write intervals overlap: {spans}"
    standby_writes: list[Any] = [w for w in replicas.writes.values() if w[0] == standby]
    assert standby_writes and all(w[1] > first_span[1] for w in standby_writes)
