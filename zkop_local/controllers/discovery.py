"""Which resources the API server serves, read from its discovery documents.

lightkube has no discovery call, so this is the one place that uses the HTTP client lightkube keeps
inside ``AsyncClient`` (same base URL, TLS and credentials as every other request).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .resources import ResourceKind

if TYPE_CHECKING:
    from lightkube import AsyncClient

log = logging.getLogger(__name__)

# Events are numerous, short-lived and never owners; the GC has no business watching them.
_SKIP = {("", "events"), ("events.k8s.io", "events")}


async def _get_json(client: AsyncClient, path: str) -> dict[str, Any]:
    http = client._client._client  # lightkube's httpx client: see the module docstring
    response = await http.get(path, headers={"Accept": "application/json"})
    response.raise_for_status()
    data = response.json()
    return data if isinstance(data, dict) else {}


def _resources_of(group: str, version: str, doc: dict[str, Any]) -> list[ResourceKind]:
    found = []
    for res in doc.get("resources") or []:
        plural = str(res.get("name") or "")
        verbs = set(res.get("verbs") or [])
        if "/" in plural or not {"list", "watch", "delete", "patch"} <= verbs or (group, plural) in _SKIP:
            continue
        found.append(ResourceKind(group, version, str(res.get("kind")), plural, bool(res.get("namespaced"))))
    return found


async def discover(client: AsyncClient) -> list[ResourceKind]:
    """Every listable, watchable, deletable resource at its group's preferred version."""
    kinds = _resources_of("", "v1", await _get_json(client, "/api/v1"))
    groups = await _get_json(client, "/apis")
    for group in groups.get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("version")
        if not preferred:
            versions = group.get("versions") or [{}]
            preferred = versions[0].get("version")
        name = str(group.get("name") or "")
        try:
            doc = await _get_json(client, f"/apis/{name}/{preferred}")
        except Exception as err:  # a group that vanished between the two requests (CRD deleted)
            log.debug("discovery of %s/%s failed: %r", name, preferred, err)
            continue
        kinds += _resources_of(name, str(preferred), doc)
    return kinds
