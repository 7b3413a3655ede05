"""CustomResourceDefinitions generated from the pydantic models.

pydantic emits JSON Schema (2020-12); Kubernetes wants a *structural* OpenAPI v3.0 schema: no $ref, no
`title`, `nullable` instead of a null branch, boolean `exclusiveMinimum`, no `additionalProperties`
beside `properties`. This module does that translation once, so the models stay the only source.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from zkop.api.cluster import KIND, PLURAL, ZookeeperClusterSpec, ZookeeperClusterStatus
from zkop.api.common import GROUP, VERSION

_DROP_KEYS = {"title", "$defs", "examples"}


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema rewritten as a structural OpenAPI v3 schema (camelCase fields)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    definitions = raw.get("$defs", {})
    schema: dict[str, Any] = _translate(raw, definitions)
    return schema


def _translate(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_translate(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = copy.deepcopy(definitions[node["$ref"].rsplit("/", 1)[-1]])
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _translate(merged, definitions)
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b != {"type": "null"}]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if len(branches) == 1:
            # Optional[X]: absent means unset; zkop never writes null, so no `nullable` is needed.
            return _translate({**branches[0], **rest}, definitions)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP_KEYS:
            continue
        if key == "default" and value is None:
            continue
        if key == "const":
            out["enum"] = [value]
            continue
        if key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
            continue
        if key == "properties":
            out[key] = {name: _translate(sub, definitions) for name, sub in value.items()}
            continue
        out[key] = _translate(value, definitions)
    if "properties" in out and out.get("additionalProperties") is False:
        # Structural schemas forbid additionalProperties beside properties; the server prunes instead.
        del out["additionalProperties"]
    if out.get("type") == "object" and "properties" in out:
        # Nested objects built by default_factory get `default: {}` so the server defaults their fields.
        for name, sub in out["properties"].items():
            nested = sub.get("type") == "object" and "properties" in sub
            if nested and "default" not in sub and name not in out.get("required", []):
                sub["default"] = {}
    return out


def _list_map(schema: dict[str, Any], key: str) -> dict[str, Any]:
    return {**schema, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [key]}


def zookeepercluster_crd() -> dict[str, Any]:
    """The ZookeeperCluster CustomResourceDefinition."""
    spec = structural_schema(ZookeeperClusterSpec)
    status = structural_schema(ZookeeperClusterStatus)
    status["properties"]["conditions"] = _list_map(status["properties"]["conditions"], "type")
    status["properties"]["members"] = _list_map(status["properties"]["members"], "id")
    spec["default"] = {}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": ["zk"],
                "categories": ["zookeeper"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {
                            "name": "Ready",
                            "type": "string",
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                        },
                        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                        {"name": "Leader", "type": "string", "jsonPath": ".status.leader"},
                        {
                            "name": "Status",
                            "type": "string",
                            "priority": 1,
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].message',
                        },
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "An Apache ZooKeeper ensemble run and operated by zkop.",
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def all_crds() -> list[dict[str, Any]]:
    """Every CRD zkop serves, in install order."""
    from zkop.api.configsync_crd import zookeeperconfigsync_crd  # imports this module: import late
    from zkop.api.export import export_crd  # imports this module: import late
    from zkop.api.znode_crd import zookeeperznode_crd  # imports this module: import late

    return [zookeepercluster_crd(), zookeeperconfigsync_crd(), export_crd(), zookeeperznode_crd()]
