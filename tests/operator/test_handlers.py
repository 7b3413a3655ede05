"""kopf runs the reconcile against a Kubernetes API: objects, status, invalid specs, and no idle writes."""

from __future__ import annotations

import asyncio
from typing import Any

from lightkube import ApiError
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import ConfigMap, Event, Secret, Service, ServiceAccount
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.resources.policy_v1 import PodDisruptionBudget
from lightkube.types import PatchType

from tests.operator.conftest import RunningOperator
from tests.support.waiting import eventually
from zkop.kube.client import ZookeeperClusterResource

CLUSTER = {
    "apiVersion": "zkop.io/v1alpha1",
    "kind": "ZookeeperCluster",
    "metadata": {"name": "zk", "namespace": "default"},
    "spec": {"replicas": 3, "storage": {"size": "1Gi"}},
}


async def get_cluster(op: RunningOperator) -> dict[str, Any]:
    obj = await op.client.get(ZookeeperClusterResource, "zk", namespace="default")
    return obj.to_dict()  # type: ignore[no-any-return]


async def condition(op: RunningOperator, type_: str) -> dict[str, Any] | None:
    status = (await get_cluster(op)).get("status") or {}
    return next((c for c in status.get("conditions", []) if c["type"] == type_), None)


async def get_or_none(op: RunningOperator, res: Any, name: str) -> Any:
    try:
        return await op.client.get(res, name, namespace="default")
    except ApiError:
        return None


async def test_a_new_cluster_gets_every_object_owned_and_applied_by_zkop(operator: RunningOperator) -> None:
    await operator.client.create(ZookeeperClusterResource.from_dict(CLUSTER))
    sts = await eventually(lambda: get_or_none(operator, StatefulSet, "zk"), what="the StatefulSet")
    uid = (await get_cluster(operator))["metadata"]["uid"]
    for res, name in [
        (StatefulSet, "zk"),
        (ConfigMap, "zk-config"),
        (Service, "zk-headless"),
        (Service, "zk-client"),
        (PodDisruptionBudget, "zk"),
        (ServiceAccount, "zk-zookeeper"),
        (Secret, "zk-zkop-superuser"),
    ]:
        obj = await eventually(lambda res=res, name=name: get_or_none(operator, res, name), what=name)
        assert obj.metadata.ownerReferences[0].uid == uid, name
        managers = {m.manager for m in obj.metadata.managedFields or []}
        assert "zkop" in managers, (name, managers)
    assert sts.spec.replicas == 3
    assert sts.spec.updateStrategy.type == "OnDelete"
    ready = await eventually(lambda: condition(operator, "Ready"), what="a Ready condition")
    assert ready["status"] == "False"
    assert ready["observedGeneration"] == 1
    status = (await get_cluster(operator))["status"]
    assert [m["pod"] for m in status["members"]] == ["zk-0", "zk-1", "zk-2"]
    assert all(m["role"] == "down" for m in status["members"])  # no kubelet here: nothing runs


async def test_the_superuser_secret_is_generated_once_and_never_overwritten(
    operator: RunningOperator,
) -> None:
    await operator.client.create(ZookeeperClusterResource.from_dict(CLUSTER))
    secret = await eventually(lambda: get_or_none(operator, Secret, "zk-zkop-superuser"), what="the Secret")
    assert set(secret.data) == {"username", "password", "digest"}
    await asyncio.sleep(2.5)  # several timer passes
    again = await operator.client.get(Secret, "zk-zkop-superuser", namespace="default")
    assert again.data == secret.data
    assert again.metadata.resourceVersion == secret.metadata.resourceVersion


async def test_an_invalid_spec_is_reported_with_the_field_and_running_objects_are_untouched(
    operator: RunningOperator,
) -> None:
    await operator.client.create(ZookeeperClusterResource.from_dict(CLUSTER))
    before = await eventually(lambda: get_or_none(operator, StatefulSet, "zk"), what="the StatefulSet")
    config_before = await operator.client.get(ConfigMap, "zk-config", namespace="default")
    await operator.client.patch(
        ZookeeperClusterResource,
        "zk",
        {"spec": {"config": {"dataDir": "/tmp/elsewhere"}, "image": "zookeeper:3.9.4"}},
        namespace="default",
        patch_type=PatchType.MERGE,
    )

    async def invalid() -> dict[str, Any] | None:
        ready = await condition(operator, "Ready")
        return ready if ready and ready["reason"] == "InvalidSpec" else None

    ready = await eventually(invalid, what="Ready=False InvalidSpec")
    assert ready["status"] == "False"
    assert ready["observedGeneration"] == 2
    assert "spec.config: key 'dataDir' is managed by zkop" in ready["message"]
    events = [e async for e in operator.client.list(Event, namespace="default")]
    invalid_events = [e for e in events if e.reason == "InvalidSpec"]
    assert invalid_events and invalid_events[0].type == "Warning"
    assert "spec.config" in invalid_events[0].message
    assert invalid_events[0].involvedObject.name == "zk"
    await asyncio.sleep(2.5)  # timer passes must not touch anything either
    after = await operator.client.get(StatefulSet, "zk", namespace="default")
    assert after.metadata.resourceVersion == before.metadata.resourceVersion
    assert after.spec.template.spec.containers[0].image == "zookeeper:3.9.3"
    config_after = await operator.client.get(ConfigMap, "zk-config", namespace="default")
    assert config_after.metadata.resourceVersion == config_before.metadata.resourceVersion
    events = [e async for e in operator.client.list(Event, namespace="default")]
    assert len([e for e in events if e.reason == "InvalidSpec"]) == 1


