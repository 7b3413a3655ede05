"""ZookeeperServiceExport end to end: a Deployment behind Services, published into a 3-member ensemble
by the operator running as users run it, through scaling, readiness, an operator kill, and deletions."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError, NoNodeError
from lightkube.codecs import from_dict
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ConfigMap, Pod, Service
from lightkube.resources.discovery_v1 import EndpointSlice
from lightkube.types import PatchType

from tests.e2e.conftest import ready_status
from tests.e2e.day2 import cluster_body
from tests.support.tls import client_tls, kazoo_args, secret_data
from tests.support.waiting import eventually
from zkop.kube.client import ZookeeperClusterResource
from zkop.operator.exports import ExportResource
from zkop.registry.ledger import LEDGER_ROOT
from zkop.zookeeper.connection import ClientTls
from zkop_local.cluster import LocalCluster

pytestmark = [pytest.mark.netns, pytest.mark.zookeeper]

NS = "default"


def web_objects() -> list[dict[str, Any]]:
    labels = {"app": "web"}
    probe = {"exec": {"command": ["sh", "-c", "test ! -e /flags/$HOSTNAME"]}, "periodSeconds": 1}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "http",
                            "image": "python:3.11",
                            "command": ["python3", "-m", "http.server", "8080", "--directory", "/tmp"],
                            "ports": [{"name": "http", "containerPort": 8080}],
                            # Ready when serving, unless the test flags this pod through the ConfigMap.
                            "readinessProbe": probe,
                            "startupProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
                            "volumeMounts": [{"name": "flags", "mountPath": "/flags"}],
                        }
                    ],
                    "volumes": [{"name": "flags", "configMap": {"name": "web-flags"}}],
                },
            },
        },
    }

    def service(name: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": NS, "labels": {"export": "yes"}},
            "spec": {"selector": labels, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
        }

    flags = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "web-flags", "namespace": NS},
        "data": {"none": ""},
    }
    return [flags, deployment, service("web"), service("api")]


EXPORT = {
    "apiVersion": "zkop.io/v1alpha1",
    "kind": "ZookeeperServiceExport",
    "metadata": {"name": "web-export", "namespace": NS},
    "spec": {"clusterRef": {"name": "zk"}, "labelSelector": {"matchLabels": {"export": "yes"}}},
}


@contextmanager
def zookeeper(hosts: str, tls: ClientTls | None = None, password: str = "") -> Iterator[KazooClient]:
    """With `password`, as zkop's superuser (the root is protected; planting foreign nodes needs it)."""
    auth = [("digest", f"super:{password}")] if password else None
    client = KazooClient(hosts=hosts, timeout=10, auth_data=auth, **kazoo_args(tls))
    client.start(timeout=30)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def instances(client: KazooClient, service: str) -> dict[str, tuple[str, int]]:
    """Curator instances under /services/<service>: id -> (address, port), foreign ones included."""
    found = {}
    try:
        children = client.get_children(f"/services/{service}")
    except NoNodeError:
        return {}
    for child in children:
        data = json.loads(client.get(f"/services/{service}/{child}")[0])
        found[child] = (data["address"], data["port"])
    return found


def czxids(client: KazooClient, service: str) -> dict[str, tuple[int, int]]:
    return {
        c: (client.exists(f"/services/{service}/{c}").czxid, client.exists(f"/services/{service}/{c}").mzxid)
        for c in client.get_children(f"/services/{service}")
    }


