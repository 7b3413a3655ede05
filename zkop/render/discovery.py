"""Discovery ConfigMaps: how applications find an ensemble (and their subtree in it). Pure.

The contract (widely used for ZooKeeper on Kubernetes) is a ConfigMap of environment-ready keys:
`ZOOKEEPER` (hosts plus chroot, what Kafka and most clients take as one string), `ZOOKEEPER_HOSTS`,
`ZOOKEEPER_CHROOT`, `ZOOKEEPER_CLIENT_PORT`; an application subtree adds `ZOOKEEPER_SECRET`, the name of
the Secret holding its credentials. Hosts are the members' stable DNS names, so the ConfigMap changes
only when the membership does.
"""

from __future__ import annotations

from typing import Any

from zkop.api.cluster import ZookeeperCluster
from zkop.render import tls
from zkop.render.names import ClusterNames
from zkop.zookeeper.membership import CLIENT_PORT, Membership


def member_hosts(names: ClusterNames, membership: Membership, port: int = CLIENT_PORT) -> str:
    """`host:port,...` of every member in the membership, by stable DNS name."""
    return ",".join(f"{names.member_host(i)}:{port}" for i in membership.ids)


def client_keys(cluster: ZookeeperCluster, names: ClusterNames) -> dict[str, str]:
    """How to connect: the client port, whether to use TLS, which Secret holds a client certificate
    (and the CA bundle) from the cluster's CA, and whether clients must log in by SASL (each with its own
    user's Secret `<cluster>-sasl-<user>`). Names only, never secret material."""
    keys = {"ZOOKEEPER_CLIENT_PORT": str(tls.client_port(cluster))}
    if not cluster.spec.tls.enabled:
        keys["ZOOKEEPER_TLS"] = "false"
        if cluster.spec.client_auth == "sasl":
            keys["ZOOKEEPER_CLIENT_AUTH"] = "sasl"
        return keys
    keys |= {"ZOOKEEPER_TLS": "true", "ZOOKEEPER_CLIENT_AUTH": cluster.spec.client_auth}
    if not cluster.spec.tls.secret_name:
        keys["ZOOKEEPER_TLS_SECRET"] = names.client_tls_secret
    return keys


def cluster_discovery(
    cluster: ZookeeperCluster, names: ClusterNames, membership: Membership
) -> dict[str, Any]:
    """The ensemble's own discovery ConfigMap `<cluster>-zookeeper` (no chroot: the whole tree)."""
    hosts = member_hosts(names, membership, tls.client_port(cluster))
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
            **client_keys(cluster, names),
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
    client: dict[str, str],
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
            **client,
            "ZOOKEEPER_SECRET": secret_name,
        },
    }
