"""The ZookeeperZnode CustomResourceDefinition, generated from its models."""

from __future__ import annotations

from typing import Any

from zkop.api.common import GROUP, VERSION
from zkop.api.crd import structural_schema
from zkop.api.znode import ZNODE_KIND, ZNODE_PLURAL, ZookeeperZnodeSpec, ZookeeperZnodeStatus


def zookeeperznode_crd() -> dict[str, Any]:
    spec = structural_schema(ZookeeperZnodeSpec)
    # An absent quota means "no quota"; the generic nested-object default would turn it into `{}`.
    spec["properties"]["quota"].pop("default", None)
    status = structural_schema(ZookeeperZnodeStatus)
    # Likewise an absent usage means "no quota"; a defaulted `{}` would fail its required fields.
    status["properties"]["usage"].pop("default", None)
    conditions = status["properties"]["conditions"]
    status["properties"]["conditions"] = {
        **conditions,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{ZNODE_PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": ZNODE_KIND,
                "listKind": f"{ZNODE_KIND}List",
                "plural": ZNODE_PLURAL,
                "singular": ZNODE_KIND.lower(),
                "shortNames": ["znode"],
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
                        {"name": "Cluster", "type": "string", "jsonPath": ".spec.clusterRef.name"},
                        {"name": "Path", "type": "string", "jsonPath": ".status.path"},
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
                            "description": "An application's own subtree in a ZookeeperCluster, with its "
                            "own credentials and a discovery ConfigMap.",
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
