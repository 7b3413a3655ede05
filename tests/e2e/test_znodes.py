"""ZookeeperZnode end to end: an application gets its subtree, credentials and discovery ConfigMap on a
real 3-member ensemble, uses them, the discovery ConfigMaps follow the ensemble when it is scaled to 5
members and back to 3, and the deletion policy decides what happens to its data."""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from lightkube import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import ConfigMap, Pod, Secret
from lightkube.types import PatchType

from tests.e2e.conftest import ready_status
from tests.e2e.day2 import cluster_body
from tests.support.tls import client_tls
from tests.support.waiting import eventually
from zkop.api.common import GROUP, VERSION
from zkop.api.znode import ZNODE_KIND, ZNODE_PLURAL
from zkop.kube.client import ZookeeperClusterResource
from zkop.zookeeper.connection import ClientTls
from zkop_local.cluster import LocalCluster

pytestmark = [pytest.mark.netns, pytest.mark.zookeeper]

ZnodeResource = create_namespaced_resource(GROUP, VERSION, ZNODE_KIND, ZNODE_PLURAL)


def znode_body(name: str, policy: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperZnode",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"clusterRef": {"name": "zk"}, "deletionPolicy": policy, **spec},
    }


async def get_or_none(plane: LocalCluster, res: Any, name: str) -> Any:
    assert plane.client is not None
    try:
        return await plane.client.get(res, name, namespace="default")
    except ApiError as exc:
        if exc.status.code == 404:
            return None
        raise


async def ready_znode(plane: LocalCluster, name: str) -> dict[str, Any] | None:
    obj = await get_or_none(plane, ZnodeResource, name)
    status = (obj.to_dict().get("status") or {}) if obj is not None else {}
    ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
    return status if ready.get("status") == "True" else None


async def gone(plane: LocalCluster, res: Any, name: str) -> bool:
    return await get_or_none(plane, res, name) is None


@dataclass(frozen=True)
class Endpoint:
    """Where a client connects (pod IPs standing in for the ConfigMap's names) and with which client
    certificate: the one zkop issued into `zk-client-tls`, as an application would mount it."""

    hosts: str
    tls: ClientTls

    def __add__(self, chroot: str) -> Endpoint:
        return Endpoint(self.hosts + chroot, self.tls)


async def pod_hosts(plane: LocalCluster) -> Endpoint:
    assert plane.client is not None
    pods = plane.client.list(Pod, namespace="default", labels={"app.kubernetes.io/instance": "zk"})
    hosts = ",".join([f"{p.status.podIP}:2281" async for p in pods if p.status and p.status.podIP])
    return Endpoint(hosts, await client_tls(plane.client, "zk"))


def decoded(secret: Any) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


def session(endpoint: Endpoint, auth: list[tuple[str, str]] | None) -> KazooClient:
    client = KazooClient(hosts=endpoint.hosts, auth_data=auth, timeout=10, **endpoint.tls.kazoo_args())
    client.start(timeout=20)
    return client


def use_subtree(hosts: Endpoint, chroot: str, auth: str) -> list[str]:
    """What an application does with its ConfigMap and Secret: connect with the chroot, log in, write."""
    scheme, credential = auth.split(":", 1)
    app = session(hosts + chroot, [(scheme, credential)])
    try:
        app.create("/brokers/ids/1", b'{"host":"b-1"}', makepath=True)
        app.create("/config", b"retention=7d")
        return sorted(app.get_children("/"))
    finally:
        app.stop()
        app.close()


def refused_without_credentials(hosts: Endpoint, path: str) -> bool:
    anonymous = session(hosts, None)
    try:
        anonymous.get(path)
    except NoAuthError:
        return True
    finally:
        anonymous.stop()
        anonymous.close()
    return False


def exists_as_superuser(hosts: Endpoint, password: str, path: str) -> bool:
    admin = session(hosts, [("digest", f"super:{password}")])
    try:
        return admin.exists(path) is not None
    finally:
        admin.stop()
        admin.close()


async def discovery_lists(
    plane: LocalCluster, replicas: int, apps: dict[str, str]
) -> dict[str, list[str]] | None:
    """The hosts of the cluster's discovery ConfigMap and of each app's (name -> chroot), once every one
    of them lists exactly the members 1..`replicas` (by stable DNS name) and they all agree."""
    found: dict[str, list[str]] = {}
    for name, chroot in {"zk-zookeeper": "", **{f"{a}-zookeeper": c for a, c in apps.items()}}.items():
        config_map = await get_or_none(plane, ConfigMap, name)
        data = (config_map.data or {}) if config_map is not None else {}
        hosts = data.get("ZOOKEEPER_HOSTS", "")
        if data.get("ZOOKEEPER") != hosts + chroot:
            return None
        found[name] = hosts.split(",")
    pods = [f"zk-{ordinal}" for ordinal in range(replicas)]  # members 1..replicas, by stable DNS name
    for hosts in found.values():
        if [h.split(".", 1)[0] for h in hosts] != pods or not all(h.endswith(":2281") for h in hosts):
            return None
    return found if len({",".join(h) for h in found.values()}) == 1 else None


