"""The controllers against the real local API server, through lightkube, with the test as the kubelet."""

from __future__ import annotations

from typing import Any

from tests.local.controllers.factories import ZK_CRD, service, statefulset
from tests.local.controllers.harness import Cluster, eventually
from zkop_local.controllers.objects import (
    Obj,
    format_time,
    labels_of,
    name_of,
    now_utc,
    owner_refs_of,
    uid_of,
)
from zkop_local.controllers.resources import (
    DEPLOYMENT,
    ENDPOINT_SLICE,
    ENDPOINTS,
    NODE,
    POD,
    PV,
    PVC,
    REPLICASET,
    SERVICE,
    SERVICE_ACCOUNT,
    STATEFULSET,
    ResourceKind,
)
from zkop_local.controllers.statefulset import REVISION_LABEL


async def pods_named(c: Cluster, *names: str) -> list[Obj] | None:
    pods = [p for p in await c.list(POD) if "deletionTimestamp" not in p["metadata"]]
    return pods if sorted(name_of(p) for p in pods) == sorted(names) else None


async def ready_all(c: Cluster) -> None:
    for i, pod in enumerate(await c.list(POD)):
        if (pod.get("status") or {}).get("phase") != "Running":
            await c.make_ready(name_of(pod), f"10.0.0.{10 + i}")


async def sts_status(c: Cluster, name: str = "zk") -> dict[str, Any]:
    sts = await c.get(STATEFULSET, name)
    assert sts is not None
    return dict(sts.get("status") or {})


async def set_image(c: Cluster, image: str) -> None:
    await c.patch(
        STATEFULSET,
        "zk",
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "zk",
                                "image": image,
                                "ports": [{"name": "client", "containerPort": 2181}],
                            }
                        ]
                    }
                }
            }
        },
    )


async def test_on_delete_keeps_old_pods_and_recreates_a_deleted_one_on_the_update_revision(
    c: Cluster,
) -> None:
    await c.create(STATEFULSET, statefulset(replicas=2, policy="Parallel", strategy={"type": "OnDelete"}))
    await eventually(lambda: pods_named(c, "zk-0", "zk-1"), what="pods")
    await ready_all(c)
    claims = await eventually(lambda: _bound_claims(c, 2), what="bound claims")
    old = (await eventually(lambda: _status_with(c, readyReplicas=2), what="ready"))["updateRevision"]

    await set_image(c, "zookeeper:3.10")
    status = await eventually(lambda: _new_revision(c, old), what="update revision")
    assert status["currentRevision"] == old
    assert {labels_of(p)[REVISION_LABEL] for p in await c.list(POD)} == {old}

    await c.delete(POD, "zk-1")
    recreated = await eventually(lambda: _pod_on(c, "zk-1", status["updateRevision"]), what="recreated zk-1")
    assert recreated["spec"]["containers"][0]["image"] == "zookeeper:3.10"
    claim_volume = next(v for v in recreated["spec"]["volumes"] if v["name"] == "data")
    assert claim_volume["persistentVolumeClaim"]["claimName"] == "data-zk-1"
    assert {uid_of(x) for x in await c.list(PVC)} == {uid_of(x) for x in claims}  # the same claims
    zk0 = await c.get(POD, "zk-0")
    assert zk0 is not None and labels_of(zk0)[REVISION_LABEL] == old


async def test_rolling_update_with_partition(c: Cluster) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}
    await c.create(STATEFULSET, statefulset(replicas=3, policy="Parallel", strategy=strategy, claims=False))
    await eventually(lambda: pods_named(c, "zk-0", "zk-1", "zk-2"), what="pods")
    await ready_all(c)
    old = (await eventually(lambda: _status_with(c, readyReplicas=3), what="ready"))["updateRevision"]
    await set_image(c, "zookeeper:3.10")
    new = (await eventually(lambda: _new_revision(c, old), what="revision"))["updateRevision"]
    await eventually(lambda: _pod_on(c, "zk-2", new), what="zk-2 rolled")
    zk1 = await c.get(POD, "zk-1")
    assert zk1 is not None and labels_of(zk1)[REVISION_LABEL] == old  # waits for zk-2 to be Ready
    await ready_all(c)
    await eventually(lambda: _pod_on(c, "zk-1", new), what="zk-1 rolled")
    await ready_all(c)
    await eventually(lambda: _status_with(c, updatedReplicas=2, readyReplicas=3), what="status")
    zk0 = await c.get(POD, "zk-0")
    assert zk0 is not None and labels_of(zk0)[REVISION_LABEL] == old
    assert (await sts_status(c))["currentRevision"] == old