async def test_services_are_published_follow_readiness_survive_an_operator_kill_and_are_removed_exactly(
    local_cluster: LocalCluster,
) -> None:
    api = local_cluster.client
    assert api is not None
    await api.create(ZookeeperClusterResource.from_dict(cluster_body("zk", 3)))
    for manifest in web_objects():
        await api.create(from_dict(manifest))
    status = await eventually(lambda: ready_status(local_cluster), timeout=150, what="ensemble Ready")
    hosts = ",".join(f"{m['address']}:2281" for m in status["members"] if m.get("address"))
    tls = await client_tls(api, "zk")
    password = (await secret_data(api, "zk-zkop-superuser"))["password"]

    async def ready_addresses() -> set[str]:
        slices = api.list(EndpointSlice, namespace=NS, labels={"kubernetes.io/service-name": "web"})
        return {
            e.addresses[0]
            async for s in slices
            for e in s.endpoints or []
            if e.conditions and e.conditions.ready
        }

    with zookeeper(hosts, tls, password) as zk, zookeeper(hosts, tls) as anonymous:
        # Foreign registrations in the very paths zkop writes to, and next to them.
        foreign = json.dumps({"name": "web", "id": "foreign", "address": "10.9.9.9", "port": 1}).encode()
        zk.create("/services/web/foreign", foreign, makepath=True)
        zk.create("/services/unrelated/theirs", b"x", makepath=True)

        await api.create(ExportResource.from_dict(EXPORT))

        async def published(service: str, count: int) -> dict[str, tuple[str, int]] | None:
            ours = {
                k: v for k, v in (await asyncio.to_thread(instances, zk, service)).items() if k != "foreign"
            }
            ready = await ready_addresses()
            if len(ready) == count and {a for a, _ in ours.values()} == ready and len(ours) == count:
                return ours
            return None

        first = await eventually(lambda: published("web", 2), timeout=90, what="2 instances published")
        assert {port for _, port in first.values()} == {8080}
        api_instances = await eventually(lambda: published("api", 2), timeout=30, what="api published too")
        # What zkop published anyone may read, but only zkop may change; where zkop created the service's
        # node (api; web's was planted above, open), only zkop may delete its instances too (ZooKeeper
        # checks DELETE on the parent).
        web_node = f"/services/web/{next(iter(first))}"
        api_node = f"/services/api/{next(iter(api_instances))}"
        assert await asyncio.to_thread(anonymous.get, web_node)
        for attempt in (lambda: anonymous.set(web_node, b"{}"), lambda: anonymous.delete(api_node)):
            with pytest.raises(NoAuthError):
                await asyncio.to_thread(attempt)

        async def export_status() -> dict[str, Any]:
            obj = await api.get(ExportResource, "web-export", namespace=NS)
            return dict(obj.to_dict().get("status") or {})

        status = await eventually(
            lambda: _with(export_status(), lambda s: s.get("endpointsPublished") == 4), what="status"
        )
        assert status["servicesPublished"] == 2
        assert next(c for c in status["conditions"] if c["type"] == "Ready")["status"] == "True"

        # Scaling up shows up in the registry.
        await api.patch(
            Deployment, "web", {"spec": {"replicas": 3}}, namespace=NS, patch_type=PatchType.MERGE
        )
        await eventually(lambda: published("web", 3), timeout=60, what="3 instances after scaling up")

        # A pod turning unready disappears from the registry (its endpoint stays, not ready).
        pods = [p async for p in api.list(Pod, namespace=NS, labels={"app": "web"})]
        victim = pods[0]
        await api.patch(
            ConfigMap,
            "web-flags",
            {"data": {victim.metadata.name: ""}},
            namespace=NS,
            patch_type=PatchType.MERGE,
        )
        remaining = await eventually(lambda: published("web", 2), timeout=60, what="the unready pod gone")
        assert victim.status.podIP not in {a for a, _ in remaining.values()}

        # The operator killed: nothing deregisters while it is away, and it converges when back.
        before = await asyncio.to_thread(czxids, zk, "web")
        local_cluster.stop_operator(signal.SIGKILL)
        await api.patch(
            Deployment, "web", {"spec": {"replicas": 1}}, namespace=NS, patch_type=PatchType.MERGE
        )
        await eventually(lambda: _with(ready_addresses(), lambda r: len(r) == 1), timeout=60, what="1 ready")
        assert await asyncio.to_thread(czxids, zk, "web") == before  # nobody touched the registry
        local_cluster.start_operator()
        final = await eventually(lambda: published("web", 1), timeout=60, what="converged after restart")
        after = await asyncio.to_thread(czxids, zk, "web")
        survivor = next(iter(final))
        assert after[survivor] == before[survivor]  # the surviving instance was never rewritten

        # Deleting a Service removes exactly its instances.
        await api.delete(Service, "api", namespace=NS)
        await eventually(
            lambda: asyncio.to_thread(lambda: not instances(zk, "api")), timeout=30, what="api unpublished"
        )
        # Deleting the export removes everything it wrote and its ledger; foreign nodes stay.
        await api.delete(ExportResource, "web-export", namespace=NS)
        await eventually(
            lambda: asyncio.to_thread(lambda: set(instances(zk, "web")) == {"foreign"}),
            timeout=30,
            what="web unpublished",
        )
        await eventually(
            lambda: asyncio.to_thread(lambda: not zk.get_children(LEDGER_ROOT)),
            timeout=30,
            what="ledger gone",
        )
        assert zk.get("/services/web/foreign")[0] == foreign
        assert zk.get("/services/unrelated/theirs")[0] == b"x"


async def _with(pending: Any, check: Any) -> Any:
    value = await pending
    return value if check(value) else None