async def test_an_app_gets_a_subtree_uses_it_and_the_deletion_policy_decides_its_data(
    local_cluster: LocalCluster,
) -> None:
    client = local_cluster.client
    assert client is not None
    await client.create(ZookeeperClusterResource.from_dict(cluster_body("zk", 3)))
    await client.create(ZnodeResource.from_dict(znode_body("orders", "Delete", quota={"count": 100})))
    await client.create(ZnodeResource.from_dict(znode_body("audit", "Retain")))
    cluster = await eventually(lambda: ready_status(local_cluster), timeout=240, what="the ensemble Ready")
    orders = await eventually(lambda: ready_znode(local_cluster, "orders"), timeout=120, what="orders Ready")
    audit = await eventually(lambda: ready_znode(local_cluster, "audit"), timeout=120, what="audit Ready")

    uid = (await client.get(ZnodeResource, "orders", namespace="default")).metadata.uid
    assert orders["path"] == f"/apps/default/orders-{uid[:8]}"
    assert audit["path"].startswith("/apps/default/audit-") and audit["path"] != orders["path"]

    # The contract, read through the API as an application's pod would get it.
    config = (await client.get(ConfigMap, "orders-zookeeper", namespace="default")).data
    assert config["ZOOKEEPER_HOSTS"] == cluster["connectionString"]
    assert config["ZOOKEEPER_CHROOT"] == orders["path"]
    assert config["ZOOKEEPER"] == cluster["connectionString"] + orders["path"]
    assert config["ZOOKEEPER_SECRET"] == "orders-zookeeper"
    credentials = decoded(await client.get(Secret, config["ZOOKEEPER_SECRET"], namespace="default"))
    assert credentials["username"] == "default.orders"
    assert credentials["ZOOKEEPER_AUTH"] == f"digest:default.orders:{credentials['password']}"
    whole = (await client.get(ConfigMap, "zk-zookeeper", namespace="default")).data
    assert whole["ZOOKEEPER"] == cluster["connectionString"] and "ZOOKEEPER_CHROOT" not in whole

    # No DNS for this test process: the members' pod IPs stand in for the hosts in the ConfigMap.
    hosts = await pod_hosts(local_cluster)
    children = await asyncio.to_thread(
        use_subtree, hosts, config["ZOOKEEPER_CHROOT"], credentials["ZOOKEEPER_AUTH"]
    )
    assert children == ["brokers", "config"]
    assert await asyncio.to_thread(refused_without_credentials, hosts, orders["path"])
    audit_auth = decoded(await client.get(Secret, "audit-zookeeper", namespace="default"))["ZOOKEEPER_AUTH"]
    await asyncio.to_thread(use_subtree, hosts, audit["path"], audit_auth)

    # Steady state: passes keep running (every 2 s here) and write nothing.
    before = [
        (await client.get(res, name, namespace="default")).metadata.resourceVersion
        for res, name in [
            (ZnodeResource, "audit"),
            (ConfigMap, "audit-zookeeper"),
            (Secret, "audit-zookeeper"),
        ]
    ]
    await asyncio.sleep(5)
    after = [
        (await client.get(res, name, namespace="default")).metadata.resourceVersion
        for res, name in [
            (ZnodeResource, "audit"),
            (ConfigMap, "audit-zookeeper"),
            (Secret, "audit-zookeeper"),
        ]
    ]
    assert after == before

    # Membership changes: both kinds of discovery ConfigMap follow the ensemble to 5 members and back.
    # (Here rather than in a test of its own: it reuses this ensemble and these two apps.)
    apps = {"orders": orders["path"], "audit": audit["path"]}
    assert await discovery_lists(local_cluster, 3, apps)
    for replicas in (5, 3):
        await client.patch(
            ZookeeperClusterResource,
            "zk",
            {"spec": {"replicas": replicas}},
            namespace="default",
            patch_type=PatchType.MERGE,
        )
        await eventually(
            lambda n=replicas: discovery_lists(local_cluster, n, apps),
            timeout=300,
            what=f"the discovery ConfigMaps listing {replicas} members",
        )
    cluster = await eventually(lambda: ready_status(local_cluster), timeout=120, what="Ready at 3 again")
    assert (await client.get(ConfigMap, "orders-zookeeper", namespace="default")).data[
        "ZOOKEEPER_HOSTS"
    ] == cluster["connectionString"]
    hosts = await pod_hosts(local_cluster)

    async def usage_seen() -> dict[str, Any] | None:
        status = await ready_znode(local_cluster, "orders")
        usage = (status or {}).get("usage") or {}
        return usage if usage.get("count") == 5 else None  # root, brokers, ids, 1, config

    usage = await eventually(usage_seen, timeout=60, what="the quota usage in status")
    assert usage["bytes"] == len(b'{"host":"b-1"}') + len(b"retention=7d")

    superuser = decoded(await client.get(Secret, "zk-zkop-superuser", namespace="default"))["password"]
    await client.delete(ZnodeResource, "orders", namespace="default")
    await eventually(lambda: gone(local_cluster, ZnodeResource, "orders"), timeout=60, what="orders deleted")
    assert not await asyncio.to_thread(exists_as_superuser, hosts, superuser, orders["path"])
    assert not await asyncio.to_thread(
        exists_as_superuser, hosts, superuser, f"/zookeeper/quota{orders['path']}"
    )
    await eventually(
        lambda: gone(local_cluster, Secret, "orders-zookeeper"), timeout=60, what="Secret collected"
    )

    await client.delete(ZnodeResource, "audit", namespace="default")
    await eventually(lambda: gone(local_cluster, ZnodeResource, "audit"), timeout=60, what="audit deleted")
    assert await asyncio.to_thread(exists_as_superuser, hosts, superuser, f"{audit['path']}/brokers/ids/1")
    # Retained data keeps the only key that opens it.
    assert await get_or_none(local_cluster, Secret, "audit-zookeeper") is not None