async def test_ordered_ready_creates_one_pod_at_a_time(c: Cluster) -> None:
    await c.create(STATEFULSET, statefulset(replicas=2, claims=False))
    await eventually(lambda: pods_named(c, "zk-0"), what="zk-0")
    assert await pods_named(c, "zk-0")
    await c.make_ready("zk-0", "10.0.0.1")
    await eventually(lambda: pods_named(c, "zk-0", "zk-1"), what="zk-1 after zk-0 Ready")


async def test_scale_down_highest_first_and_claim_retention(c: Cluster) -> None:
    retention = {"whenScaled": "Delete", "whenDeleted": "Retain"}
    await c.create(STATEFULSET, statefulset(replicas=3, retention=retention))
    for name in ("zk-0", "zk-1", "zk-2"):
        await eventually(lambda n=name: c.get(POD, n), what=name)  # type: ignore[misc]
        await ready_all(c)
    await eventually(lambda: _bound_claims(c, 3), what="claims bound")
    volumes = {name_of(v) for v in await c.list(PV)}
    assert all((c.state_dir / "volumes" / v).is_dir() for v in volumes)

    await c.patch(STATEFULSET, "zk", {"spec": {"replicas": 1}})
    await eventually(lambda: pods_named(c, "zk-0"), what="scaled down")
    deletes = [
        r.path.rsplit("/", 1)[-1]
        for r in c.server.requests
        if r.method == "DELETE" and "/pods/" in r.path and r.status == 200
    ]
    assert deletes[:2] == ["zk-2", "zk-1"]
    # whenScaled: Delete -> the condemned pods' claims go with them (via the GC), and their volumes
    # are reclaimed (Delete policy) including the directories.
    await eventually(lambda: _claims_named(c, "data-zk-0"), what="claims of scaled-down pods deleted")
    await eventually(lambda: _pv_count(c, 1), what="volumes reclaimed")
    remaining = {name_of(v) for v in await c.list(PV)}
    for gone in volumes - remaining:
        assert not (c.state_dir / "volumes" / gone).exists()


async def test_default_retention_keeps_claims_on_scale_down(c: Cluster) -> None:
    await c.create(STATEFULSET, statefulset(replicas=2, policy="Parallel"))
    await eventually(lambda: pods_named(c, "zk-0", "zk-1"), what="pods")
    await c.patch(STATEFULSET, "zk", {"spec": {"replicas": 0}})
    await eventually(lambda: _no_pods(c), what="all pods gone")
    assert [name_of(x) for x in await c.list(PVC)] == ["data-zk-0", "data-zk-1"]


