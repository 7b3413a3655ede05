"""Names and labels of everything rendered for one ZookeeperCluster, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from zkop.api.cluster import ZookeeperCluster

LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_COMPONENT = "app.kubernetes.io/component"
ANNOTATION_RESTART_HASH = "zkop.io/restart-hash"
ANNOTATION_RESTART_AT = "zkop.io/restart-at"
ANNOTATION_PAUSED = "zkop.io/paused"
FIELD_MANAGER = "zkop"


@dataclass(frozen=True)
class RenderOptions:
    """Facts about the Kubernetes cluster that rendering needs but the resource does not say."""

    cluster_domain: str = "cluster.local"


@dataclass(frozen=True)
class ClusterNames:
    """Every object name derived from the cluster's name."""

    cluster: str
    namespace: str
    cluster_domain: str

    @classmethod
    def of(cls, cluster: ZookeeperCluster, options: RenderOptions) -> ClusterNames:
        return cls(cluster.name, cluster.namespace, options.cluster_domain)

    @property
    def statefulset(self) -> str:
        return self.cluster

    @property
    def config_map(self) -> str:
        return f"{self.cluster}-config"

    @property
    def headless_service(self) -> str:
        return f"{self.cluster}-headless"

    @property
    def client_service(self) -> str:
        return f"{self.cluster}-client"

    @property
    def pdb(self) -> str:
        return self.cluster

    @property
    def service_account(self) -> str:
        return f"{self.cluster}-zookeeper"

    @property
    def superuser_secret(self) -> str:
        return f"{self.cluster}-zkop-superuser"

    @property
    def ca_secret(self) -> str:
        """The CA zkop keeps for the cluster (certificate and key): never mounted anywhere."""
        return f"{self.cluster}-ca"

    @property
    def tls_secret(self) -> str:
        """The members' certificate, key and trust bundle, mounted into every member."""
        return f"{self.cluster}-tls"

    @property
    def client_tls_secret(self) -> str:
        """A client certificate for applications, from the cluster's CA."""
        return f"{self.cluster}-client-tls"

    @property
    def sasl_secret(self) -> str:
        """Every SASL user's password (zkop's own too), mounted into every member: the JAAS file's source."""
        return f"{self.cluster}-sasl"

    def sasl_user_secret(self, user: str) -> str:
        """One application user's SASL credentials, for the application to mount."""
        return f"{self.cluster}-sasl-{user}"

    @property
    def discovery_config_map(self) -> str:
        return f"{self.cluster}-zookeeper"

    @property
    def peer_domain(self) -> str:
        """DNS suffix under which each member pod is resolvable through the headless Service."""
        return f"{self.headless_service}.{self.namespace}.svc.{self.cluster_domain}"

    def pod(self, member_id: int) -> str:
        """Member ids are 1-based (ZooKeeper's myid); pod ordinals 0-based."""
        return f"{self.statefulset}-{member_id - 1}"

    def member_host(self, member_id: int) -> str:
        return f"{self.pod(member_id)}.{self.peer_domain}"

    @property
    def client_host(self) -> str:
        return f"{self.client_service}.{self.namespace}.svc.{self.cluster_domain}"

    def selector_labels(self) -> dict[str, str]:
        return {LABEL_NAME: "zookeeper", LABEL_INSTANCE: self.cluster}

    def labels(self) -> dict[str, str]:
        return {**self.selector_labels(), LABEL_MANAGED_BY: "zkop", LABEL_COMPONENT: "ensemble"}


def member_id_of_pod(pod_name: str) -> int | None:
    """The member id (myid) a StatefulSet pod runs as, or None for a name without an ordinal."""
    _, _, ordinal = pod_name.rpartition("-")
    return int(ordinal) + 1 if ordinal.isdigit() else None
