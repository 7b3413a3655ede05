"""Representative ZookeeperClusters, shared by golden-file and schema tests."""

from __future__ import annotations

from typing import Any

CASES: dict[str, dict[str, Any]] = {
    "minimal": {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperCluster",
        "metadata": {"name": "zk", "namespace": "default", "uid": "0a5c7b2e-0000-4000-8000-000000000001"},
        "spec": {},
    },
    "single-member": {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperCluster",
        "metadata": {"name": "solo", "namespace": "dev", "uid": "0a5c7b2e-0000-4000-8000-000000000002"},
        "spec": {"replicas": 1, "storage": {"size": "1Gi", "reclaimPolicy": "Delete"}},
    },
    "production": {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperCluster",
        "metadata": {"name": "kafka-zk", "namespace": "kafka", "uid": "0a5c7b2e-0000-4000-8000-000000000003"},
        "spec": {
            "replicas": 5,
            "image": "zookeeper:3.8.4",
            "storage": {"size": "50Gi", "storageClassName": "fast-ssd", "reclaimPolicy": "Retain"},
            "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
            "jvm": {"heap": "1Gi", "extraFlags": ["-XX:+UseG1GC", "-XX:MaxGCPauseMillis=50"]},
            "config": {"maxClientCnxns": 500, "minSessionTimeout": 6000, "snapCount": "200000"},
            "pod": {
                "labels": {"team": "streaming"},
                "annotations": {"prometheus.io/scrape": "true"},
                "nodeSelector": {"node-role": "zookeeper"},
                "tolerations": [
                    {"key": "dedicated", "operator": "Equal", "value": "zk", "effect": "NoSchedule"}
                ],
                "priorityClassName": "system-cluster-critical",
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "DoNotSchedule",
                        "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "kafka-zk"}},
                    }
                ],
            },
        },
    },
    "sasl": {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperCluster",
        "metadata": {"name": "zk", "namespace": "shop", "uid": "0a5c7b2e-0000-4000-8000-000000000004"},
        "spec": {"authentication": {"clients": "sasl", "sasl": {"users": ["orders", "billing-api"]}}},
    },
}
