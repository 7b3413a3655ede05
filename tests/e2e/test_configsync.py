"""ZookeeperConfigSync end to end: the operator (as users run it) mirrors ConfigMaps, an opted-in Secret
and Node/pod state into a real ensemble; a too-large value is reported, not truncated; deletion policies;
the znodes are readable by zkop and the granted readers only, never anonymously."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError, NoNodeError
from lightkube import ApiError
from lightkube.codecs import from_dict
from lightkube.resources.core_v1 import ConfigMap, Event, Pod, Secret
from lightkube.types import PatchType

from tests.e2e.conftest import ready_status
from tests.e2e.day2 import cluster_body
from tests.support.tls import client_tls
from tests.support.waiting import eventually
from zkop.kube.client import ZookeeperClusterResource
from zkop.operator.configsync import ConfigSyncResource
from zkop.operator.znodes import ZnodeResource
from zkop.zookeeper.connection import ClientTls
from zkop_local.cluster import LocalCluster

pytestmark = [pytest.mark.netns, pytest.mark.zookeeper]

NS = "default"


def sync_body(name: str, path: str, policy: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperConfigSync",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"clusterRef": {"name": "zk"}, "path": path, "deletionPolicy": policy, **spec},
    }


@contextmanager
def zookeeper(
    hosts: list[str], tls: ClientTls, auth: list[tuple[str, str]] | None = None
) -> Iterator[KazooClient]:
    """A client with the certificate zkop issued into `zk-client-tls` (mTLS is on by default)."""
    client = KazooClient(
        hosts=",".join(f"{h}:2281" for h in hosts), auth_data=auth, timeout=10, **tls.kazoo_args()
    )
    client.start(timeout=30)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def read(client: KazooClient, path: str) -> bytes | None:
    try:
        data: bytes = client.get(path)[0]
    except NoNodeError:
        return None
    return data


def refused(client: KazooClient, attempt: str, path: str, *args: Any) -> bool:
    """Whether ZooKeeper refuses `client.<attempt>(path, ...)` for lack of permission."""
    try:
        getattr(client, attempt)(path, *args)
    except NoAuthError:
        return True
    return False


def b64(secret: Any, key: str) -> str:
    return base64.b64decode(secret.data[key]).decode()


async def member_hosts(cluster: LocalCluster) -> list[str]:
    assert cluster.client is not None
    pods = [
        p async for p in cluster.client.list(Pod, namespace=NS, labels={"app.kubernetes.io/instance": "zk"})
    ]
    return [p.status.podIP for p in pods if p.status and p.status.podIP]


async def sync_status(cluster: LocalCluster, name: str) -> dict[str, Any]:
    assert cluster.client is not None
    try:
        obj = await cluster.client.get(ConfigSyncResource, name, namespace=NS)
    except ApiError:
        return {}
    status: dict[str, Any] = obj.to_dict().get("status") or {}
    return status


async def test_config_maps_secrets_and_cluster_state_are_mirrored_and_cleaned_up(
    local_cluster: LocalCluster,
) -> None:
    client = local_cluster.client
    assert client is not None
    await client.create(ZookeeperClusterResource.from_dict(cluster_body("zk", 1)))
    await eventually(lambda: ready_status(local_cluster), timeout=180, what="zk Ready")
    hosts = await member_hosts(local_cluster)
    tls = await client_tls(local_cluster.client, "zk")
    small_limit = 64 * 1024
    superuser = await client.get(Secret, "zk-zkop-superuser", namespace=NS)
    admin = [("digest", f"super:{b64(superuser, 'password')}")]
    for obj in [
        # The application granted READ on app-sync's znodes (its identity: the Secret zkop generates).
        {
            "apiVersion": "zkop.io/v1alpha1",
            "kind": "ZookeeperZnode",
            "metadata": {"name": "reader", "namespace": NS},
            "spec": {"clusterRef": {"name": "zk"}},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "app", "namespace": NS},
            "data": {"greeting": "hello", "big": "x" * (small_limit + 1)},
            "binaryData": {"blob": base64.b64encode(b"\x00\x01\xff").decode()},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": NS, "annotations": {"zkop.io/sync": "true"}},
            "data": {"token": base64.b64encode(b"s3cret").decode()},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "private", "namespace": NS},
            "data": {"token": base64.b64encode(b"never").decode()},
        },
        sync_body(
            "app-sync",
            "/config/app",
            "Delete",
            configMaps=[{"name": "app"}],
            secrets=[{"name": "creds"}, {"name": "private"}],
            maxValueBytes=small_limit,
            readers=[{"znode": "reader"}],
            clusterState={
                "nodes": True,
                "pods": {"selector": {"matchLabels": {"app.kubernetes.io/instance": "zk"}}},
            },
        ),
        sync_body(
            "kept-sync",
            "/config/kept",
            "Retain",
            configMaps=[{"name": "app", "keys": ["greeting"]}],
            readers=[{"znode": "ghost"}],  # no such ZookeeperZnode
        ),
        # Refused: a mirrored Secret must never be world-readable.
        sync_body("open-sync", "/config/open", "Delete", secrets=[{"name": "creds"}], worldReadable=True),
    ]:
        kind = ZnodeResource if obj["kind"] == "ZookeeperZnode" else None
        await client.create(kind.from_dict(obj) if kind else from_dict(obj))

    with zookeeper(hosts, tls, admin) as zk, zookeeper(hosts, tls) as anonymous:
        await eventually(lambda: asyncio.to_thread(read, zk, "/config/app/app/greeting"), what="greeting")
        assert read(zk, "/config/app/app/blob") == b"\x00\x01\xff"
        assert read(zk, "/config/app/creds/token") == b"s3cret"
        assert read(zk, "/config/app/private/token") is None  # listed but not opted in
        assert read(zk, "/config/app/app/big") is None  # too large: not written, not truncated
        owner = json.loads(read(zk, "/config/app/.zkop-owner") or b"{}")
        assert owner["uid"] == (await client.get(ConfigSyncResource, "app-sync", namespace=NS)).metadata.uid

        # Nothing is readable without credentials, not even the names under the path.
        for path in ["/config/app/creds/token", "/config/app/app/greeting", "/config/app"]:
            assert await asyncio.to_thread(refused, anonymous, "get", path), path
        assert await asyncio.to_thread(refused, anonymous, "get_children", "/config/app")

        # The granted reader's identity (from its Secret) reads the mirrored Secret and cannot write.
        reader_secret = await eventually(
            lambda: _get(local_cluster, Secret, "reader-zookeeper"), timeout=60, what="reader's Secret"
        )
        reader_auth = [("digest", f"{b64(reader_secret, 'username')}:{b64(reader_secret, 'password')}")]
        with zookeeper(hosts, tls, reader_auth) as reader:

            def reads_token() -> bool:
                try:
                    return read(reader, "/config/app/creds/token") == b"s3cret"
                except NoAuthError:
                    return False  # the reader's Secret appeared after the first pass: next pass grants

            await eventually(lambda: asyncio.to_thread(reads_token), timeout=30, what="reader granted")
            assert await asyncio.to_thread(refused, reader, "set", "/config/app/creds/token", b"x")
            assert await asyncio.to_thread(refused, reader, "create", "/config/app/creds/planted", b"x")
            assert await asyncio.to_thread(refused, reader, "get", "/config/kept/app/greeting")

        # A reader that does not exist is reported; the sync still runs, readable by zkop only.
        kept = await eventually(
            lambda: _with_error(local_cluster, "kept-sync", "ghost"), timeout=30, what="ghost reported"
        )
        assert any("ZookeeperZnode ghost not found" in e for e in kept["errors"])
        assert read(zk, "/config/kept/app/greeting") == b"hello"
        assert await asyncio.to_thread(refused, anonymous, "get", "/config/kept/app/greeting")

        # worldReadable with a Secret: refused before anything is written, naming the field and the fix.
        refusal = await eventually(
            lambda: _with_error(local_cluster, "open-sync", "worldReadable"), timeout=30, what="open-sync"
        )
        condition = next(c for c in refusal["conditions"] if c["type"] == "Ready")
        assert condition["reason"] == "InvalidSpec" and "spec.worldReadable" in condition["message"]
        assert "spec.readers" in condition["message"]
        assert read(zk, "/config/open") is None

        # Node readiness and addresses, pod phase and readiness.
        nodes = await asyncio.to_thread(zk.get_children, "/config/app/k8s/nodes")
        assert nodes
        node = json.loads(read(zk, f"/config/app/k8s/nodes/{nodes[0]}") or b"{}")
        assert node["ready"] is True and node["addresses"]

        async def pod_ready() -> dict[str, Any] | None:
            pod: dict[str, Any] = json.loads(
                await asyncio.to_thread(read, zk, f"/config/app/k8s/pods/{NS}/zk-0") or b"{}"
            )
            return pod if pod.get("ready") else None

        pod = await eventually(pod_ready, timeout=60, what="zk-0 mirrored as ready")
        assert pod["phase"] == "Running" and pod["podIP"] in hosts

        # The too-large key is reported by name and size, in status and as an Event.
        async def reader_granted() -> dict[str, Any] | None:
            status = await sync_status(local_cluster, "app-sync")
            return status if status.get("readers") == ["reader"] else None

        status = await eventually(reader_granted, timeout=30, what="app-sync status naming its reader")
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "False" and ready["reason"] == "ValueTooLarge"
        assert any("'big'" in e and f"{small_limit + 1} bytes" in e for e in status["errors"])
        assert any("private" in e and "zkop.io/sync" in e for e in status["errors"])
        assert status["syncedKeys"] == 3 and status["observedGeneration"] == 1 and status["lastSyncTime"]
        events = [e async for e in client.list(Event, namespace=NS)]
        assert any(e.reason == "ValueTooLarge" and "big" in (e.message or "") for e in events)
        assert any(e.reason == "ReaderNotFound" and "ghost" in (e.message or "") for e in events)
        assert any(e.reason == "InvalidSpec" and "worldReadable" in (e.message or "") for e in events)

        # A change propagates, and only the changed znode is rewritten.
        blob_version = (await asyncio.to_thread(zk.exists, "/config/app/app/blob")).version
        await client.patch(
            ConfigMap,
            "app",
            {"data": {"greeting": "bonjour", "big": "small now"}},
            namespace=NS,
            patch_type=PatchType.MERGE,
        )

        async def changed() -> bool:
            greeting = await asyncio.to_thread(read, zk, "/config/app/app/greeting")
            big = await asyncio.to_thread(read, zk, "/config/app/app/big")
            return greeting == b"bonjour" and big == b"small now"

        await eventually(changed, timeout=30, what="the ConfigMap change in ZooKeeper")
        assert (await asyncio.to_thread(zk.exists, "/config/app/app/blob")).version == blob_version
        assert read(zk, "/config/kept/app/greeting") == b"bonjour"

        # Deletion: Delete removes the owned subtree, Retain keeps it; both objects go away.
        await client.delete(ConfigSyncResource, "app-sync", namespace=NS)
        await client.delete(ConfigSyncResource, "kept-sync", namespace=NS)
        await client.delete(ConfigSyncResource, "open-sync", namespace=NS)

        async def gone(name: str) -> bool:
            return not await sync_status(local_cluster, name) and await _absent(local_cluster, name)

        await eventually(lambda: gone("app-sync"), timeout=30, what="app-sync deleted")
        await eventually(lambda: gone("kept-sync"), timeout=30, what="kept-sync deleted")
        await eventually(lambda: gone("open-sync"), timeout=30, what="open-sync deleted")
        assert await asyncio.to_thread(zk.exists, "/config/app") is None
        assert read(zk, "/config/kept/app/greeting") == b"bonjour"


async def _absent(cluster: LocalCluster, name: str) -> bool:
    assert cluster.client is not None
    try:
        await cluster.client.get(ConfigSyncResource, name, namespace=NS)
    except ApiError as exc:
        return exc.status.code == 404
    return False


async def _get(cluster: LocalCluster, res: Any, name: str) -> Any:
    assert cluster.client is not None
    try:
        return await cluster.client.get(res, name, namespace=NS)
    except ApiError as exc:
        if exc.status.code == 404:
            return None
        raise


async def _with_error(cluster: LocalCluster, name: str, word: str) -> dict[str, Any] | None:
    """The sync's status once one of its errors (or its Ready message) mentions `word`."""
    status = await sync_status(cluster, name)
    ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
    texts = [*status.get("errors", []), ready.get("message", "")]
    return status if any(word in t for t in texts) else None
