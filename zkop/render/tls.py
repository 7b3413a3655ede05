"""TLS as the members run it: zoo.cfg settings, certificate names, and the client port. Pure.

Files: the member's Secret (zkop's `<cluster>-tls` or the user's own, cert-manager layout: `tls.crt`,
`tls.key`, `ca.crt`) is mounted read-only at TLS_MOUNT. ZooKeeper's PEM key store wants key and
certificate in one file, so the start script joins them into a memory-backed directory (RUNTIME_MOUNT)
and appends the store locations to zoo.cfg; everything else is static and rendered here.
"""

from __future__ import annotations

import base64
from typing import Any

from zkop.api.cluster import ZookeeperCluster
from zkop.render.names import ClusterNames
from zkop.zookeeper.membership import CLIENT_PORT, SECURE_CLIENT_PORT

TLS_MOUNT = "/etc/zkop-tls"
PORT_NAMES = {SECURE_CLIENT_PORT: "client-tls", CLIENT_PORT: "client"}
RUNTIME_MOUNT = "/tmp"


def client_port(cluster: ZookeeperCluster) -> int:
    """The port applications use: TLS when it is on."""
    return SECURE_CLIENT_PORT if cluster.spec.tls.enabled else CLIENT_PORT


def client_ports(cluster: ZookeeperCluster) -> list[int]:
    """Every client port the members listen on."""
    tls = cluster.spec.tls
    if not tls.enabled:
        return [CLIENT_PORT]
    return [SECURE_CLIENT_PORT, CLIENT_PORT] if tls.plaintext_client_port else [SECURE_CLIENT_PORT]


def tls_mode(cluster: ZookeeperCluster) -> str:
    if not cluster.spec.tls.enabled:
        return "disabled"
    return "mtls" if cluster.spec.client_auth == "mtls" else "tls"


def member_secret(cluster: ZookeeperCluster, names: ClusterNames) -> str:
    return cluster.spec.tls.secret_name or names.tls_secret


def member_dns_names(names: ClusterNames) -> list[str]:
    """Every name a member is reached by: its own (under the headless Service, with and without the
    cluster domain) and the client Service's. A wildcard for the members, so scaling needs no new
    certificate."""
    headless, client, ns = names.headless_service, names.client_service, names.namespace
    domain = names.cluster_domain
    return [
        f"*.{headless}.{ns}.svc.{domain}",
        f"*.{headless}.{ns}.svc",
        f"*.{headless}.{ns}",
        f"{client}.{ns}.svc.{domain}",
        f"{client}.{ns}.svc",
        f"{client}.{ns}",
        client,
    ]


def static_settings(cluster: ZookeeperCluster) -> dict[str, str]:
    """zoo.cfg settings for TLS (empty when TLS is off). Store locations are added by the start script.

    - Clients: Netty on secureClientPort. With mtls every client must present a certificate from the
      trust bundle (ssl.clientAuth=need), and ZooKeeper's x509 provider makes the certificate's subject
      the client's identity for ACLs. The server never checks a client's host name (clients have none).
    - Quorum: sslQuorum with host name verification: a member's certificate must name the address it is
      reached at, and must chain to the bundle, or the peer is refused.
    - AdminServer: HTTPS only (forceHttps), with the member certificate; read by probes and zkop.
    """
    if not cluster.spec.tls.enabled:
        return {}
    settings = {
        "serverCnxnFactory": "org.apache.zookeeper.server.NettyServerCnxnFactory",
        "secureClientPort": str(SECURE_CLIENT_PORT),
        "sslQuorum": "true",
        "ssl.quorum.keyStore.type": "PEM",
        "ssl.quorum.trustStore.type": "PEM",
        "ssl.quorum.hostnameVerification": "true",
        "ssl.keyStore.type": "PEM",
        "ssl.trustStore.type": "PEM",
        "ssl.clientAuth": "need" if cluster.spec.client_auth == "mtls" else "none",
        "authProvider.x509": "org.apache.zookeeper.server.auth.X509AuthenticationProvider",
        "admin.forceHttps": "true",
    }
    if cluster.spec.tls.plaintext_client_port:
        settings["clientPort"] = str(CLIENT_PORT)
    return settings


def secret(
    names: ClusterNames,
    name: str,
    data: dict[str, str],
    annotations: dict[str, str],
    component: str = "tls",
) -> dict[str, Any]:
    """A Secret zkop writes: `kubernetes.io/tls` for key pairs (cert-manager's layout), Opaque for the
    CA and for SASL credentials. Values are text, base64-encoded as the API wants."""
    kind = "kubernetes.io/tls" if "tls.crt" in data else "Opaque"
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "namespace": names.namespace,
            "labels": {**names.labels(), "app.kubernetes.io/component": component},
            "annotations": dict(annotations),
        },
        "type": kind,
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())},
    }


def decode(secret_object: dict[str, Any] | None) -> dict[str, str] | None:
    """A Secret's data as text (None when there is no Secret)."""
    if secret_object is None:
        return None
    return {k: base64.b64decode(v).decode() for k, v in (secret_object.get("data") or {}).items()}
