"""The shell around zkop.plan.tls: read the cluster's TLS Secrets, write what the plan says, and build
the connection zkop uses to reach the members (its superuser digest and client certificate)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zkop.api.cluster import TlsStatus, ZookeeperCluster
from zkop.kube.client import Kube
from zkop.plan.sasl import SaslPlan
from zkop.plan.tls import TlsPlan, fingerprint, plan_tls
from zkop.render import tls as render_tls
from zkop.render.names import ClusterNames
from zkop.security.pki import bundle
from zkop.zookeeper.connection import ClientTls, Connection, SaslCredential, SuperuserCredential

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TlsSecrets:
    """The TLS Secrets of one cluster as read (data decoded to text)."""

    ca: dict[str, str] | None
    member: dict[str, str] | None
    client: dict[str, str] | None
    ca_annotations: dict[str, str]
    member_annotations: dict[str, str]

    @property
    def fingerprint(self) -> str | None:
        """What members load now (see TlsPlan.fingerprint): the certificate and the bundle."""
        if not self.member or "tls.crt" not in self.member or "ca.crt" not in self.member:
            return None
        return fingerprint(self.member["tls.crt"], bundle(self.member["ca.crt"]))


def _annotations(obj: Mapping[str, Any] | None) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("annotations") or {})


async def read_secrets(kube: Kube, cluster: ZookeeperCluster, names: ClusterNames) -> TlsSecrets:
    if not cluster.spec.tls.enabled:
        return TlsSecrets(None, None, None, {}, {})
    member_name = render_tls.member_secret(cluster, names)
    member = await kube.get("v1", "Secret", member_name, names.namespace)
    if cluster.spec.tls.secret_name:
        return TlsSecrets(None, render_tls.decode(member), None, {}, _annotations(member))
    ca = await kube.get("v1", "Secret", names.ca_secret, names.namespace)
    client = await kube.get("v1", "Secret", names.client_tls_secret, names.namespace)
    return TlsSecrets(
        render_tls.decode(ca),
        render_tls.decode(member),
        render_tls.decode(client),
        _annotations(ca),
        _annotations(member),
    )


def client_tls(member: Mapping[str, str] | None) -> ClientTls | None:
    """zkop's client certificate for an ensemble: the members' own key pair (it allows client
    authentication, and zkop is the ensemble's administrator), trusting the members' bundle."""
    if not member or not all(member.get(k) for k in ("tls.crt", "tls.key", "ca.crt")):
        return None
    return ClientTls(member["tls.crt"], member["tls.key"], bundle(member["ca.crt"]))


def connection(
    credential: SuperuserCredential, member: Mapping[str, str] | None, sasl: SaslCredential | None = None
) -> Connection:
    """zkop's superuser digest, its client certificate (with TLS) and its SASL login (with SASL)."""
    return Connection(credential, client_tls(member), sasl)


async def apply_plan(
    kube: Kube, cluster: ZookeeperCluster, names: ClusterNames, plan: TlsPlan | SaslPlan, owned: Any
) -> list[str]:
    """Write the plan's Secrets in order (the CA first), then announce its events. `owned` adds the
    cluster's owner reference. Serves the SASL plan too (zkop.operator.sasl)."""
    written = []
    for write in plan.writes:
        secret = render_tls.secret(names, write.name, write.data, write.annotations, write.component)
        manifest = owned(secret, cluster)
        await kube.apply(manifest)
        written.append(f"Secret/{write.name}")
    body = {"apiVersion": cluster.api_version, "kind": cluster.kind, "metadata": cluster.metadata}
    for reason, message in plan.events:
        await kube.event(body, type_="Normal", reason=reason, message=message)
    return written


def decide(
    cluster: ZookeeperCluster, names: ClusterNames, secrets: TlsSecrets, now: dt.datetime, is_settled: bool
) -> TlsPlan:
    return plan_tls(
        cluster,
        names,
        ca=secrets.ca,
        member=secrets.member,
        client=secrets.client,
        member_annotations=secrets.member_annotations,
        ca_annotations=secrets.ca_annotations,
        now=now,
        is_settled=is_settled,
    )


def status(cluster: ZookeeperCluster, plan: TlsPlan) -> TlsStatus:
    def stamp(value: dt.datetime | None) -> str | None:
        return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")

    mode = render_tls.tls_mode(cluster)
    if mode == "disabled":
        return TlsStatus(mode="disabled", plaintext_client_port=True)
    return TlsStatus(
        mode=mode,  # type: ignore[arg-type]
        issuer=f"secret {cluster.spec.tls.secret_name}" if cluster.spec.tls.secret_name else "zkop CA",
        certificate_not_after=stamp(plan.member.info.not_after) if plan.member else None,
        ca_not_after=stamp(plan.ca_not_after),
        plaintext_client_port=cluster.spec.tls.plaintext_client_port,
        rotation=plan.rotation,
    )
