"""Services: a headless one for peers and per-member DNS, a client one for applications."""

from __future__ import annotations

from typing import Any

from zkop.render.names import ClusterNames
from zkop.zookeeper.membership import ADMIN_PORT, CLIENT_PORT, ELECTION_PORT, QUORUM_PORT


def _port(name: str, port: int) -> dict[str, Any]:
    return {"name": name, "port": port, "targetPort": name, "protocol": "TCP"}


def headless_service(names: ClusterNames) -> dict[str, Any]:
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
                _port("client", CLIENT_PORT),
                _port("quorum", QUORUM_PORT),
                _port("election", ELECTION_PORT),
                _port("admin", ADMIN_PORT),
            ],
        },
    }


def client_service(names: ClusterNames) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": names.client_service, "namespace": names.namespace, "labels": names.labels()},
        "spec": {
            "type": "ClusterIP",
            "selector": names.selector_labels(),
            "ports": [_port("client", CLIENT_PORT)],
        },
    }