async def test_an_impossible_storage_change_is_refused_naming_the_field(operator: RunningOperator) -> None:
    await operator.client.create(ZookeeperClusterResource.from_dict(CLUSTER))
    before = await eventually(lambda: get_or_none(operator, StatefulSet, "zk"), what="the StatefulSet")
    await operator.client.patch(
        ZookeeperClusterResource,
        "zk",
        {"spec": {"storage": {"size": "5Gi"}}},
        namespace="default",
        patch_type=PatchType.MERGE,
    )

    async def invalid() -> dict[str, Any] | None:
        ready = await condition(operator, "Ready")
        return ready if ready and ready["reason"] == "InvalidSpec" else None

    ready = await eventually(invalid, what="InvalidSpec for the storage change")
    assert ready["message"].startswith("spec.storage.size: cannot change from 1Gi to 5Gi")
    after = await operator.client.get(StatefulSet, "zk", namespace="default")
    assert after.metadata.resourceVersion == before.metadata.resourceVersion


async def test_the_schema_refuses_zero_replicas_before_zkop_sees_it(operator: RunningOperator) -> None:
    bad = {**CLUSTER, "spec": {"replicas": 0}}
    try:
        await operator.client.create(ZookeeperClusterResource.from_dict(bad))
    except ApiError as exc:
        assert exc.status.code == 422
        assert "spec.replicas" in (exc.status.message or "")
    else:
        raise AssertionError("replicas: 0 was accepted")


async def test_a_steady_state_pass_makes_no_write(operator: RunningOperator) -> None:
    await operator.client.create(ZookeeperClusterResource.from_dict(CLUSTER))
    await eventually(lambda: condition(operator, "Ready"), what="a first status")
    await asyncio.sleep(2.5)  # let the first passes settle what they observe

    def writes() -> list[str]:
        # Every mutating request from any client: the test itself writes nothing in this window.
        return [f"{r.method} {r.path}" for r in operator.server.requests if r.method not in ("GET", "HEAD")]

    settled = len(writes())
    gets_before = sum(1 for r in operator.server.requests if r.method == "GET")
    await asyncio.sleep(3.5)  # at least three timer passes (ZKOP_RESYNC_SECONDS=1)
    gets_after = sum(1 for r in operator.server.requests if r.method == "GET")
    assert gets_after > gets_before + 6, "the timer passes did not run"
    assert writes()[settled:] == []


async def test_a_paused_cluster_is_left_alone_and_says_so(operator: RunningOperator) -> None:
    await operator.client.create(ZookeeperClusterResource.from_dict(CLUSTER))
    before = await eventually(lambda: get_or_none(operator, StatefulSet, "zk"), what="the StatefulSet")
    await operator.client.patch(
        ZookeeperClusterResource,
        "zk",
        {"metadata": {"annotations": {"zkop.io/paused": "true"}}, "spec": {"image": "zookeeper:3.9.4"}},
        namespace="default",
        patch_type=PatchType.MERGE,
    )

    async def paused() -> dict[str, Any] | None:
        progressing = await condition(operator, "Progressing")
        return progressing if progressing and progressing["reason"] == "Paused" else None

    await eventually(paused, what="Progressing=False Paused")
    await asyncio.sleep(2.5)
    after = await operator.client.get(StatefulSet, "zk", namespace="default")
    assert after.metadata.resourceVersion == before.metadata.resourceVersion
    await operator.client.patch(
        ZookeeperClusterResource,
        "zk",
        {"metadata": {"annotations": {"zkop.io/paused": None}}},
        namespace="default",
        patch_type=PatchType.MERGE,
    )

    async def upgraded() -> bool:
        sts = await operator.client.get(StatefulSet, "zk", namespace="default")
        return bool(sts.spec.template.spec.containers[0].image == "zookeeper:3.9.4")

    await eventually(upgraded, what="the change applied once unpaused")


async def test_the_network_policy_follows_spec_and_a_foreign_one_is_never_deleted(
    operator: RunningOperator,
) -> None:
    await operator.client.create(ZookeeperClusterResource.from_dict(CLUSTER))
    policy = await eventually(lambda: get_or_none(operator, NetworkPolicy, "zk"), what="the NetworkPolicy")
    assert policy.metadata.labels["app.kubernetes.io/managed-by"] == "zkop"
    ports = {p.port for rule in policy.spec.ingress for p in rule.ports or []}
    assert ports == {2281, 2888, 3888, 8080}

    async def patch(enabled: bool) -> None:
        await operator.client.patch(
            ZookeeperClusterResource,
            "zk",
            {"spec": {"networkPolicy": {"enabled": enabled}}},
            namespace="default",
            patch_type=PatchType.MERGE,
        )

    await patch(False)
    await eventually(
        lambda: _is_none(get_or_none(operator, NetworkPolicy, "zk")), what="the NetworkPolicy deleted"
    )
    # Someone else's policy under the same name stays, whatever zkop's spec says.
    foreign = {"metadata": {"name": "zk", "namespace": "default"}, "spec": {"podSelector": {}}}
    await operator.client.create(NetworkPolicy.from_dict(foreign))
    await asyncio.sleep(2.5)  # several passes
    assert await get_or_none(operator, NetworkPolicy, "zk") is not None


async def _is_none(value: Any) -> bool:
    return await value is None
