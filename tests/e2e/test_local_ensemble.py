"""A ZookeeperCluster on the local control plane: Ready with one leader, survives losing any pod,
garbage-collected on deletion with PVCs following reclaimPolicy."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from lightkube import ApiError
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import ConfigMap, PersistentVolumeClaim, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice

from tests.e2e.conftest import ready_status
from tests.support.tls import client_tls, kazoo_args, secret_data
from tests.support.waiting import eventually
from zkop.kube.client import ZookeeperClusterResource
from zkop.zookeeper.connection import ClientTls
from zkop_local.cluster import LocalCluster

pytestmark = [pytest.mark.netns, pytest.mark.zookeeper]


def cluster_body(name: str = "zk", reclaim: str = "Retain") -> dict[str, Any]:
    return {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperCluster",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": 3,
            "storage": {"size": "1Gi", "reclaimPolicy": reclaim},
            "jvm": {"heap": "96Mi"},
        },
    }


async def client_service_addresses(cluster: LocalCluster, name: str = "zk") -> list[str]:
    """The ready endpoints behind the client Service (no kube-proxy locally: clients dial them directly)."""
    assert cluster.client is not None
    slices = cluster.client.list(
        EndpointSlice, namespace="default", labels={"kubernetes.io/service-name": f"{name}-client"}
    )
    return [
        f"{endpoint.addresses[0]}:{port.port}"
        async for piece in slices
        for port in (piece.ports or [])[:1]
        for endpoint in piece.endpoints or []
        if endpoint.conditions and endpoint.conditions.ready
    ]


def write_and_read(
    hosts: str, path: str, value: bytes | None, tls: ClientTls | None = None, password: str = ""
) -> bytes:
    """As zkop's superuser: the root is protected, and the test writes at the top level."""
    client = KazooClient(
        hosts=hosts, timeout=10, auth_data=[("digest", f"super:{password}")], **kazoo_args(tls)
    )
    client.start(timeout=20)
    try:
        if value is not None:
            client.create(path, value, makepath=True)
        data, _ = client.get(path)
        return bytes(data)
    finally:
        client.stop()
        client.close()


