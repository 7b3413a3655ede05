"""Conformance through lightkube's AsyncClient: CRUD, errors, selectors, pagination, patches, apply, watch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from apiserver_testlib import cr
from lightkube import ApiError, AsyncClient
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.apps_v1 import StatefulSetSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import ConfigMap, Namespace, Pod, Secret
from lightkube.types import PatchType

from zkop_local.apiserver import ApiServer

ZKC = create_namespaced_resource("example.com", "v1", "ZooKeeperCluster", "zookeeperclusters")


def cm(name: str, labels: dict[str, str] | None = None, **data: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, namespace="default", labels=labels), data=data or None)


async def test_create_get_list_delete_configmap(lk: AsyncClient) -> None:
    created = await lk.create(cm("zk-conf", a="1"))
    meta = created.metadata
    assert meta.uid and meta.resourceVersion and meta.creationTimestamp
    got = await lk.get(ConfigMap, "zk-conf", namespace="default")
    assert got.data == {"a": "1"} and got.metadata.uid == meta.uid
    names = [c.metadata.name async for c in lk.list(ConfigMap, namespace="default")]
    assert names == ["zk-conf"]
    await lk.delete(ConfigMap, "zk-conf", namespace="default")
    with pytest.raises(ApiError) as info:
        await lk.get(ConfigMap, "zk-conf", namespace="default")
    assert info.value.status.code == 404
    assert info.value.status.reason == "NotFound"
    assert info.value.status.message == 'configmaps "zk-conf" not found'


async def test_error_codes_already_exists_invalid_and_missing_namespace(lk: AsyncClient) -> None:
    await lk.create(cm("dup"))
    with pytest.raises(ApiError) as info:
        await lk.create(cm("dup"))
    assert info.value.status.code == 409 and info.value.status.reason == "AlreadyExists"
    with pytest.raises(ApiError) as info:
        await lk.create(cm("Not_A_Name"))
    assert info.value.status.code == 422 and info.value.status.reason == "Invalid"
    with pytest.raises(ApiError) as info:
        await lk.create(ConfigMap(metadata=ObjectMeta(name="x", namespace="nowhere")))
    assert info.value.status.code == 404
    assert info.value.status.message == 'namespaces "nowhere" not found'


async def test_builtin_namespaces_exist(lk: AsyncClient) -> None:
    names = {n.metadata.name async for n in lk.list(Namespace)}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


async def test_generate_name_uses_the_safe_alphabet(lk: AsyncClient) -> None:
    created = await lk.create(ConfigMap(metadata=ObjectMeta(generateName="gen-", namespace="default")))
    suffix = created.metadata.name.removeprefix("gen-")
    assert len(suffix) == 5 and set(suffix) <= set("bcdfghjklmnpqrstvwxz2456789")


async def test_replace_with_stale_resource_version_conflicts(lk: AsyncClient) -> None:
    first = await lk.create(cm("c", v="1"))
    first.data = {"v": "2"}
    second = await lk.replace(first)
    assert int(second.metadata.resourceVersion) > int(first.metadata.resourceVersion)
    first.data = {"v": "3"}  # still carries the old resourceVersion
    with pytest.raises(ApiError) as info:
        await lk.replace(first)
    assert info.value.status.code == 409 and info.value.status.reason == "Conflict"
    assert "the object has been modified" in info.value.status.message


async def test_label_selectors(lk: AsyncClient) -> None:
    await lk.create(cm("a", {"app": "zk", "tier": "db"}))
    await lk.create(cm("b", {"app": "zk"}))
    await lk.create(cm("c", {"app": "web"}))

    async def names(labels: dict[str, Any]) -> list[str]:
        return [c.metadata.name async for c in lk.list(ConfigMap, namespace="default", labels=labels)]

    from lightkube import operators as op

    assert await names({"app": "zk"}) == ["a", "b"]
    assert await names({"app": op.not_equal("zk")}) == ["c"]
    assert await names({"app": op.in_(["zk", "web"]), "tier": op.exists()}) == ["a"]
    assert await names({"app": op.not_in(["zk"])}) == ["c"]
    assert await names({"tier": op.not_exists()}) == ["b", "c"]


async def test_field_selectors_and_unknown_field(lk: AsyncClient, apiserver: ApiServer) -> None:
    await lk.create(cm("one"))
    await lk.create(cm("two"))
    got = [
        c.metadata.name
        async for c in lk.list(ConfigMap, namespace="default", fields={"metadata.name": "two"})
    ]
    assert got == ["two"]
    await lk.create(Secret(metadata=ObjectMeta(name="s1", namespace="default"), type="kubernetes.io/tls"))
    await lk.create(Secret(metadata=ObjectMeta(name="s2", namespace="default")))
    tls = [
        s.metadata.name
        async for s in lk.list(Secret, namespace="default", fields={"type": "kubernetes.io/tls"})
    ]
    assert tls == ["s1"]
    apiserver.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"nodeName": "local", "containers": [{"name": "c", "image": "i"}]},
        }
    )
    pods = [
        p.metadata.name
        async for p in lk.list(Pod, fields={"spec.nodeName": "local", "status.phase": "Pending"})
    ]
    assert pods == ["p"]
    with pytest.raises(ApiError) as info:
        async for _ in lk.list(ConfigMap, namespace="default", fields={"foo.bar": "x"}):
            pass
    assert info.value.status.code == 400
    assert '"foo.bar" is not a known field selector' in info.value.status.message


async def test_pagination_serves_every_page_from_one_snapshot(lk: AsyncClient, http: Any) -> None:
    for i in range(5):
        await lk.create(cm(f"p{i}"))
    status, _, page1 = await http.request("GET", "/api/v1/namespaces/default/configmaps?limit=2")
    assert status == 200 and len(page1["items"]) == 2
    token = page1["metadata"]["continue"]
    assert page1["metadata"]["remainingItemCount"] == 3
    await lk.create(cm("p9"))  # after the snapshot: must not show up in later pages
    status, _, page2 = await http.request(
        "GET", f"/api/v1/namespaces/default/configmaps?limit=2&continue={token}"
    )
    assert [i["metadata"]["name"] for i in page2["items"]] == ["p2", "p3"]
    assert page2["metadata"]["resourceVersion"] == page1["metadata"]["resourceVersion"]
    status, _, page3 = await http.request(
        "GET", f"/api/v1/namespaces/default/configmaps?limit=2&continue={page2['metadata']['continue']}"
    )
    assert [i["metadata"]["name"] for i in page3["items"]] == ["p4"]
    assert not page3["metadata"].get("continue")
    # lightkube's own chunked listing walks all pages.
    assert len([c async for c in lk.list(ConfigMap, namespace="default", chunk_size=2)]) == 6


async def test_expired_continue_token_is_410(lk: AsyncClient, http: Any, apiserver: ApiServer) -> None:
    for i in range(3):
        await lk.create(cm(f"e{i}"))
    _, _, page = await http.request("GET", "/api/v1/namespaces/default/configmaps?limit=1")
    apiserver.store.expire_snapshots()
    status, headers, body = await http.request(
        "GET", f"/api/v1/namespaces/default/configmaps?limit=1&continue={page['metadata']['continue']}"
    )
    assert status == 410 and body["reason"] == "Expired"
    assert headers["Content-Type"] == "application/json"


async def test_merge_and_json_patch(lk: AsyncClient) -> None:
    created = await lk.create(cm("m", a="1", b="2"))
    patched = await lk.patch(
        ConfigMap, "m", {"data": {"a": None, "c": "3"}}, namespace="default", patch_type=PatchType.MERGE
    )
    assert patched.data == {"b": "2", "c": "3"}
    rv = patched.metadata.resourceVersion
    assert rv != created.metadata.resourceVersion
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "add", "path": "/metadata/finalizers", "value": ["x/y"]},
    ]
    patched = await lk.patch(ConfigMap, "m", ops, namespace="default", patch_type=PatchType.JSON)
    assert patched.metadata.finalizers == ["x/y"]
    with pytest.raises(ApiError) as info:  # the same test again: the RV moved on, so 422 (kopf relies on it)
        await lk.patch(ConfigMap, "m", ops, namespace="default", patch_type=PatchType.JSON)
    assert info.value.status.code == 422


async def test_apply_creates_then_removes_fields_it_no_longer_applies(lk: AsyncClient) -> None:
    first = await lk.apply(cm("ssa", a="1", b="2"))
    assert first.data == {"a": "1", "b": "2"}
    managers = {(m.manager, m.operation) for m in first.metadata.managedFields}
    assert ("zkop", "Apply") in managers
    second = await lk.apply(cm("ssa", a="1"))
    assert second.data == {"a": "1"}


async def test_apply_conflict_and_force(lk: AsyncClient) -> None:
    await lk.apply(cm("owned", a="1"), field_manager="first")
    with pytest.raises(ApiError) as info:
        await lk.apply(cm("owned", a="2"), field_manager="second")
    status = info.value.status
    assert status.code == 409 and status.reason == "Conflict"
    cause = status.details.causes[0]
    assert cause.reason == "FieldManagerConflict" and cause.field == ".data.a"
    assert '"first"' in cause.message
    forced = await lk.apply(cm("owned", a="2"), field_manager="second", force=True)
    assert forced.data == {"a": "2"}


async def test_apply_without_field_manager_is_invalid(http: Any) -> None:
    status, _, body = await http.request(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/x",
        json_body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
        content_type="application/apply-patch+yaml",
    )
    assert status == 422
    assert body["details"]["causes"][0]["field"] == "fieldManager"


async def test_apply_accepts_yaml_bodies(http: Any) -> None:
    status, _, body = await http.request(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/y?fieldManager=me",
        data=b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  k: v\n",
        content_type="application/apply-patch+yaml",
    )
    assert status == 201 and body["data"] == {"k": "v"}


async def test_custom_resource_status_subresource_isolation(lk: AsyncClient, crd: Any) -> None:
    created = await lk.create(ZKC.from_dict({**cr("zk1"), "status": {"phase": "Ignored"}}))
    assert "status" not in created or not created.status  # create ignores status
    assert created.metadata.generation == 1
    # The main endpoint ignores status changes ...
    patched = await lk.patch(
        ZKC,
        "zk1",
        {"spec": {"replicas": 5}, "status": {"phase": "Nope"}},
        namespace="default",
        patch_type=PatchType.MERGE,
    )
    assert patched.spec["replicas"] == 5 and not (patched.status or {}).get("phase")
    assert patched.metadata.generation == 2
    # ... and /status ignores everything but status, without bumping generation.
    written = await lk.patch(
        ZKC.Status,
        "zk1",
        {"spec": {"replicas": 1}, "status": {"phase": "Running"}},
        namespace="default",
        patch_type=PatchType.MERGE,
    )
    assert written.status["phase"] == "Running" and written.spec["replicas"] == 5
    assert written.metadata.generation == 2
    # Metadata-only changes do not bump generation either.
    labelled = await lk.patch(
        ZKC, "zk1", {"metadata": {"labels": {"a": "b"}}}, namespace="default", patch_type=PatchType.MERGE
    )
    assert labelled.metadata.generation == 2


async def test_custom_resources_refuse_strategic_merge_patch(lk: AsyncClient, crd: Any) -> None:
    await lk.create(ZKC.from_dict(cr("zk2")))
    with pytest.raises(ApiError) as info:
        await lk.patch(
            ZKC, "zk2", {"spec": {"replicas": 1}}, namespace="default", patch_type=PatchType.STRATEGIC
        )
    assert info.value.status.code == 415


async def test_put_on_custom_resource_requires_resource_version(http: Any, crd: Any, lk: AsyncClient) -> None:
    await lk.create(ZKC.from_dict(cr("zk3")))
    status, _, body = await http.request(
        "PUT", "/apis/example.com/v1/namespaces/default/zookeeperclusters/zk3", json_body=cr("zk3", 4)
    )
    assert status == 422 and body["details"]["causes"][0]["field"] == "metadata.resourceVersion"


async def test_finalizers_hold_deletion_and_block_new_finalizers(lk: AsyncClient) -> None:
    await lk.create(ConfigMap(metadata=ObjectMeta(name="f", namespace="default", finalizers=["a/b"])))
    await lk.delete(ConfigMap, "f", namespace="default")
    held = await lk.get(ConfigMap, "f", namespace="default")
    assert held.metadata.deletionTimestamp is not None
    with pytest.raises(ApiError) as info:
        await lk.patch(
            ConfigMap,
            "f",
            {"metadata": {"finalizers": ["a/b", "c/d"]}},
            namespace="default",
            patch_type=PatchType.MERGE,
        )
    assert info.value.status.code == 422
    await lk.patch(
        ConfigMap, "f", {"metadata": {"finalizers": None}}, namespace="default", patch_type=PatchType.MERGE
    )
    with pytest.raises(ApiError) as info:
        await lk.get(ConfigMap, "f", namespace="default")
    assert info.value.status.code == 404


async def test_deletion_timestamp_bumps_generation(lk: AsyncClient, crd: Any) -> None:
    obj = cr("zkf")
    obj["metadata"]["finalizers"] = ["example.com/hold"]
    await lk.create(ZKC.from_dict(obj))
    await lk.delete(ZKC, "zkf", namespace="default")
    held = await lk.get(ZKC, "zkf", namespace="default")
    assert held.metadata.deletionTimestamp and held.metadata.generation == 2


async def test_statefulset_generation_ignores_status_and_metadata(lk: AsyncClient) -> None:
    sts = StatefulSet(
        metadata=ObjectMeta(name="zk", namespace="default"),
        spec=StatefulSetSpec(
            serviceName="zk-hs",
            selector=LabelSelector(matchLabels={"app": "zk"}),
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels={"app": "zk"}),
                spec=PodSpec(containers=[Container(name="zk", image="zk:1")]),
            ),
        ),
    )
    created = await lk.create(sts)
    assert created.metadata.generation == 1 and created.spec.replicas == 1  # defaulted
    after_labels = await lk.patch(
        StatefulSet, "zk", {"metadata": {"labels": {"x": "y"}}}, namespace="default"
    )
    assert after_labels.metadata.generation == 1
    after_status = await lk.patch(
        StatefulSet.Status, "zk", {"status": {"replicas": 1}}, namespace="default", patch_type=PatchType.MERGE
    )
    assert after_status.metadata.generation == 1 and after_status.status.replicas == 1
    after_spec = await lk.patch(StatefulSet, "zk", {"spec": {"replicas": 3}}, namespace="default")
    assert after_spec.metadata.generation == 2
    scale = await lk.get(StatefulSet.Scale, "zk", namespace="default")
    assert scale.spec.replicas == 3 and scale.status.selector == "app=zk"


async def test_pods_are_deleted_gracefully_once_scheduled(lk: AsyncClient, apiserver: ApiServer) -> None:
    for name, node in (("unscheduled", None), ("running", "local")):
        spec: dict[str, Any] = {"containers": [{"name": "c", "image": "i"}]}
        if node:
            spec["nodeName"] = node
        apiserver.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": "default"},
                "spec": spec,
            }
        )
    await lk.delete(Pod, "unscheduled", namespace="default")
    with pytest.raises(ApiError):
        await lk.get(Pod, "unscheduled", namespace="default")
    await lk.delete(Pod, "running", namespace="default")
    terminating = await lk.get(Pod, "running", namespace="default")
    assert terminating.metadata.deletionTimestamp is not None
    assert terminating.metadata.deletionGracePeriodSeconds == 30
    await lk.delete(Pod, "running", namespace="default", grace_period=0)  # what the kubelet does at the end
    with pytest.raises(ApiError):
        await lk.get(Pod, "running", namespace="default")


async def test_propagation_policy_adds_gc_finalizers(lk: AsyncClient) -> None:
    from lightkube.types import CascadeType

    await lk.create(cm("fg"))
    await lk.delete(ConfigMap, "fg", namespace="default", cascade=CascadeType.FOREGROUND)
    assert (await lk.get(ConfigMap, "fg", namespace="default")).metadata.finalizers == ["foregroundDeletion"]
    await lk.create(cm("or"))
    await lk.delete(ConfigMap, "or", namespace="default", cascade=CascadeType.ORPHAN)
    assert (await lk.get(ConfigMap, "or", namespace="default")).metadata.finalizers == ["orphan"]


async def test_namespace_deletion_removes_its_content(lk: AsyncClient) -> None:
    await lk.create(Namespace(metadata=ObjectMeta(name="doomed")))
    await lk.create(ConfigMap(metadata=ObjectMeta(name="x", namespace="doomed")))
    await lk.delete(Namespace, "doomed")
    for _ in range(50):
        try:
            ns = await lk.get(Namespace, "doomed")
            assert ns.status.phase == "Terminating"
        except ApiError as exc:
            assert exc.status.code == 404
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("namespace never went away")
    with pytest.raises(ApiError):
        await lk.get(ConfigMap, "x", namespace="doomed")


async def test_watch_streams_changes_and_resumes_from_a_resource_version(lk: AsyncClient) -> None:
    created = await lk.create(cm("w", a="1"))
    seen: list[tuple[str, str]] = []

    async def collect(resource_version: str | None, count: int) -> None:
        async for kind, obj in lk.watch(ConfigMap, namespace="default", resource_version=resource_version):
            seen.append((kind, obj.metadata.name))
            if len(seen) >= count:
                return

    task = asyncio.create_task(collect(None, 3))
    await asyncio.sleep(0.2)
    await lk.patch(ConfigMap, "w", {"data": {"a": "2"}}, namespace="default", patch_type=PatchType.MERGE)
    await lk.delete(ConfigMap, "w", namespace="default")
    await asyncio.wait_for(task, 5)
    assert seen == [("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]
    # Resuming from the creation RV replays only what happened after it.
    seen.clear()
    await asyncio.wait_for(collect(created.metadata.resourceVersion, 2), 5)
    assert seen == [("MODIFIED", "w"), ("DELETED", "w")]


async def test_crd_served_after_creation_through_the_api(lk: AsyncClient, http: Any) -> None:
    from apiserver_testlib import ZK_CRD

    status, _, body = await http.request(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json_body=ZK_CRD
    )
    assert status == 201
    conditions = {c["type"]: c["status"] for c in body["status"]["conditions"]}
    assert conditions == {"NamesAccepted": "True", "Established": "True"}
    assert body["status"]["acceptedNames"]["listKind"] == "ZooKeeperClusterList"
    status, _, resources = await http.request("GET", "/apis/example.com/v1")
    names = {r["name"]: r for r in resources["resources"]}
    assert set(names) == {"zookeeperclusters", "zookeeperclusters/status", "zookeeperclusters/scale"}
    assert names["zookeeperclusters"]["shortNames"] == ["zkc"]
    assert names["zookeeperclusters/scale"]["group"] == "autoscaling"
    await lk.create(ZKC.from_dict(cr("served")))
    status, _, listing = await http.request("GET", "/apis/example.com/v1/zookeeperclusters")
    assert listing["kind"] == "ZooKeeperClusterList" and listing["items"][0]["kind"] == "ZooKeeperCluster"
    # Deleting the CRD stops serving it.
    await http.request(
        "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/zookeeperclusters.example.com"
    )
    status, _, _ = await http.request("GET", "/apis/example.com/v1/zookeeperclusters")
    assert status == 404


async def test_sync_client_and_lease_optimistic_concurrency(kubeconfig: Any) -> None:
    """lightkube's synchronous Client (in a thread: the server shares this event loop) doing leader election
    style Lease updates: MicroTime accepted, a racing PUT with an old resourceVersion loses with 409."""
    from lightkube import Client, KubeConfig
    from lightkube.models.coordination_v1 import LeaseSpec
    from lightkube.resources.coordination_v1 import Lease

    def elect() -> tuple[str, int]:
        client = Client(config=KubeConfig.from_file(str(kubeconfig)), field_manager="elector")
        now = "2026-11-22T00:30:08.123456Z"
        lease = client.create(
            Lease(
                metadata=ObjectMeta(name="leader", namespace="default"),
                spec=LeaseSpec(holderIdentity="a", leaseDurationSeconds=15, acquireTime=now, renewTime=now),
            )
        )
        winner = client.get(Lease, "leader", namespace="default")
        winner.spec.holderIdentity = "b"
        client.replace(winner)
        lease.spec.holderIdentity = "c"  # raced with b's update: stale resourceVersion
        try:
            client.replace(lease)
        except ApiError as exc:
            code = exc.status.code
        else:
            code = 200
        final = client.get(Lease, "leader", namespace="default")
        client.close()
        return final.spec.holderIdentity, code

    holder, code = await asyncio.to_thread(elect)
    assert (holder, code) == ("b", 409)


async def test_create_without_namespace_in_path_is_refused(http: Any) -> None:
    status, _, body = await http.request(
        "POST",
        "/api/v1/configmaps",
        json_body={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
    )
    assert status == 405 and body["reason"] == "MethodNotAllowed"


async def test_secret_string_data_is_merged_into_data_and_never_stored(lk: AsyncClient) -> None:
    secret = Secret(
        metadata=ObjectMeta(name="sd", namespace="default"),
        data={"kept": "a2VwdA==", "both": "b2xk"},
        stringData={"both": "new", "plain": "text"},
    )
    stored = await lk.create(secret)
    assert stored.data == {"kept": "a2VwdA==", "both": "bmV3", "plain": "dGV4dA=="}
    assert stored.stringData is None
    assert (await lk.get(Secret, "sd", namespace="default")).stringData is None
