"""Protocol details: discovery, OpenAPI, exact error headers, dry runs, DELETE options, collections, apply
through /status, the standalone entry point."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from apiserver_testlib import Http, cr

from zkop_local.apiserver import ApiServer

CMS = "/api/v1/namespaces/default/configmaps"
ZKCS = "/apis/example.com/v1/namespaces/default/zookeeperclusters"
APPLY = "application/apply-patch+yaml"


async def test_discovery_documents(http: Http) -> None:
    _, _, version = await http.request("GET", "/version")
    assert version["major"] == "1" and version["gitVersion"].startswith("v1.")
    _, _, core = await http.request("GET", "/api/v1")
    resources = {r["name"]: r for r in core["resources"]}
    assert resources["pods"]["shortNames"] == ["po"] and resources["pods"]["categories"] == ["all"]
    assert resources["pods/log"]["verbs"] == ["get"]
    assert resources["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert resources["namespaces"]["namespaced"] is False
    _, _, groups = await http.request("GET", "/apis")
    names = {g["name"] for g in groups["groups"]}
    assert {
        "apps",
        "coordination.k8s.io",
        "policy",
        "discovery.k8s.io",
        "apiextensions.k8s.io",
        "rbac.authorization.k8s.io",
        "events.k8s.io",
        "networking.k8s.io",
    } <= names
    _, _, apps = await http.request("GET", "/apis/apps/v1")
    sts_scale = next(r for r in apps["resources"] if r["name"] == "statefulsets/scale")
    assert (sts_scale["group"], sts_scale["version"], sts_scale["kind"]) == ("autoscaling", "v1", "Scale")
    status, _, _ = await http.request("GET", "/apis/nope.example/v1")
    assert status == 404


async def test_openapi_v3_has_patch_with_gvk_and_field_validation(http: Http, crd: Any) -> None:
    _, _, index = await http.request("GET", "/openapi/v3")
    url = index["paths"]["apis/example.com/v1"]["serverRelativeURL"]
    assert "?hash=" in url
    _, _, doc = await http.request("GET", url)
    patch = doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/zookeeperclusters/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "example.com",
        "version": "v1",
        "kind": "ZooKeeperCluster",
    }
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    status, _, _ = await http.request("GET", "/openapi/v2")
    assert status == 404


async def test_unknown_paths_are_404_status_with_exact_content_type(http: Http) -> None:
    status, headers, body = await http.request("GET", "/api/v1/frobs")
    assert status == 404 and headers["Content-Type"] == "application/json" and body["kind"] == "Status"


async def test_dry_run_stores_nothing(apiserver: ApiServer, http: Http) -> None:
    rv = apiserver.store.rv
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}}
    status, _, created = await http.request("POST", f"{CMS}?dryRun=All", json_body=body)
    assert status == 201 and created["metadata"]["name"] == "dry"
    assert apiserver.get("v1", "configmaps", "dry", "default") is None and apiserver.store.rv == rv
    status, _, _ = await http.request("POST", f"{CMS}?dryRun=Yes", json_body=body)
    assert status == 400


async def test_delete_options_from_body_and_preconditions(apiserver: ApiServer, http: Http) -> None:
    created = apiserver.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "del", "namespace": "default"}}
    )
    status, _, body = await http.request("DELETE", f"{CMS}/del", json_body={"preconditions": {"uid": "nope"}})
    assert status == 409 and "Precondition failed" in body["message"]
    status, _, body = await http.request(
        "DELETE",
        f"{CMS}/del",
        json_body={
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": "Orphan",
            "preconditions": {"uid": created["metadata"]["uid"]},
        },
    )
    assert status == 200 and body["metadata"]["finalizers"] == ["orphan"]
    status, _, body = await http.request(
        "PATCH",
        f"{CMS}/del",
        json_body={"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    assert status == 200
    status, _, _ = await http.request("DELETE", f"{CMS}/del")
    assert status == 404
    apiserver.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "now", "namespace": "default"}}
    )
    status, _, body = await http.request("DELETE", f"{CMS}/now")
    assert status == 200 and body["kind"] == "Status" and body["status"] == "Success"
    assert body["details"]["kind"] == "configmaps"


async def test_delete_collection_with_selector(apiserver: ApiServer, http: Http) -> None:
    for name, app in (("a", "zk"), ("b", "zk"), ("c", "web")):
        apiserver.create(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
            }
        )
    status, _, body = await http.request("DELETE", f"{CMS}?labelSelector=app%3Dzk")
    assert status == 200 and [i["metadata"]["name"] for i in body["items"]] == ["a", "b"]
    assert [o["metadata"]["name"] for o in apiserver.list("v1", "configmaps", "default")] == ["c"]


async def test_apply_to_status_only_touches_status(http: Http, crd: Any) -> None:
    await http.request("PATCH", f"{ZKCS}/zk?fieldManager=user", json_body=cr("zk", 3), content_type=APPLY)
    status_body = {**cr("zk", 9), "status": {"phase": "Ready"}}
    status, _, obj = await http.request(
        "PATCH", f"{ZKCS}/zk/status?fieldManager=op", json_body=status_body, content_type=APPLY
    )
    assert status == 200 and obj["status"] == {"phase": "Ready"} and obj["spec"]["replicas"] == 3
    entry = next(m for m in obj["metadata"]["managedFields"] if m["manager"] == "op")
    assert entry["operation"] == "Apply" and entry["subresource"] == "status"
    assert obj["metadata"]["generation"] == 1


async def test_ssa_shared_ownership_then_removal(http: Http, crd: Any) -> None:
    one = cr("own", 3, image="zk:1")
    await http.request("PATCH", f"{ZKCS}/own?fieldManager=a", json_body=one, content_type=APPLY)
    await http.request(
        "PATCH", f"{ZKCS}/own?fieldManager=b", json_body=one, content_type=APPLY
    )  # same values
    # a stops applying image; b still owns it, so it stays.
    _, _, obj = await http.request(
        "PATCH", f"{ZKCS}/own?fieldManager=a", json_body=cr("own", 3), content_type=APPLY
    )
    assert obj["spec"]["image"] == "zk:1"
    # b stops too: nobody owns it, so it goes.
    _, _, obj = await http.request(
        "PATCH", f"{ZKCS}/own?fieldManager=b", json_body=cr("own", 3), content_type=APPLY
    )
    assert "image" not in obj["spec"]


async def test_events_accept_offset_timestamps(http: Http) -> None:
    event = {
        "metadata": {"namespace": "default", "generateName": "kopf-event-"},
        "type": "Normal",
        "reason": "Test",
        "message": "m",
        "involvedObject": {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "namespace": "default"},
        "firstTimestamp": "2026-11-22T00:27:39.671023+00:00",
        "lastTimestamp": "2026-11-22T01:27:39.671023+01:00",
        "eventTime": "2026-11-22T00:27:39.671023+00:00",
    }
    status, _, created = await http.request("POST", "/api/v1/namespaces/default/events", json_body=event)
    assert status == 201
    assert created["firstTimestamp"] == created["lastTimestamp"] == "2026-11-22T00:27:39Z"
    assert created["eventTime"] == "2026-11-22T00:27:39.671023Z"
    _, _, listed = await http.request("GET", "/api/v1/events?fieldSelector=involvedObject.name%3Dx")
    assert len(listed["items"]) == 1


async def test_standalone_entry_point(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc.yaml"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zkop_local.apiserver",
        "--port",
        "0",
        "--kubeconfig",
        str(kubeconfig),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
        url = line.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        assert url in kubeconfig.read_text()
        client = Http(url)
        status, _, body = await client.request("GET", "/api/v1/namespaces/default")
        await client.close()
        assert status == 200 and body["status"]["phase"] == "Active"
    finally:
        process.terminate()
        assert await asyncio.wait_for(process.wait(), 10) == 0
    assert json.loads("{}") == {}


async def test_follow_logs_stream_the_providers_chunks(apiserver: ApiServer, http: Http) -> None:
    from collections.abc import AsyncIterator

    from zkop_local.apiserver import LogRequest

    async def provider(request: LogRequest) -> AsyncIterator[bytes]:
        async def chunks() -> AsyncIterator[bytes]:
            for i in range(3):
                yield f"{request.container} {i}\n".encode()
                await asyncio.sleep(0.01)

        return chunks()

    apiserver.set_log_provider(provider)
    apiserver.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}]},
        }
    )
    status, _, body = await http.request("GET", "/api/v1/namespaces/default/pods/p/log")
    assert status == 400 and "choose one of: [a b]" in body["message"]
    status, headers, text = await http.request(
        "GET", "/api/v1/namespaces/default/pods/p/log?container=b&follow=true"
    )
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert text == "b 0\nb 1\nb 2\n"
