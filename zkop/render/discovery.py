"""Discovery ConfigMaps: how applications find an ensemble (and their subtree in it). Pure.

The contract (widely used for ZooKeeper on Kubernetes) is a ConfigMap of environment-ready keys:
`ZOOKEEPER` (hosts plus chroot, what Kafka and most clients take as one string), `ZOOKEEPER_HOSTS`,
`ZOOKEEPER_CHROOT`, `ZOOKEEPER_CLIENT_PORT`; an application subtree adds `ZOOKEEPER_SECRET`, the name of
the Secret holding its credentials. Hosts are the members' stable DNS names, so the ConfigMap changes
only when the membership does.
"""

from __future__ import annotations

from typing import Any

from zkop.render.names import ClusterNames
from zkop.zookeeper.membership import CLIENT_PORT, Membership


def member_hosts(names: ClusterNames, membership: Membership) -> str:
    """`host:port,...` of every member in the membership, by stable DNS name."""
    return ",".join(f"{names.member_host(i)}:{CLIENT_PORT}" for i in membership.ids)


def cluster_discovery(names: ClusterNames, membership: Membership) -> dict[str, Any]:
    """The ensemble's own discovery ConfigMap `<cluster>-zookeeper` (no chroot: the whole tree)."""
    hosts = member_hosts(names, membership)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": names.discovery_config_map,
            "namespace": names.namespace,
            "labels": {**names.labels(), "app.kubernetes.io/component": "discovery"},
        },
        "data": {
            "ZOOKEEPER": hosts,
            "ZOOKEEPER_HOSTS": hosts,
            "ZOOKEEPER_CLIENT_PORT": str(CLIENT_PORT),
        },
    }


def subtree_discovery(
    *,
    name: str,
    namespace: str,
    labels: dict[str, str],
    hosts: str,
    chroot: str,
    secret_name: str,
    client_port: int = CLIENT_PORT,
) -> dict[str, Any]:
    """An application subtree's discovery ConfigMap: the ensemble's hosts with the subtree as chroot."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {
            "ZOOKEEPER": f"{hosts}{chroot}",
            "ZOOKEEPER_HOSTS": hosts,
            "ZOOKEEPER_CHROOT": chroot,
            "ZOOKEEPER_CLIENT_PORT": str(client_port),
            "ZOOKEEPER_SECRET": secret_name,
        },
    }
