"""ZookeeperZnode under kopf against an API server with no kubelet: what it reports when it cannot act."""

from __future__ import annotations

from typing import Any

from lightkube import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import ConfigMap, Event, Namespace, Secret
from lightkube.types import PatchType

from tests.operator.conftest import RunningOperator
from tests.support.waiting import eventually
from zkop.api.common import GROUP, VERSION
from zkop.api.znode import ZNODE_KIND, ZNODE_PLURAL
from zkop.kube.client import ZookeeperClusterResource

ZnodeResource = create_namespaced_resource(GROUP, VERSION, ZNODE_KIND, ZNODE_PLURAL)


def znode_body(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperZnode",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"clusterRef": {"name": "zk"}, **spec},
    }


async def ready(op: RunningOperator, name: str, reason: str) -> dict[str, Any] | None:
    obj = (await op.client.get(ZnodeResource, name, namespace="default")).to_dict()
    status = obj.get("status") or {}
    found = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)
    return obj if found and found["reason"] == reason else None


async def events(op: RunningOperator, name: str) -> list[Any]:
    return [
        e
        async for e in op.client.list(Event, namespace="default")
        if e.involvedObject.name == name and e.involvedObject.kind == "ZookeeperZnode"
    ]


async def test_a_missing_cluster_is_reported_and_nothing_is_published(operator: RunningOperator) -> None:
    await operator.client.create(ZnodeResource.from_dict(znode_body("orders", deletionPolicy="Delete")))
    obj = await eventually(
        lambda: ready(operator, "orders", "ClusterNotReady"), timeout=30, what="ClusterNotReady"
    )
    condition = obj["status"]["conditions"][0]
    assert condition["status"] == "False" and "default/zk not found" in condition["message"]
    assert condition["observedGeneration"] == 1
    warnings = await eventually(lambda: events(operator, "orders"), timeout=10, what="an Event")
    assert warnings[0].type == "Warning" and warnings[0].reason == "ClusterNotReady"
    for res in (Secret, ConfigMap):
        try:
            await operator.client.get(res, "orders-zookeeper", namespace="default")
            raise AssertionError(f"{res.__name__} published before the subtree exists")
        except ApiError as exc:
            assert exc.status.code == 404
    # Deletion is not held up by a cluster that does not exist.
    await operator.client.delete(ZnodeResource, "orders", namespace="default")

    async def gone() -> bool:
        try:
            await operator.client.get(ZnodeResource, "orders", namespace="default")
        except ApiError as exc:
            return exc.status.code == 404
        return False

    await eventually(gone, timeout=30, what="the object deleted")


async def test_an_invalid_path_is_refused_naming_the_field(operator: RunningOperator) -> None:
    await operator.client.create(ZnodeResource.from_dict(znode_body("bad", path="/zookeeper/mine")))
    obj = await eventually(lambda: ready(operator, "bad", "InvalidSpec"), timeout=30, what="InvalidSpec")
    assert "spec.path" in obj["status"]["conditions"][0]["message"]
    assert "path" not in obj["status"]


async def test_another_namespace_needs_the_clusters_permission(operator: RunningOperator) -> None:
    await operator.client.create(Namespace.from_dict({"metadata": {"name": "kafka"}}))
    cluster = {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperCluster",
        "metadata": {
            "name": "zk",
            "namespace": "kafka",
            "annotations": {"zkop.io/allowed-namespaces": "team-a"},
        },
        "spec": {"replicas": 1},
    }
    await operator.client.create(ZookeeperClusterResource.from_dict(cluster))
    body = znode_body("orders")
    body["spec"]["clusterRef"]["namespace"] = "kafka"
    await operator.client.create(ZnodeResource.from_dict(body))
    obj = await eventually(
        lambda: ready(operator, "orders", "NamespaceNotAllowed"), timeout=30, what="NamespaceNotAllowed"
    )
    assert "zkop.io/allowed-namespaces" in obj["status"]["conditions"][0]["message"]
    assert "zkop.io/znode" not in (obj["metadata"].get("finalizers") or [])  # nothing was started

    # Once the cluster's owner lists the namespace, it gets as far as the cluster allows (not Ready here).
    await operator.client.patch(
        ZookeeperClusterResource,
        "zk",
        {"metadata": {"annotations": {"zkop.io/allowed-namespaces": "team-a, default"}}},
        namespace="kafka",
        patch_type=PatchType.MERGE,
    )
    obj = await eventually(
        lambda: ready(operator, "orders", "ClusterNotReady"), timeout=30, what="ClusterNotReady"
    )
    assert obj["status"]["path"].startswith("/apps/default/orders-")
    assert "zkop.io/znode" in obj["metadata"]["finalizers"]
    assert (await operator.client.get(Secret, "orders-zookeeper", namespace="default")).data["username"]