async def test_an_ensemble_becomes_ready_and_survives_deleting_any_pod(local_cluster: LocalCluster) -> None:
    client = local_cluster.client
    assert client is not None
    await client.create(ZookeeperClusterResource.from_dict(cluster_body()))
    status = await eventually(lambda: ready_status(local_cluster), timeout=180, what="Ready")
    roles = sorted(m["role"] for m in status["members"])
    assert roles == ["follower", "follower", "leader"]
    assert all(m["synced"] for m in status["members"])
    assert status["leader"] in {"zk-0", "zk-1", "zk-2"}

    # The member's own output, through the API's pods/log as kubectl reads it.
    logs = await asyncio.to_thread(
        subprocess.run,
        [
            str(Path(sys.executable).parent / "kubectl"),
            "--kubeconfig",
            str(local_cluster.kubeconfig),
            "logs",
            "zk-0",
            "--cache-dir",
            str(local_cluster.state_dir / "kubectl-cache"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "zkop: starting member 1 of 3" in logs.stdout

    hosts = ",".join(
        await eventually(lambda: client_service_addresses(local_cluster), what="client endpoints")
    )
    # TLS by default: the client Service offers only the TLS port, and the client certificate zkop
    # issued (what an application mounts) is what lets a client in.
    assert all(h.endswith(":2281") for h in hosts.split(","))
    tls = await client_tls(client, "zk")
    password = (await secret_data(client, "zk-zkop-superuser"))["password"]
    assert await asyncio.to_thread(write_and_read, hosts, "/e2e/survivor", b"kept", tls, password) == b"kept"
    status = await ready_status(local_cluster)
    assert status is not None and status["tls"]["mode"] == "mtls" and status["tls"]["certificateNotAfter"]
    # The root is protected: a certified client without zkop's identity reads it but creates nothing there.
    await eventually(
        lambda: _with_status(local_cluster, lambda s: s.get("rootAcl") == "protected"),
        what="root ACL applied",
    )
    assert await asyncio.to_thread(root_refuses_creates, hosts, tls)

    for victim in ("zk-0", "zk-1", "zk-2"):
        before = await client.get(Pod, victim, namespace="default")
        await client.delete(Pod, victim, namespace="default")

        async def recreated(victim: str = victim, uid: str = before.metadata.uid) -> bool:
            try:
                pod = await client.get(Pod, victim, namespace="default")
            except ApiError:
                return False
            return pod.metadata.uid != uid

        await eventually(recreated, what=f"{victim} recreated")
        pod = await client.get(Pod, victim, namespace="default")
        claims = [v.persistentVolumeClaim.claimName for v in pod.spec.volumes if v.persistentVolumeClaim]
        assert claims == [f"data-{victim}"]  # same PVC: the member keeps its data
        # Back behind the client Service (its endpoint ready again), and the ensemble Ready with it.
        addresses = await eventually(
            lambda: _all_ready(local_cluster), timeout=120, what=f"{victim} ready behind the client Service"
        )
        status = await eventually(
            lambda: ready_status(local_cluster), timeout=60, what=f"Ready after {victim}"
        )
        assert sorted(m["role"] for m in status["members"]) == ["follower", "follower", "leader"]
        hosts = ",".join(addresses)
        assert await asyncio.to_thread(write_and_read, hosts, "/e2e/survivor", None, tls, password) == b"kept"


@pytest.mark.parametrize("reclaim", ["Retain", "Delete"])
async def test_deleting_the_cluster_collects_its_objects_and_pvcs_follow_reclaim_policy(
    local_cluster: LocalCluster, reclaim: str
) -> None:
    client = local_cluster.client
    assert client is not None
    await client.create(ZookeeperClusterResource.from_dict(cluster_body("gc", reclaim)))

    async def pvcs() -> list[str]:
        return [p.metadata.name async for p in client.list(PersistentVolumeClaim, namespace="default")]

    await eventually(lambda: _exists(client, StatefulSet, "gc"), what="the StatefulSet")
    await eventually(lambda: _count(pvcs, 3), what="three claims")
    await client.delete(ZookeeperClusterResource, "gc", namespace="default")

    async def collected() -> bool:
        for res, name in [(StatefulSet, "gc"), (ConfigMap, "gc-config"), (Service, "gc-client")]:
            if await _exists(client, res, name):
                return False
        return not [p async for p in client.list(Pod, namespace="default")]

    await eventually(collected, timeout=90, what="garbage collection")
    if reclaim == "Delete":
        await eventually(lambda: _count(pvcs, 0), timeout=60, what="claims deleted")
    else:
        await asyncio.sleep(3)
        assert sorted(await pvcs()) == ["data-gc-0", "data-gc-1", "data-gc-2"]


def root_refuses_creates(hosts: str, tls: ClientTls) -> bool:
    client = KazooClient(hosts=hosts, timeout=10, **kazoo_args(tls))
    client.start(timeout=20)
    try:
        client.get_children("/")
        try:
            client.create("/not-allowed", b"")
        except NoAuthError:
            return True
        return False
    finally:
        client.stop()
        client.close()


async def _with_status(cluster: LocalCluster, check: Any) -> bool:
    status = await ready_status(cluster)
    return bool(status and check(status))


async def _all_ready(cluster: LocalCluster) -> list[str] | None:
    addresses = await client_service_addresses(cluster)
    return addresses if len(addresses) == 3 else None


async def _exists(client: Any, res: Any, name: str) -> bool:
    try:
        await client.get(res, name, namespace="default")
    except ApiError:
        return False
    return True


async def _count(probe: Any, n: int) -> bool:
    return len(await probe()) == n
