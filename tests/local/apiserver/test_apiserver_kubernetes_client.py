"""Conformance through the official ``kubernetes`` client (synchronous, so called from a worker thread)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from apiserver_testlib import cr
from kubernetes.client import ApiClient, AppsV1Api, CoreV1Api, CustomObjectsApi
from kubernetes.client.rest import ApiException

from zkop_local.apiserver import ApiServer


@pytest.fixture
def api_client(kubeconfig: Path) -> Iterator[ApiClient]:
    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield client
    finally:
        client.close()


def deployment(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "main", "image": "img:1", "env": [{"name": "A", "value": "1"}]},
                        {"name": "side", "image": "side:1"},
                    ]
                },
            },
        },
    }


async def test_custom_object_created_without_content_type(api_client: ApiClient, crd: Any) -> None:
    api = CustomObjectsApi(api_client)
    created = await asyncio.to_thread(
        api.create_namespaced_custom_object, "example.com", "v1", "default", "zookeeperclusters", cr("zk1")
    )
    assert created["metadata"]["uid"] and created["kind"] == "ZooKeeperCluster"
    patched = await asyncio.to_thread(
        api.patch_namespaced_custom_object_status,
        "example.com",
        "v1",
        "default",
        "zookeeperclusters",
        "zk1",
        {"status": {"phase": "Ready"}},
    )
    assert patched["status"] == {"phase": "Ready"}
    listed = await asyncio.to_thread(api.list_cluster_custom_object, "example.com", "v1", "zookeeperclusters")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["zk1"]


async def test_strategic_merge_patch_merges_containers_by_name(api_client: ApiClient) -> None:
    apps = AppsV1Api(api_client)
    await asyncio.to_thread(apps.create_namespaced_deployment, "default", deployment("web"))
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [{"name": "main", "image": "img:2", "env": [{"name": "B", "value": "2"}]}]
                }
            }
        }
    }
    patched = await asyncio.to_thread(apps.patch_namespaced_deployment, "web", "default", patch)
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert set(containers) == {"main", "side"}
    assert containers["main"].image == "img:2"
    assert {e.name for e in containers["main"].env} == {"A", "B"}
    assert patched.metadata.generation == 2


async def test_errors_become_api_exceptions(api_client: ApiClient) -> None:
    core = CoreV1Api(api_client)
    with pytest.raises(ApiException) as info:
        await asyncio.to_thread(core.read_namespaced_config_map, "missing", "default")
    assert info.value.status == 404


async def test_delete_with_query_propagation_policy(api_client: ApiClient, apiserver: ApiServer) -> None:
    core = CoreV1Api(api_client)
    apiserver.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}
    )
    await asyncio.to_thread(
        core.delete_namespaced_config_map, "c", "default", propagation_policy="Foreground"
    )
    assert apiserver.get("v1", "configmaps", "c", "default")["metadata"]["finalizers"] == [
        "foregroundDeletion"
    ]
    assert any(r.query.get("propagationPolicy") == "Foreground" for r in apiserver.requests)


async def test_watch_stream_with_bookmarks_and_410(api_client: ApiClient, apiserver: ApiServer) -> None:
    core = CoreV1Api(api_client)
    apiserver.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "w", "namespace": "default"}}
    )

    def first_events() -> list[str]:
        watcher = kubernetes.watch.Watch()
        kinds = []
        for event in watcher.stream(
            core.list_namespaced_config_map, "default", allow_watch_bookmarks=True, timeout_seconds=2
        ):
            kinds.append(event["type"])
            if len(kinds) == 2:
                watcher.stop()
        return kinds

    assert await asyncio.to_thread(first_events) == ["ADDED", "BOOKMARK"]
    apiserver.compact()

    def expired() -> int:
        watcher = kubernetes.watch.Watch()
        try:
            for _ in watcher.stream(
                core.list_namespaced_config_map, "default", resource_version="1", timeout_seconds=2
            ):
                pass
        except ApiException as exc:
            return int(exc.status)
        return 0

    assert await asyncio.to_thread(expired) == 410
