"""Where the runtime gets ConfigMaps, Secrets and PersistentVolumeClaim directories from.

The kubelet loop answers these from the API server; tests use `StaticSources`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

Obj = Mapping[str, Any]


class ObjectSource(Protocol):
    async def get_config_map(self, namespace: str, name: str) -> Obj | None: ...

    async def get_secret(self, namespace: str, name: str) -> Obj | None: ...

    async def claim_path(self, namespace: str, claim: str) -> str | None:
        """Host directory backing a bound claim, or None while it is not bound/provisioned."""
        ...


class StaticSources:
    """In-memory objects, keyed by (namespace, name); claims map to host directories."""

    def __init__(self) -> None:
        self.config_maps: dict[tuple[str, str], Obj] = {}
        self.secrets: dict[tuple[str, str], Obj] = {}
        self.claims: dict[tuple[str, str], str] = {}

    def add(self, obj: Obj) -> None:
        key = (obj["metadata"].get("namespace", "default"), obj["metadata"]["name"])
        if obj.get("kind") == "Secret":
            self.secrets[key] = obj
        else:
            self.config_maps[key] = obj

    async def get_config_map(self, namespace: str, name: str) -> Obj | None:
        return self.config_maps.get((namespace, name))

    async def get_secret(self, namespace: str, name: str) -> Obj | None:
        return self.secrets.get((namespace, name))

    async def claim_path(self, namespace: str, claim: str) -> str | None:
        return self.claims.get((namespace, claim))
