"""How the operator reaches an ensemble it manages: member addresses, the superuser credential (and SASL
login), and a shared session. Used by everything that writes into ZooKeeper (app subtrees, registries,
config sync)."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from zkop.api.cluster import ZookeeperCluster
from zkop.api.validation import parse_cluster
from zkop.kube.client import Kube
from zkop.operator import sasl, tls
from zkop.plan.observed import PodView
from zkop.render.discovery import client_keys
from zkop.render.names import ClusterNames, RenderOptions
from zkop.zookeeper.connection import Connection, SuperuserCredential
from zkop.zookeeper.sessions import EnsembleKey, Session, Sessions


class EnsembleUnavailable(RuntimeError):
    """The referenced ZookeeperCluster does not exist, is not Ready, or has no reachable member."""


@dataclass(frozen=True)
class EnsembleAccess:
    key: EnsembleKey
    names: ClusterNames
    hosts: tuple[str, ...]  # member addresses zkop itself dials (pod IPs)
    connection_string: str  # what applications use (stable DNS names)
    status: dict[str, Any]
    cluster: ZookeeperCluster

    @property
    def client_keys(self) -> dict[str, str]:
        """How applications connect (port, TLS, the client certificate's Secret): discovery keys."""
        return client_keys(self.cluster, self.names)


async def locate(kube: Kube, namespace: str, name: str, options: RenderOptions) -> EnsembleAccess:
    """Find a ZookeeperCluster and its running members; raise EnsembleUnavailable with the reason."""
    body = await kube.get("zkop.io/v1alpha1", "ZookeeperCluster", name, namespace)
    if body is None:
        raise EnsembleUnavailable(f"ZookeeperCluster {namespace}/{name} not found")
    cluster = parse_cluster(body)
    names = ClusterNames.of(cluster, options)
    status: dict[str, Any] = body.get("status") or {}
    ready: dict[str, Any] = next((c for c in status.get("conditions", []) if c.get("type") == "Ready"), {})
    if ready.get("status") != "True":
        raise EnsembleUnavailable(
            f"ZookeeperCluster {namespace}/{name} is not Ready: {ready.get('message', '')}"
        )
    pods = [
        v for p in await kube.list("v1", "Pod", namespace, names.selector_labels()) if (v := PodView.of(p))
    ]
    hosts = tuple(p.ip for p in pods if p.ip and p.phase == "Running" and not p.terminating)
    if not hosts:
        raise EnsembleUnavailable(f"ZookeeperCluster {namespace}/{name} has no running member")
    return EnsembleAccess(
        EnsembleKey(namespace, name), names, hosts, str(status.get("connectionString", "")), status, cluster
    )


async def superuser(kube: Kube, access: EnsembleAccess) -> SuperuserCredential:
    secret = await kube.get("v1", "Secret", access.names.superuser_secret, access.key.namespace)
    encoded = ((secret or {}).get("data") or {}).get("password")
    if not encoded:
        raise EnsembleUnavailable(f"secret {access.names.superuser_secret} has no password")
    return SuperuserCredential(base64.b64decode(encoded).decode())


async def connection(kube: Kube, access: EnsembleAccess) -> Connection:
    """zkop's superuser digest and, with TLS, its client certificate, with SASL its SASL login."""
    secrets = await tls.read_secrets(kube, access.cluster, access.names)
    login = await sasl.zkop_credential(kube, access.cluster, access.names)
    if login is None and access.cluster.spec.client_auth == "sasl":
        raise EnsembleUnavailable(f"secret {access.names.sasl_secret} has no password for zkop's SASL user")
    return tls.connection(await superuser(kube, access), secrets.member, login)


async def session(kube: Kube, sessions: Sessions, access: EnsembleAccess) -> Session:
    """The shared superuser session for the ensemble (created on first use, hosts kept current; a new
    one when the certificate changed)."""
    return await sessions.get(access.key, access.hosts, await connection(kube, access))