async def test_endpoint_slices_follow_readiness_and_publish_not_ready(c: Cluster) -> None:
    await c.create(SERVICE, service("zk-hs"))
    await c.create(SERVICE, service("zk-all", publish=True, headless=False))
    await c.create(STATEFULSET, statefulset(replicas=2, policy="Parallel", claims=False))
    await eventually(lambda: pods_named(c, "zk-0", "zk-1"), what="pods")
    await c.make_ready("zk-0", "10.0.0.1")
    await c.make_ready("zk-1", "10.0.0.2", ready=False)

    hs = await eventually(lambda: _endpoints_of(c, "zk-hs", 2), what="zk-hs slice")
    assert {e["hostname"]: e["conditions"]["ready"] for e in hs} == {"zk-0": True, "zk-1": False}
    published = await eventually(lambda: _endpoints_of(c, "zk-all", 2), what="zk-all slice")
    assert all(e["conditions"]["ready"] for e in published)
    assert all("hostname" not in e for e in published)  # subdomain is zk-hs, not zk-all

    await c.make_ready("zk-1", "10.0.0.2")
    await eventually(lambda: _all_ready(c, "zk-hs"), what="zk-1 ready in slice")
    legacy = await eventually(lambda: c.get(ENDPOINTS, "zk-hs"), what="Endpoints")
    assert legacy is not None
    assert sorted(a["ip"] for a in legacy["subsets"][0]["addresses"]) == ["10.0.0.1", "10.0.0.2"]

    await c.make_ready("zk-0", "10.0.0.1", ready=False)

    async def zk0_not_ready() -> bool:
        ep = await c.get(ENDPOINTS, "zk-hs")
        return ep is not None and [a["ip"] for a in ep["subsets"][0].get("notReadyAddresses", [])] == [
            "10.0.0.1"
        ]

    await eventually(zk0_not_ready, what="legacy notReadyAddresses")
    [slice_] = await _slices(c, "zk-hs")
    assert slice_["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert slice_["ports"] == [{"name": "client", "port": 2181, "protocol": "TCP"}]


async def test_gc_background_foreground_and_orphan(c: Cluster) -> None:
    # Background: deleting the StatefulSet removes its pods and revisions.
    await c.create(STATEFULSET, statefulset("bg", replicas=1, policy="Parallel", claims=False))
    await eventually(lambda: c.get(POD, "bg-0"), what="bg-0")
    await c.delete(STATEFULSET, "bg")
    await eventually(lambda: _gone(c, POD, "bg-0"), what="background cascade")

    # Foreground: the owner stays (with the finalizer) until its blocking dependents are gone.
    await c.create(STATEFULSET, statefulset("fg", replicas=2, policy="Parallel", claims=False))
    await eventually(lambda: c.get(POD, "fg-1"), what="fg pods")
    from lightkube.types import CascadeType

    await c.delete(STATEFULSET, "fg", cascade=CascadeType.FOREGROUND)
    await eventually(lambda: _gone(c, POD, "fg-0"), what="fg-0 deleted")
    await eventually(lambda: _gone(c, STATEFULSET, "fg"), what="owner released after dependents")

    # Orphan: dependents survive without the reference.
    await c.create(STATEFULSET, statefulset("or", replicas=1, policy="Parallel", claims=False))
    await eventually(lambda: c.get(POD, "or-0"), what="or-0")
    await c.delete(STATEFULSET, "or", cascade=CascadeType.ORPHAN)
    await eventually(lambda: _gone(c, STATEFULSET, "or"), what="orphaned owner gone")
    pod = await c.get(POD, "or-0")
    assert pod is not None and owner_refs_of(pod) == []


async def test_gc_collects_dependents_of_a_custom_resource(c: Cluster) -> None:
    c.server.create(ZK_CRD)
    custom = ResourceKind("example.com", "v1", "ZooKeeperCluster", "zookeeperclusters", True)
    owner = await c.create(
        custom,
        {
            "apiVersion": "example.com/v1",
            "kind": "ZooKeeperCluster",
            "metadata": {"name": "zk1", "namespace": "ns"},
            "spec": {"replicas": 1},
        },
    )
    ref = {
        "apiVersion": "example.com/v1",
        "kind": "ZooKeeperCluster",
        "name": "zk1",
        "uid": uid_of(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    sts = statefulset("zk1", replicas=1, policy="Parallel", claims=False)
    sts["metadata"]["ownerReferences"] = [ref]
    await c.create(STATEFULSET, sts)
    await eventually(lambda: c.get(POD, "zk1-0"), what="pod")
    await c.delete(custom, "zk1")
    await eventually(lambda: _gone(c, STATEFULSET, "zk1"), what="StatefulSet collected")
    await eventually(lambda: _gone(c, POD, "zk1-0"), what="pod collected")


async def test_deployment_runs_pods_and_namespace_gets_default_service_account(c: Cluster) -> None:
    await c.create(
        DEPLOYMENT,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "zkop", "namespace": "ns"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "zkop"}},
                "template": {
                    "metadata": {"labels": {"app": "zkop"}},
                    "spec": {"containers": [{"name": "op", "image": "zkop:1"}]},
                },
            },
        },
    )
    [pod] = await eventually(lambda: _non_empty(c.list(POD)), what="operator pod")
    [rs] = await c.list(REPLICASET)
    assert name_of(pod).startswith(name_of(rs) + "-")
    await c.make_ready(name_of(pod), "10.0.0.5")
    await eventually(lambda: _deploy_available(c), what="deployment available")
    await eventually(lambda: c.get(SERVICE_ACCOUNT, "default"), what="default service account")


