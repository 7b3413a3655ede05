"""The watch protocol on the wire: expiry as an ERROR event, bookmarks, streaming lists, selectors,
timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

from apiserver_testlib import Http

from zkop_local.apiserver import ApiServer

CMS = "/api/v1/namespaces/default/configmaps"


def configmap(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
    }


async def test_expired_resource_version_is_an_error_event_not_http_410(
    apiserver: ApiServer, http: Http
) -> None:
    apiserver.create(configmap("a"))
    apiserver.compact()
    events = await http.watch_lines(f"{CMS}?watch=true&resourceVersion=1", until=1)
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert status["kind"] == "Status" and status["code"] == 410 and status["reason"] == "Expired"


async def test_history_window_is_bounded(http: Http) -> None:
    server = ApiServer(history_size=3)
    await server.start()
    try:
        for i in range(5):
            server.create(configmap(f"h{i}"))
        client = Http(server.url)
        events = await client.watch_lines(f"{CMS}?watch=true&resourceVersion=2", until=1)
        assert events[0]["type"] == "ERROR" and events[0]["object"]["code"] == 410
        recent = server.store.rv - 2
        events = await client.watch_lines(f"{CMS}?watch=true&resourceVersion={recent}", until=2)
        assert [e["type"] for e in events] == ["ADDED", "ADDED"]
        await client.close()
    finally:
        await server.stop()


async def test_no_resource_version_starts_with_synthetic_added_events(
    apiserver: ApiServer, http: Http
) -> None:
    apiserver.create(configmap("x"))
    apiserver.create(configmap("y"))
    for query in ("watch=true", "watch=true&resourceVersion=0"):
        events = await http.watch_lines(f"{CMS}?{query}", until=2)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("ADDED", "x"),
            ("ADDED", "y"),
        ]
        assert events[0]["object"]["kind"] == "ConfigMap" and events[0]["object"]["apiVersion"] == "v1"


async def test_bookmarks_are_sent_on_quiet_streams(apiserver: ApiServer, http: Http) -> None:
    rv = apiserver.store.rv
    events = await http.watch_lines(
        f"{CMS}?watch=true&allowWatchBookmarks=true&resourceVersion={rv}", until=2
    )
    assert [e["type"] for e in events] == ["BOOKMARK", "BOOKMARK"]
    bookmark = events[0]["object"]
    assert bookmark["kind"] == "ConfigMap" and bookmark["metadata"] == {"resourceVersion": str(rv)}


async def test_no_bookmarks_unless_allowed(apiserver: ApiServer, http: Http) -> None:
    events = await http.watch_lines(f"{CMS}?watch=true&resourceVersion={apiserver.store.rv}", timeout=1.2)
    assert events == []


async def test_send_initial_events_ends_with_annotated_bookmark(apiserver: ApiServer, http: Http) -> None:
    apiserver.create(configmap("i1"))
    query = "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
    events = await http.watch_lines(f"{CMS}?{query}&fieldSelector=metadata.name%3Di1", until=2)
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "i1"
    assert events[1]["type"] == "BOOKMARK"
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    status, _, body = await http.request("GET", f"{CMS}?watch=true&sendInitialEvents=true")
    assert status == 422 and body["reason"] == "Invalid"


async def test_timeout_seconds_ends_the_stream(apiserver: ApiServer, http: Http) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    events = await http.watch_lines(f"{CMS}?watch=true&timeoutSeconds=1&resourceVersion={apiserver.store.rv}")
    assert events == [] and 0.9 < loop.time() - started < 3


async def test_label_selector_turns_leaving_objects_into_deleted(apiserver: ApiServer, http: Http) -> None:
    apiserver.create(configmap("sel", app="zk"))
    rv = apiserver.store.rv
    watch = asyncio.create_task(
        http.watch_lines(f"{CMS}?watch=true&labelSelector=app%3Dzk&resourceVersion={rv}", until=3)
    )
    await asyncio.sleep(0.2)
    merge = "application/merge-patch+json"
    await http.request("PATCH", f"{CMS}/sel", json_body={"data": {"a": "1"}}, content_type=merge)
    await http.request(
        "PATCH", f"{CMS}/sel", json_body={"metadata": {"labels": {"app": "web"}}}, content_type=merge
    )
    await http.request("PATCH", f"{CMS}/sel", json_body={"data": {"a": "2"}}, content_type=merge)  # unseen
    await http.request(
        "PATCH", f"{CMS}/sel", json_body={"metadata": {"labels": {"app": "zk"}}}, content_type=merge
    )
    events = await watch
    assert [e["type"] for e in events] == ["MODIFIED", "DELETED", "ADDED"]


async def test_cluster_wide_watch_sees_every_namespace(apiserver: ApiServer, http: Http) -> None:
    apiserver.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    rv = apiserver.store.rv
    watch = asyncio.create_task(
        http.watch_lines(f"/api/v1/configmaps?watch=true&resourceVersion={rv}", until=2)
    )
    await asyncio.sleep(0.1)
    apiserver.create(configmap("one"))
    apiserver.create({**configmap("two"), "metadata": {"name": "two", "namespace": "other"}})
    events = await watch
    assert [e["object"]["metadata"]["namespace"] for e in events] == ["default", "other"]


async def test_deleted_event_carries_a_new_resource_version(apiserver: ApiServer, http: Http) -> None:
    created = apiserver.create(configmap("d"))
    watch = asyncio.create_task(
        http.watch_lines(
            f"{CMS}?watch=true&resourceVersion={created['metadata']['resourceVersion']}", until=1
        )
    )
    await asyncio.sleep(0.1)
    await http.request("DELETE", f"{CMS}/d")
    (event,) = await watch
    assert event["type"] == "DELETED"
    assert int(event["object"]["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


async def test_events_flow_even_when_bookmarks_are_always_due() -> None:
    """Regression: with the bookmark interval elapsed and events queued, events must still be delivered."""
    server = ApiServer(bookmark_interval=0.001)
    await server.start()
    client = Http(server.url)
    try:
        rv = server.store.rv
        watch = asyncio.create_task(
            client.watch_lines(f"{CMS}?watch=true&allowWatchBookmarks=true&resourceVersion={rv}", timeout=1.5)
        )
        await asyncio.sleep(0.1)
        for i in range(20):
            server.create(configmap(f"b{i}"))
        events = await watch
        added = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
        assert added == [f"b{i}" for i in range(20)]
        assert any(e["type"] == "BOOKMARK" for e in events)
    finally:
        await client.close()
        await server.stop()
