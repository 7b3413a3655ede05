"""The ZookeeperConfigSync CustomResourceDefinition, generated from its models."""

from __future__ import annotations

from typing import Any

from zkop.api.common import GROUP, VERSION
from zkop.api.configsync import KIND, PLURAL, ZookeeperConfigSyncSpec, ZookeeperConfigSyncStatus
from zkop.api.crd import _list_map, structural_schema


def zookeeperconfigsync_crd() -> dict[str, Any]:
    spec = structural_schema(ZookeeperConfigSyncSpec)
    status = structural_schema(ZookeeperConfigSyncStatus)
    # Absent cluster state means "mirror none": a server-side `default: {}` would turn it on.
    cluster_state = spec["properties"]["clusterState"]
    cluster_state.pop("default", None)
    cluster_state["properties"]["pods"].pop("default", None)
    status["properties"]["conditions"] = _list_map(status["properties"]["conditions"], "type")
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
                "shortNames": ["zkcs"],
                "categories": ["zookeeper"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Cluster", "type": "string", "jsonPath": ".spec.clusterRef.name"},
                        {"name": "Path", "type": "string", "jsonPath": ".spec.path"},
                        {
                            "name": "Ready",
                            "type": "string",
                            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
                        },
                        {"name": "Keys", "type": "integer", "jsonPath": ".status.syncedKeys"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "ConfigMap keys, opted-in Secrets and cluster state mirrored "
                            "into znodes of a ZookeeperCluster.",
                            "required": ["spec"],
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
