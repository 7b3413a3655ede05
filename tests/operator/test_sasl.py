"""The operator's SASL Secrets against a Kubernetes API: created before the members, passwords kept,
users added by a new restart hash, no idle writes, nothing secret in status or Events."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from lightkube import ApiError
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import ConfigMap, Event, Secret
from lightkube.types import PatchType

from tests.operator.conftest import RunningOperator
from tests.support.waiting import eventually
from zkop.kube.client import ZookeeperClusterResource

CLUSTER = {
    "apiVersion": "zkop.io/v1alpha1",
    "kind": "ZookeeperCluster",
    "metadata": {"name": "zk", "namespace": "default"},
    "spec": {
        "replicas": 3,
        "storage": {"size": "1Gi"},
        "authentication": {"clients": "sasl", "sasl": {"users": ["orders"]}},
    },
}


async def get_or_none(op: RunningOperator, res: Any, name: str) -> Any:
    try:
        return await op.client.get(res, name, namespace="default")
    except ApiError:
        return None


def decoded(secret: Any) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


def restart_hash(sts: Any) -> str:
    return str(sts.spec.template.metadata.annotations["zkop.io/restart-hash"])


async def test_sasl_secrets_are_created_once_and_users_are_rolled_in(operator: RunningOperator) -> None:
    await operator.client.create(ZookeeperClusterResource.from_dict(CLUSTER))
    sts = await eventually(lambda: get_or_none(operator, StatefulSet, "zk"), what="the StatefulSet")
    server = await operator.client.get(Secret, "zk-sasl", namespace="default")
    orders = await operator.client.get(Secret, "zk-sasl-orders", namespace="default")
    # Written before the StatefulSet (members must find them), owned by the cluster, labelled sasl.
    assert int(server.metadata.resourceVersion) < int(sts.metadata.resourceVersion)
    for secret in (server, orders):
        assert secret.type == "Opaque"
        assert secret.metadata.ownerReferences[0].kind == "ZookeeperCluster"
        assert secret.metadata.labels["app.kubernetes.io/component"] == "sasl"
    passwords = decoded(server)
    assert set(passwords) == {"zkop", "orders"}
    assert decoded(orders)["password"] == passwords["orders"]
    assert decoded(orders)["username"] == "orders"
    pod = sts.spec.template.spec
    assert any(v.name == "sasl" and v.secret.secretName == "zk-sasl" for v in pod.volumes)
    env = {e.name: e.value for e in pod.containers[0].env}
    assert env["ZKOP_SASL_USERS"] == "orders zkop"
    discovery = await operator.client.get(ConfigMap, "zk-zookeeper", namespace="default")
    assert discovery.data["ZOOKEEPER_CLIENT_AUTH"] == "sasl"

    await asyncio.sleep(2.5)  # several timer passes: nothing rewritten
    again = await operator.client.get(Secret, "zk-sasl", namespace="default")
    assert again.metadata.resourceVersion == server.metadata.resourceVersion
    first_hash = restart_hash(await operator.client.get(StatefulSet, "zk", namespace="default"))

    await operator.client.patch(
        ZookeeperClusterResource,
        "zk",
        {"spec": {"authentication": {"sasl": {"users": ["orders", "payments"]}}}},
        namespace="default",
        patch_type=PatchType.MERGE,
    )
    payments = await eventually(
        lambda: get_or_none(operator, Secret, "zk-sasl-payments"), what="the new user's Secret"
    )

    async def rehashed() -> Any:
        current = await operator.client.get(StatefulSet, "zk", namespace="default")
        return current if restart_hash(current) != first_hash else None

    rolled = await eventually(rehashed, what="a new restart hash for the new user")
    env = {e.name: e.value for e in rolled.spec.template.spec.containers[0].env}
    assert env["ZKOP_SASL_USERS"] == "orders payments zkop"
    after = decoded(await operator.client.get(Secret, "zk-sasl", namespace="default"))
    assert {k: after[k] for k in passwords} == passwords  # never overwritten
    assert after["payments"] == decoded(payments)["password"]

    # No password anywhere in the cluster's status or Events.
    cluster = (await operator.client.get(ZookeeperClusterResource, "zk", namespace="default")).to_dict()
    events = [e.message or "" async for e in operator.client.list(Event, namespace="default")]
    text = repr(cluster) + " ".join(events) + repr(rolled.to_dict())
    assert not any(p in text for p in after.values())
    assert any("created SASL user payments" in m for m in events)
