"""Reads and writes zkop makes against the Kubernetes API. Thin: no decisions live here."""

from __future__ import annotations

from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.codecs import resource_registry
from lightkube.generic_resource import create_namespaced_resource
from lightkube.types import PatchType

from zkop.api.cluster import KIND, PLURAL
from zkop.api.common import GROUP, VERSION
from zkop.kube.clock import utc_now
from zkop.render.names import FIELD_MANAGER

ZookeeperClusterResource = create_namespaced_resource(GROUP, VERSION, KIND, PLURAL)
_API_VERSION = f"{GROUP}/{VERSION}"


def _resource_type(api_version: str, kind: str) -> Any:
    if api_version == _API_VERSION and kind == KIND:
        return ZookeeperClusterResource
    return resource_registry.load(api_version, kind)


def _as_dict(obj: Any) -> dict[str, Any]:
    result: dict[str, Any] = obj if isinstance(obj, dict) else obj.to_dict()
    return result


class Kube:
    """The operations zkop needs, on dict manifests. `writes` counts every mutating request made."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.writes = 0

    async def get(self, api_version: str, kind: str, name: str, namespace: str) -> dict[str, Any] | None:
        try:
            obj = await self.client.get(_resource_type(api_version, kind), name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code == 404:
                return None
            raise
        return _as_dict(obj)

    async def list(
        self, api_version: str, kind: str, namespace: str, labels: dict[str, str]
    ) -> list[dict[str, Any]]:
        selector: dict[str, Any] = dict(labels)
        items = self.client.list(_resource_type(api_version, kind), namespace=namespace, labels=selector)
        return [_as_dict(item) async for item in items]

    async def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply as `zkop`, forcing ownership of the fields zkop sets."""
        meta = manifest["metadata"]
        self.writes += 1
        result = await self.client.patch(
            _resource_type(manifest["apiVersion"], manifest["kind"]),
            meta["name"],
            manifest,
            namespace=meta.get("namespace"),
            patch_type=PatchType.APPLY,
            field_manager=FIELD_MANAGER,
            force=True,
        )
        return _as_dict(result)

    async def apply_status(self, name: str, namespace: str, status: dict[str, Any]) -> None:
        """Server-side apply of a ZookeeperCluster's status through the status subresource."""
        self.writes += 1
        await self.client.patch(
            ZookeeperClusterResource.Status,
            name,
            {"apiVersion": _API_VERSION, "kind": KIND, "metadata": {"name": name}, "status": status},
            namespace=namespace,
            patch_type=PatchType.APPLY,
            field_manager=FIELD_MANAGER,
            force=True,
        )

    async def create(self, manifest: dict[str, Any]) -> bool:
        """Create if absent; False when it already exists (used for create-once objects such as Secrets)."""
        self.writes += 1
        try:
            # Namespaced objects carry their namespace in metadata; lightkube takes it from there.
            await self.client.create(
                _resource_type(manifest["apiVersion"], manifest["kind"]).from_dict(manifest),
                field_manager=FIELD_MANAGER,
            )
        except ApiError as exc:
            if exc.status.code == 409:
                return False
            raise
        return True

    async def delete(self, api_version: str, kind: str, name: str, namespace: str) -> bool:
        """Delete an object; False when it was already gone."""
        self.writes += 1
        try:
            await self.client.delete(_resource_type(api_version, kind), name, namespace=namespace)
        except ApiError as exc:
            if exc.status.code == 404:
                return False
            raise
        return True

    async def event(
        self,
        involved: dict[str, Any],
        *,
        type_: str,
        reason: str,
        message: str,
    ) -> None:
        """Record a core v1 Event about `involved` (a ZookeeperCluster), as the zkop controller."""
        meta = involved["metadata"]
        now = utc_now()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", _API_VERSION),
                "kind": involved.get("kind", KIND),
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": "zkop"},
            "reportingComponent": "zkop.io/operator",
            "reportingInstance": "zkop",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        self.writes += 1
        await self.client.create(_resource_type("v1", "Event").from_dict(event))


def identify(client: AsyncClient, agent: str) -> None:
    """Send `agent` as the User-Agent of every request, so an API server's audit (or the local control
    plane's request log) can tell operator replicas apart; the field manager stays `zkop`.

    lightkube has no option for it: its httpx client is reached through two private attributes, and
    a lightkube without them simply keeps its default agent.
    """
    inner = getattr(getattr(client, "_client", None), "_client", None)
    headers = getattr(inner, "headers", None)
    if headers is not None:
        headers["User-Agent"] = agent
