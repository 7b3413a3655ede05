"""Pure rendering: a ZookeeperCluster (plus observed membership) to the Kubernetes objects it needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zkop.api.cluster import ZookeeperCluster
from zkop.render import config, discovery, identity, network, network_policy, tls, workload
from zkop.render.names import ANNOTATION_RESTART_HASH, ClusterNames, RenderOptions
from zkop.zookeeper.membership import ADMIN_PORT, ELECTION_PORT, QUORUM_PORT, Membership

__all__ = ["RenderOptions", "Rendered", "render", "restart_hash"]


@dataclass(frozen=True)
class Rendered:
    """Everything zkop applies for one cluster. The Secret is separate: it is created once, never applied."""

    objects: list[dict[str, Any]]
    superuser_secret: dict[str, Any]
    restart_hash: str
    membership: Membership


def _config_map(names: ClusterNames, files: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": names.config_map, "namespace": names.namespace, "labels": names.labels()},
        "data": files,
    }


def _owned(obj: dict[str, Any], cluster: ZookeeperCluster) -> dict[str, Any]:
    uid = cluster.metadata.get("uid")
    if uid:
        obj["metadata"]["ownerReferences"] = [
            {
                "apiVersion": cluster.api_version,
                "kind": cluster.kind,
                "name": cluster.name,
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return obj


def _restart_files(cluster: ZookeeperCluster) -> dict[str, str]:
    """The ConfigMap files a member reads only at start (membership is changed live, by reconfig)."""
    return {
        "zoo.cfg": config.static_config(cluster),
        "logback.xml": config.logging_config(),
        "start.sh": config.start_script(),
    }


def restart_hash(
    cluster: ZookeeperCluster,
    options: RenderOptions | None = None,
    *,
    tls_fingerprint: str | None = None,
    sasl_fingerprint: str | None = None,
) -> str:
    """The pod template's restart hash alone, as render() computes it, without the other objects."""
    names = ClusterNames.of(cluster, options or RenderOptions())
    template = workload.pod_template(
        cluster, names, _restart_files(cluster), tls_fingerprint, sasl_fingerprint
    )
    return str(template["metadata"]["annotations"][ANNOTATION_RESTART_HASH])


def render(
    cluster: ZookeeperCluster,
    options: RenderOptions | None = None,
    *,
    membership: Membership | None = None,
    statefulset_replicas: int | None = None,
    superuser_password: str | None = None,
    tls_fingerprint: str | None = None,
    sasl_fingerprint: str | None = None,
) -> Rendered:
    """Render every object. `membership` and `statefulset_replicas` come from observation once the
    ensemble exists (the plan decides them); a new ensemble gets members 1..spec.replicas.
    `tls_fingerprint` identifies the member certificate and trust bundle (see zkop.plan.tls),
    `sasl_fingerprint` the SASL users and passwords (see zkop.plan.sasl)."""
    options = options or RenderOptions()
    names = ClusterNames.of(cluster, options)
    if membership is None:
        membership = config.initial_membership(cluster, names, cluster.spec.replicas)
    restart_files = _restart_files(cluster)
    files = {
        **restart_files,
        "zoo.cfg.dynamic": membership.dynamic_file(),
        "zoo.cfg.dynamic.version": membership.version_hex,
    }
    template = workload.pod_template(cluster, names, restart_files, tls_fingerprint, sasl_fingerprint)
    replicas = cluster.spec.replicas if statefulset_replicas is None else statefulset_replicas
    objects = [
        identity.service_account(names),
        _config_map(names, files),
        network.headless_service(cluster, names),
        network.client_service(cluster, names),
        workload.statefulset(cluster, names, replicas, template),
        workload.pod_disruption_budget(names, len(membership.voters)),
        discovery.cluster_discovery(cluster, names, membership),
    ]
    if cluster.spec.network_policy.enabled:
        objects.append(
            network_policy.network_policy(
                names,
                cluster.spec.network_policy,
                client_ports=tls.client_ports(cluster),
                admin_port=ADMIN_PORT,
                quorum_ports=[QUORUM_PORT, ELECTION_PORT],
                member_labels=names.selector_labels(),
            )
        )
    return Rendered(
        objects=[_owned(o, cluster) for o in objects],
        superuser_secret=_owned(identity.superuser_secret(names, superuser_password), cluster),
        restart_hash=template["metadata"]["annotations"][ANNOTATION_RESTART_HASH],
        membership=membership,
    )
