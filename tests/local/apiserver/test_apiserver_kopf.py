"""kopf 1.45 runs a tiny operator against the server: discovery, list+watch, finalizer JSON patches with
``test`` ops, status written through ``/status``, events posted with ``+00:00`` timestamps."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any

import kopf
import pytest
from apiserver_testlib import Http, cr

from zkop_local.apiserver import ApiServer


@pytest.fixture
async def operator(apiserver: ApiServer, crd: Any, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    registry = kopf.OperatorRegistry()
    seen: dict[str, list[str]] = {"created": [], "deleted": []}

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # Through the server's own kubeconfig: proves kopf accepts it (no credentials, plain HTTP).
        return kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.level = logging.INFO
        settings.watching.connect_timeout = 5
        settings.networking.request_timeout = 10

    @kopf.on.create("example.com", "v1", "zookeeperclusters", id="created", registry=registry)
    def created(name: str, spec: Any, body: Any, patch: kopf.Patch, **_: Any) -> dict[str, Any]:
        seen["created"].append(name)
        kopf.info(body, reason="Provisioning", message=f"{name} is being provisioned")
        patch.status["phase"] = "Created"
        return {"replicas": spec.get("replicas")}

    @kopf.on.delete("example.com", "v1", "zookeeperclusters", registry=registry)
    def deleted(name: str, **_: Any) -> None:
        seen["deleted"].append(name)

    stop = asyncio.Event()
    task = asyncio.create_task(
        kopf.operator(registry=registry, clusterwide=True, standalone=True, stop_flag=stop)
    )
    try:
        yield seen
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, 10)


async def eventually(check: Any, timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if check():
            return
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_kopf_handles_create_and_delete(
    apiserver: ApiServer, operator: dict[str, list[str]], http: Http
) -> None:
    await asyncio.sleep(0.5)  # let kopf discover, list and start watching
    apiserver.create(cr("zk1"), manager="test")

    def status_written() -> bool:
        obj = apiserver.get("example.com/v1", "zookeeperclusters", "zk1", "default")
        return bool(obj and (obj.get("status") or {}).get("created") == {"replicas": 3})

    await eventually(status_written)
    obj = apiserver.get("example.com/v1", "zookeeperclusters", "zk1", "default")
    assert obj is not None
    assert operator["created"] == ["zk1"]
    assert obj["status"]["phase"] == "Created"
    assert "kopf.zalando.org/KopfFinalizerMarker" in obj["metadata"]["finalizers"]
    status_patches = [
        r
        for r in apiserver.requests
        if r.method == "PATCH" and r.path.endswith("/zookeeperclusters/zk1/status")
    ]
    assert status_patches and all(r.user_agent.startswith("kopf/") for r in status_patches)

    def events() -> list[dict[str, Any]]:
        return [e for e in apiserver.list("v1", "events", "default") if e["involvedObject"]["name"] == "zk1"]

    await eventually(lambda: bool(events()))  # kopf posts events from a background task
    # kopf sends "+00:00" offsets with microseconds; the server stores them as metav1.Time/MicroTime.
    assert all(e["lastTimestamp"].endswith("Z") and len(e["lastTimestamp"]) == 20 for e in events())
    assert all(e["metadata"]["name"].startswith("kopf-event-") for e in events())

    # Deletion: kopf's finalizer holds the object until its delete handler ran, then it goes.
    status, _, body = await http.request(
        "DELETE", "/apis/example.com/v1/namespaces/default/zookeeperclusters/zk1"
    )
    assert status == 200 and body["metadata"]["deletionTimestamp"]  # held by kopf's finalizer
    await eventually(lambda: apiserver.get("example.com/v1", "zookeeperclusters", "zk1", "default") is None)
    assert operator["deleted"] == ["zk1"]