# --- probes -----------------------------------------------------------------------------------------------


async def _no_pods(c: Cluster) -> bool:
    return not await c.list(POD)


async def _non_empty(coro: Any) -> list[Obj] | None:
    items: list[Obj] = await coro
    return items or None


async def _bound_claims(c: Cluster, n: int) -> list[Obj] | None:
    claims = await c.list(PVC)
    bound = [
        x for x in claims if (x.get("status") or {}).get("phase") == "Bound" and x["spec"].get("volumeName")
    ]
    return bound if len(bound) == n else None


async def _claims_named(c: Cluster, *names: str) -> bool:
    return sorted(name_of(x) for x in await c.list(PVC)) == sorted(names)


async def _pv_count(c: Cluster, n: int) -> bool:
    return len(await c.list(PV)) == n


async def _status_with(c: Cluster, **want: Any) -> dict[str, Any] | None:
    status = await sts_status(c)
    return status if all(status.get(k) == v for k, v in want.items()) else None


async def _new_revision(c: Cluster, old: str) -> dict[str, Any] | None:
    status = await sts_status(c)
    return status if status.get("updateRevision") not in (None, old) else None


async def _pod_on(c: Cluster, name: str, revision: str) -> Obj | None:
    pod = await c.get(POD, name)
    return pod if pod is not None and labels_of(pod).get(REVISION_LABEL) == revision else None


async def _slices(c: Cluster, service_name: str) -> list[Obj]:
    return [
        s
        for s in await c.list(ENDPOINT_SLICE)
        if labels_of(s).get("kubernetes.io/service-name") == service_name
    ]


async def _endpoints_of(c: Cluster, service_name: str, n: int) -> list[dict[str, Any]] | None:
    endpoints = [e for s in await _slices(c, service_name) for e in s.get("endpoints") or []]
    return endpoints if len(endpoints) == n else None


async def _all_ready(c: Cluster, service_name: str) -> bool:
    endpoints = await _endpoints_of(c, service_name, 2)
    return bool(endpoints) and all(e["conditions"]["ready"] for e in endpoints or [])


async def _gone(c: Cluster, resource: ResourceKind, name: str) -> bool:
    return await c.get(resource, name) is None


async def _deploy_available(c: Cluster) -> bool:
    d = await c.get(DEPLOYMENT, "zkop")
    return d is not None and (d.get("status") or {}).get("availableReplicas") == 1


async def test_pods_on_a_lost_node_are_force_deleted_and_recreated(c: Cluster) -> None:
    await c.create(NODE, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "local"}})
    await c.patch(
        NODE,
        "local",
        {
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                        "lastHeartbeatTime": format_time(now_utc()),
                    }
                ]
            }
        },
        status=True,
    )
    sts = statefulset(replicas=1, claims=False)
    sts["spec"]["template"]["spec"]["nodeName"] = "local"  # as if scheduled to the node
    await c.create(STATEFULSET, sts)
    first = await eventually(lambda: c.get(POD, "zk-0"), what="zk-0")
    await c.patch(
        NODE,
        "local",
        {
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "lastTransitionTime": "2026-01-01T00:00:00Z",
                        "lastHeartbeatTime": format_time(now_utc()),
                    }
                ]
            }
        },
        status=True,
    )

    async def replaced() -> Obj | None:
        pod = await c.get(POD, "zk-0")
        return pod if pod is not None and uid_of(pod) != uid_of(first) else None

    await eventually(replaced, what="zk-0 recreated after node loss")
