"""Object literals for the controller tests."""

from __future__ import annotations

from typing import Any

from zkop_local.controllers.objects import Obj


def statefulset(
    name: str = "zk",
    replicas: int = 3,
    *,
    policy: str = "OrderedReady",
    strategy: dict[str, Any] | None = None,
    image: str = "zookeeper:3.9",
    claims: bool = True,
    retention: dict[str, str] | None = None,
    namespace: str = "ns",
) -> Obj:
    spec: dict[str, Any] = {
        "replicas": replicas,
        "serviceName": f"{name}-hs",
        "podManagementPolicy": policy,
        "selector": {"matchLabels": {"app": name}},
        "updateStrategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {
                "containers": [
                    {"name": "zk", "image": image, "ports": [{"name": "client", "containerPort": 2181}]}
                ]
            },
        },
    }
    if claims:
        spec["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }
        ]
    if retention:
        spec["persistentVolumeClaimRetentionPolicy"] = retention
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def ready_status(ip: str = "10.0.0.1", ready: bool = True) -> dict[str, Any]:
    return {
        "phase": "Running",
        "podIP": ip,
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }
        ],
    }


def service(
    name: str = "zk-hs",
    *,
    selector: dict[str, str] | None = None,
    headless: bool = True,
    publish: bool = False,
    ports: list[dict[str, Any]] | None = None,
    namespace: str = "ns",
) -> Obj:
    spec: dict[str, Any] = {
        "selector": {"app": "zk"} if selector is None else selector,
        "ports": ports if ports is not None else [{"name": "client", "port": 2181, "targetPort": "client"}],
        "publishNotReadyAddresses": publish,
    }
    if headless:
        spec["clusterIP"] = "None"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


ZK_CRD: Obj = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "zookeeperclusters.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {"kind": "ZooKeeperCluster", "plural": "zookeeperclusters", "singular": "zookeepercluster"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}
