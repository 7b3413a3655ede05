"""A minimal OpenAPI v3 surface: enough for ``kubectl apply --server-side`` to find PATCH support.

kubectl checks, per group-version, that the PATCH operation of the resource carries
``x-kubernetes-group-version-kind`` and a ``fieldValidation`` query parameter; without that it falls back to
the protobuf /openapi/v2 and fails. Schemas are permissive (objects preserving unknown fields), except that
CRDs publish their own ``openAPIV3Schema``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .resources import Registry, ResourceType


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    resources = registry.resources(group, version)
    if not resources:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for rtype in resources:
        schema_name = _schema_name(rtype)
        schemas[schema_name] = _schema(rtype)
        for path in _item_paths(rtype):
            paths[path] = _item_operations(rtype, schema_name)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.37.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _schema_name(rtype: ResourceType) -> str:
    group = ".".join(reversed(rtype.group.split("."))) if rtype.group else "io.k8s.api.core"
    return f"{group}.{rtype.version}.{rtype.kind}"


def _schema(rtype: ResourceType) -> dict[str, Any]:
    gvk = [{"group": rtype.group, "version": rtype.version, "kind": rtype.kind}]
    if rtype.schema is not None:
        return {**rtype.schema, "x-kubernetes-group-version-kind": gvk}
    return {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "x-kubernetes-group-version-kind": gvk,
    }


def _item_paths(rtype: ResourceType) -> list[str]:
    prefix = "/" + _gv_path(rtype.group, rtype.version)
    scope = "/namespaces/{namespace}" if rtype.namespaced else ""
    base = f"{prefix}{scope}/{rtype.plural}/{{name}}"
    return [base] + [f"{base}/{sub}" for sub in rtype.subresources() if sub in ("status", "scale")]


def _item_operations(rtype: ResourceType, schema_name: str) -> dict[str, Any]:
    gvk = {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}
    ref = {"$ref": f"#/components/schemas/{schema_name}"}
    body = {"content": {"application/json": {"schema": ref}}}
    query = [
        {"name": name, "in": "query", "schema": {"type": "string"}}
        for name in ("dryRun", "fieldManager", "fieldValidation")
    ]
    patch_query = [*query, {"name": "force", "in": "query", "schema": {"type": "boolean"}}]
    patch_body = {
        "content": {
            media: {"schema": {"type": "object"}}
            for media in (
                "application/apply-patch+yaml",
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            )
        }
    }
    ok = {"200": {"description": "OK", **body}}
    return {
        "parameters": [
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
            *(
                [{"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}}]
                if rtype.namespaced
                else []
            ),
        ],
        "get": {"x-kubernetes-action": "get", "x-kubernetes-group-version-kind": gvk, "responses": ok},
        "put": {
            "x-kubernetes-action": "put",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": query,
            "requestBody": body,
            "responses": ok,
        },
        "patch": {
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk,
            "parameters": patch_query,
            "requestBody": patch_body,
            "responses": ok,
        },
        "delete": {"x-kubernetes-action": "delete", "x-kubernetes-group-version-kind": gvk, "responses": ok},
    }


def index(registry: Registry, docs: dict[tuple[str, str], str]) -> dict[str, Any]:
    """The /openapi/v3 index; each entry's hash changes when its document does, as kubectl caches by it."""
    return {
        "paths": {
            _gv_path(g, v): {"serverRelativeURL": f"/openapi/v3/{_gv_path(g, v)}?hash={h}"}
            for (g, v), h in docs.items()
        }
    }


def content_hash(doc: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64].upper()
