"""CustomResourceDefinitions generated from the pydantic models.

pydantic emits JSON Schema (2020-12); Kubernetes wants a *structural* OpenAPI v3.0 schema: no $ref, no
`title`, `nullable` instead of a null branch, boolean `exclusiveMinimum`, no `additionalProperties`
beside `properties`. This module does that translation once, so the models stay the only source.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from zkop.api import configsync, export, znode
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
            # Optional[X]: absent means unset; zkop never writes null, so no `nullable` is needed. An
            # optional object defaulting to None must stay absent: a server-side `default: {}` would
            # give it a meaning (or fail its required fields).
            translated = _translate({**branches[0], **rest}, definitions)
            if "default" in rest and rest["default"] is None:
                translated[_OPTIONAL] = True
            return translated
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
            optional = sub.pop(_OPTIONAL, False)
            if nested and not optional and "default" not in sub and name not in out.get("required", []):
                sub["default"] = {}
    return out


_OPTIONAL = "x-zkop-optional"  # internal marker, never in an emitted schema


def _list_map(schema: dict[str, Any], key: str) -> dict[str, Any]:
    return {**schema, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [key]}


# Printer columns more than one resource shows.
READY_COLUMN = {
    "name": "Ready",
    "type": "string",
    "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
}
STATUS_COLUMN = {
    "name": "Status",
    "type": "string",
    "priority": 1,
    "jsonPath": '.status.conditions[?(@.type=="Ready")].message',
}
AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
CLUSTER_COLUMN = {"name": "Cluster", "type": "string", "jsonPath": ".spec.clusterRef.name"}


def custom_resource_definition(
    *,
    kind: str,
    plural: str,
    short_names: list[str],
    description: str,
    spec: dict[str, Any],
    status: dict[str, Any],
    columns: list[dict[str, Any]],
    spec_required: bool = True,
) -> dict[str, Any]:
    """A namespaced zkop.io CRD with a status subresource; every resource's conditions are a map list
    keyed by type, as the API conventions say."""
    if "conditions" in status.get("properties", {}):
        status["properties"]["conditions"] = _list_map(status["properties"]["conditions"], "type")
    schema: dict[str, Any] = {
        "type": "object",
        "description": description,
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    if spec_required:
        schema["required"] = ["spec"]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": ["zookeeper"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def _undefaulted(schema: dict[str, Any], *path: str) -> None:
    """Drop the generated `default: {}` of an optional object whose absence means something."""
    node = schema
    for name in path:
        node = node["properties"][name]
    node.pop("default", None)


def zookeepercluster_crd() -> dict[str, Any]:
    """The ZookeeperCluster CustomResourceDefinition."""
    spec = structural_schema(ZookeeperClusterSpec)
    spec["default"] = {}  # an empty spec is a valid 3-member ensemble
    status = structural_schema(ZookeeperClusterStatus)
    status["properties"]["members"] = _list_map(status["properties"]["members"], "id")
    return custom_resource_definition(
        kind=KIND,
        plural=PLURAL,
        short_names=["zk"],
        description="An Apache ZooKeeper ensemble run and operated by zkop.",
        spec=spec,
        status=status,
        columns=[
            READY_COLUMN,
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Leader", "type": "string", "jsonPath": ".status.leader"},
            STATUS_COLUMN,
            AGE_COLUMN,
        ],
        spec_required=False,
    )


def zookeeperznode_crd() -> dict[str, Any]:
    """The ZookeeperZnode CustomResourceDefinition."""
    spec = structural_schema(znode.ZookeeperZnodeSpec)
    _undefaulted(spec, "quota")  # absent quota means "no quota"
    status = structural_schema(znode.ZookeeperZnodeStatus)
    _undefaulted(status, "usage")  # absent usage means "no quota"; `{}` would fail its required fields
    return custom_resource_definition(
        kind=znode.ZNODE_KIND,
        plural=znode.ZNODE_PLURAL,
        short_names=["znode"],
        description="An application's own subtree in a ZookeeperCluster, with its own credentials and a "
        "discovery ConfigMap.",
        spec=spec,
        status=status,
        columns=[
            READY_COLUMN,
            CLUSTER_COLUMN,
            {"name": "Path", "type": "string", "jsonPath": ".status.path"},
            STATUS_COLUMN,
            AGE_COLUMN,
        ],
    )


def zookeeperserviceexport_crd() -> dict[str, Any]:
    """The ZookeeperServiceExport CustomResourceDefinition."""
    spec = structural_schema(export.ZookeeperServiceExportSpec)
    # Unset and `{}` mean different things (only opted-in Services vs every Service).
    _undefaulted(spec, "labelSelector")
    return custom_resource_definition(
        kind=export.EXPORT_KIND,
        plural=export.EXPORT_PLURAL,
        short_names=["zkexport"],
        description="Kubernetes Services and their ready endpoints published into a ZookeeperCluster, in "
        "the layouts Curator, Spring Cloud, Dubbo and Finagle read.",
        spec=spec,
        status=structural_schema(export.ZookeeperServiceExportStatus),
        columns=[
            READY_COLUMN,
            CLUSTER_COLUMN,
            {"name": "Services", "type": "integer", "jsonPath": ".status.servicesPublished"},
            {"name": "Endpoints", "type": "integer", "jsonPath": ".status.endpointsPublished"},
            AGE_COLUMN,
        ],
    )


def zookeeperconfigsync_crd() -> dict[str, Any]:
    """The ZookeeperConfigSync CustomResourceDefinition."""
    spec = structural_schema(configsync.ZookeeperConfigSyncSpec)
    # Absent cluster state means "mirror none": a server-side `default: {}` would turn it on.
    _undefaulted(spec, "clusterState")
    _undefaulted(spec, "clusterState", "pods")
    return custom_resource_definition(
        kind=configsync.KIND,
        plural=configsync.PLURAL,
        short_names=["zkcs"],
        description="ConfigMap keys, opted-in Secrets and cluster state mirrored into znodes of a "
        "ZookeeperCluster.",
        spec=spec,
        status=structural_schema(configsync.ZookeeperConfigSyncStatus),
        columns=[
            CLUSTER_COLUMN,
            {"name": "Path", "type": "string", "jsonPath": ".spec.path"},
            READY_COLUMN,
            {"name": "Keys", "type": "integer", "jsonPath": ".status.syncedKeys"},
            AGE_COLUMN,
        ],
    )


def all_crds() -> list[dict[str, Any]]:
    """Every CRD zkop serves, in install order."""
    return [
        zookeepercluster_crd(),
        zookeeperconfigsync_crd(),
        zookeeperserviceexport_crd(),
        zookeeperznode_crd(),
    ]
