"""The shell around zkop.plan.sasl: read the cluster's SASL Secrets, and zkop's own SASL login from them.
The plan's Secrets are written by zkop.operator.tls.apply_plan, like the certificates."""

from __future__ import annotations

from dataclasses import dataclass, field

from zkop.api.cluster import ZKOP_SASL_USER, ZookeeperCluster
from zkop.kube.client import Kube
from zkop.plan import sasl as plan_sasl
from zkop.render import sasl as render_sasl
from zkop.render import tls as render_tls
from zkop.render.names import ClusterNames
from zkop.zookeeper.connection import SaslCredential


@dataclass(frozen=True)
class SaslSecrets:
    """The SASL Secrets of one cluster as read (data decoded to text); empty without SASL."""

    server: dict[str, str] | None = field(default=None, repr=False)
    users: dict[str, dict[str, str] | None] = field(default_factory=dict, repr=False)

    def fingerprint(self, cluster: ZookeeperCluster) -> str | None:
        """What members load now (see zkop.plan.sasl.fingerprint)."""
        return plan_sasl.fingerprint(cluster, self.server)

    @property
    def credential(self) -> SaslCredential | None:
        """zkop's own login as the Secret holds it now."""
        password = (self.server or {}).get(ZKOP_SASL_USER)
        return SaslCredential(ZKOP_SASL_USER, password) if password else None


async def read_secrets(kube: Kube, cluster: ZookeeperCluster, names: ClusterNames) -> SaslSecrets:
    if not render_sasl.enabled(cluster):
        return SaslSecrets()
    server = await kube.get("v1", "Secret", names.sasl_secret, names.namespace)
    users = {}
    for user in cluster.spec.sasl_users:
        secret = await kube.get("v1", "Secret", names.sasl_user_secret(user), names.namespace)
        users[user] = render_tls.decode(secret)
    return SaslSecrets(render_tls.decode(server), users)


async def zkop_credential(
    kube: Kube, cluster: ZookeeperCluster, names: ClusterNames
) -> SaslCredential | None:
    """zkop's SASL login for a cluster (None without SASL); only the one Secret is read."""
    if not render_sasl.enabled(cluster):
        return None
    server = await kube.get("v1", "Secret", names.sasl_secret, names.namespace)
    return SaslSecrets(render_tls.decode(server)).credential


def decide(cluster: ZookeeperCluster, names: ClusterNames, secrets: SaslSecrets) -> plan_sasl.SaslPlan:
    return plan_sasl.plan_sasl(cluster, names, server=secrets.server, users=secrets.users)


def credential(plan: plan_sasl.SaslPlan) -> SaslCredential | None:
    """zkop's own login after the plan's writes."""
    password = plan.zkop_password
    return SaslCredential(ZKOP_SASL_USER, password) if password else None
