"""Legacy (non-aggregated) discovery documents: /version, /api, /apis, /apis/<g>, /api/v1, /apis/<g>/<v>.

Clients that ask for aggregated discovery (kubectl sends ``as=APIGroupDiscoveryList`` first in Accept) fall
back to these documents when the response is plain ``application/json``.
"""

from __future__ import annotations

from typing import Any

from .resources import ALL_VERBS, Registry, ResourceType

KUBERNETES_VERSION = {"major": "1", "minor": "37", "gitVersion": "v1.37.0-zkop-local"}


def version(server_address: str) -> dict[str, Any]:
    return {
        **KUBERNETES_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25 (zkop-local is Python)",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(registry: Registry, group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in registry.versions_of_group(group)]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = sorted({g for g, _ in registry.group_versions() if g})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(registry, g) for g in groups]}


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    if not registry.versions_of_group(group) or not group:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(registry, group)}


def _entries(rtype: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rtype.plural,
        "singularName": rtype.singular,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": list(ALL_VERBS),
    }
    if rtype.short_names:
        main["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        main["categories"] = list(rtype.categories)
    entries = [main]
    for sub in rtype.subresources():
        entry: dict[str, Any] = {
            "name": f"{rtype.plural}/{sub}",
            "singularName": "",
            "namespaced": rtype.namespaced,
        }
        if sub == "scale":
            entry.update(
                {
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
        elif sub == "status":
            entry.update({"kind": rtype.kind, "verbs": ["get", "patch", "update"]})
        else:
            entry.update({"kind": rtype.kind, "verbs": ["get"]})
        entries.append(entry)
    return entries


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    resources = registry.resources(group, version)
    if not resources:
        return None
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [entry for rtype in resources for entry in _entries(rtype)],
    }
