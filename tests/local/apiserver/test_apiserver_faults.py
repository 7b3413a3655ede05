"""Fault injection (Python API and the /zkop-local/faults endpoint) and the request log."""

from __future__ import annotations

import asyncio

import pytest
from apiserver_testlib import Http
from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from zkop_local.apiserver import ApiServer

CMS = "/api/v1/namespaces/default/configmaps"


def cm(name: str, **data: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, namespace="default"), data=data or None)


async def test_error_fault_fails_the_chosen_requests_count_times(
    apiserver: ApiServer, lk: AsyncClient
) -> None:
    await lk.create(cm("a"))
    apiserver.add_fault("error", verb="patch", resource="configmaps", name="a", code=409, count=1)
    with pytest.raises(ApiError) as info:
        await lk.patch(ConfigMap, "a", {"data": {"x": "1"}}, namespace="default", patch_type=PatchType.MERGE)
    assert info.value.status.code == 409 and info.value.status.reason == "Conflict"
    # Only once, only that verb.
    patched = await lk.patch(
        ConfigMap, "a", {"data": {"x": "1"}}, namespace="default", patch_type=PatchType.MERGE
    )
    assert patched.data == {"x": "1"}
    apiserver.add_fault("error", verb="get", resource="configmaps", code=500)
    for _ in range(2):
        with pytest.raises(ApiError) as info:
            await lk.get(ConfigMap, "a", namespace="default")
        assert info.value.status.code == 500
    apiserver.clear_faults()
    assert (await lk.get(ConfigMap, "a", namespace="default")).data == {"x": "1"}


async def test_timeout_fault_hangs_the_request(apiserver: ApiServer, http: Http) -> None:
    apiserver.add_fault("timeout", verb="list", resource="configmaps", seconds=0.5, count=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, _, body = await http.request("GET", CMS)
    assert status == 504 and body["reason"] == "Timeout" and loop.time() - started >= 0.5


async def test_stale_reads_serve_the_previous_version(apiserver: ApiServer, lk: AsyncClient) -> None:
    await lk.create(cm("s", v="1"))
    await lk.patch(ConfigMap, "s", {"data": {"v": "2"}}, namespace="default", patch_type=PatchType.MERGE)
    apiserver.add_fault("stale", resource="configmaps", count=2)
    assert (await lk.get(ConfigMap, "s", namespace="default")).data == {"v": "1"}
    assert [c.data async for c in lk.list(ConfigMap, namespace="default")] == [{"v": "1"}]
    assert (await lk.get(ConfigMap, "s", namespace="default")).data == {"v": "2"}


async def test_watch_events_can_be_dropped_or_delayed(apiserver: ApiServer, http: Http) -> None:
    rv = apiserver.store.rv
    apiserver.add_fault("drop_watch", resource="configmaps", name="dropped")
    apiserver.add_fault("delay_watch", resource="configmaps", name="late", seconds=0.6)
    watch = asyncio.create_task(
        http.watch_lines(f"{CMS}?watch=true&resourceVersion={rv}", until=2, timeout=4)
    )
    await asyncio.sleep(0.1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for name in ("dropped", "late", "prompt"):
        apiserver.create(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}}
        )
    events = await watch
    assert [e["object"]["metadata"]["name"] for e in events] == ["late", "prompt"]
    assert loop.time() - started >= 0.6


async def test_faults_over_http(apiserver: ApiServer, http: Http) -> None:
    status, _, fault = await http.request(
        "POST",
        "/zkop-local/faults",
        json_body={"action": "error", "verb": "create", "resource": "configmaps", "code": 500, "count": 1},
    )
    assert status == 201 and fault["id"]
    status, _, listed = await http.request("GET", "/zkop-local/faults")
    assert [f["id"] for f in listed] == [fault["id"]]
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "h"}}
    status, headers, error = await http.request("POST", CMS, json_body=body)
    assert status == 500 and headers["Content-Type"] == "application/json" and error["kind"] == "Status"
    status, _, _ = await http.request("POST", CMS, json_body=body)
    assert status == 201
    await http.request("POST", "/zkop-local/faults", json_body={"action": "error", "code": 500})
    status, _, _ = await http.request("DELETE", "/zkop-local/faults")
    assert status == 200 and apiserver.faults.list() == []
    status, _, error = await http.request("POST", "/zkop-local/faults", json_body={"action": "explode"})
    assert status == 400


async def test_request_log_names_client_and_field_manager(
    apiserver: ApiServer, http: Http, lk: AsyncClient
) -> None:
    await lk.apply(cm("logged", a="1"))
    await http.request(
        "PATCH",
        f"{CMS}/logged",
        json_body={"data": {"b": "2"}},
        content_type="application/merge-patch+json",
        headers={"User-Agent": "curlish/1.0"},
    )
    _, _, entries = await http.request("GET", "/zkop-local/requests")
    writes = [
        (e["method"], e["field_manager"], e["user_agent"].split("/")[0])
        for e in entries
        if e["method"] == "PATCH"
    ]
    assert writes == [("PATCH", "zkop", "python-httpx2"), ("PATCH", "curlish", "curlish")]
    assert all(e["path"] == f"{CMS}/logged" and e["time"] > 0 for e in entries if e["method"] == "PATCH")
    obj = apiserver.get("v1", "configmaps", "logged", "default")
    assert obj is not None
    assert {(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]} == {
        ("zkop", "Apply"),
        ("curlish", "Update"),
    }
    await http.request("DELETE", "/zkop-local/requests")
    assert apiserver.requests == [] or all(r.path.startswith("/zkop-local") for r in apiserver.requests)
