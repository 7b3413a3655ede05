"""ZookeeperConfigSync under kopf against an API server with no kubelet: a spec that would publish a
Secret to every ZooKeeper client is refused before anything is written."""

from __future__ import annotations

from typing import Any

from lightkube.resources.core_v1 import Event

from tests.operator.conftest import RunningOperator
from tests.support.waiting import eventually
from zkop.operator.configsync import ConfigSyncResource


async def refused(op: RunningOperator, name: str) -> dict[str, Any] | None:
    obj = (await op.client.get(ConfigSyncResource, name, namespace="default")).to_dict()
    ready = next((c for c in (obj.get("status") or {}).get("conditions", []) if c["type"] == "Ready"), {})
    return obj if ready.get("reason") == "InvalidSpec" else None


async def test_world_readable_secrets_are_refused_naming_the_field_and_the_fix(
    operator: RunningOperator,
) -> None:
    body = {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperConfigSync",
        "metadata": {"name": "open", "namespace": "default"},
        "spec": {
            "clusterRef": {"name": "zk"},
            "path": "/config/open",
            "secrets": [{"name": "creds"}],
            "worldReadable": True,
        },
    }
    await operator.client.create(ConfigSyncResource.from_dict(body))
    obj = await eventually(lambda: refused(operator, "open"), timeout=30, what="InvalidSpec")
    ready = next(c for c in obj["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert ready["message"].startswith("spec.worldReadable: ")
    assert "worldReadable: false" in ready["message"] and "spec.readers" in ready["message"]
    # Refused before anything: no finalizer, so nothing holds a deletion up.
    assert "zkop.io/configsync" not in (obj["metadata"].get("finalizers") or [])

    async def warned() -> list[Any]:
        return [
            e
            async for e in operator.client.list(Event, namespace="default")
            if e.involvedObject.name == "open" and e.reason == "InvalidSpec"
        ]

    (event,) = await eventually(warned, timeout=10, what="an InvalidSpec Event")
    assert event.type == "Warning" and "spec.worldReadable" in (event.message or "")
