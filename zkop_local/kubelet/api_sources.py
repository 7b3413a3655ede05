"""`ObjectSource` backed by the API server (lightkube AsyncClient): ConfigMaps, Secrets, and claim directories
from the bound PersistentVolume's ``hostPath``/``local`` path."""

from __future__ import annotations

from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import ConfigMap, PersistentVolume, PersistentVolumeClaim, Secret

from .runtime.sources import Obj


def as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, dict):
        return obj
    result: dict[str, Any] = obj.to_dict()
    return result


class ApiSources:
    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def _get(self, res: Any, name: str, namespace: str | None) -> dict[str, Any] | None:
        try:
            if namespace is None:
                return as_dict(await self.client.get(res, name))
            return as_dict(await self.client.get(res, name, namespace=namespace))
        except ApiError as exc:
            if exc.status.code == 404:
                return None
            raise

    async def get_config_map(self, namespace: str, name: str) -> Obj | None:
        return await self._get(ConfigMap, name, namespace)

    async def get_secret(self, namespace: str, name: str) -> Obj | None:
        return await self._get(Secret, name, namespace)

    async def claim_path(self, namespace: str, claim: str) -> str | None:
        pvc = await self._get(PersistentVolumeClaim, claim, namespace)
        if pvc is None:
            return None
        volume = (pvc.get("spec") or {}).get("volumeName")
        if not volume:
            return None
        pv = await self._get(PersistentVolume, volume, None)
        if pv is None:
            return None
        spec = pv.get("spec") or {}
        path = (spec.get("hostPath") or {}).get("path") or (spec.get("local") or {}).get("path")
        return str(path) if path else None
