"""Services: a headless one for peers and per-member DNS, a client one for applications."""

from __future__ import annotations

from typing import Any

from zkop.api.cluster import ZookeeperCluster
from zkop.render import tls
from zkop.render.names import ClusterNames
from zkop.zookeeper.membership import ADMIN_PORT, ELECTION_PORT, QUORUM_PORT


def _port(name: str, port: int) -> dict[str, Any]:
    return {"name": name, "port": port, "targetPort": name, "protocol": "TCP"}


def _client_ports(cluster: ZookeeperCluster) -> list[dict[str, Any]]:
    return [_port(tls.PORT_NAMES[p], p) for p in tls.client_ports(cluster)]


def headless_service(cluster: ZookeeperCluster, names: ClusterNames) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": names.headless_service, "namespace": names.namespace, "labels": names.labels()},
        "spec": {
            "clusterIP": "None",
            # Members must find each other before they are Ready: readiness needs a quorum first.
            "publishNotReadyAddresses": True,
            "selector": names.selector_labels(),
            "ports": [
                *_client_ports(cluster),
                _port("quorum", QUORUM_PORT),
                _port("election", ELECTION_PORT),
                _port("admin", ADMIN_PORT),
            ],
        },
    }


def client_service(cluster: ZookeeperCluster, names: ClusterNames) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": names.client_service, "namespace": names.namespace, "labels": names.labels()},
        "spec": {
            "type": "ClusterIP",
            "selector": names.selector_labels(),
            "ports": _client_ports(cluster),
        },
    }
