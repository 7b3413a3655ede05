"""Decisions for a ZookeeperZnode: which path, whether its namespace may use the cluster, which quota,
and what its status says. Pure."""

from __future__ import annotations

from zkop.api.validation import FieldError, InvalidSpec
from zkop.api.znode import ZnodeQuota, ZnodeUsage, ZookeeperZnode, ZookeeperZnodeStatus
from zkop.plan.status import Verdict, conditions
from zkop.render.znode import derived_path
from zkop.zookeeper.quota import UNLIMITED, QuotaLimits, Usage

ANNOTATION_ALLOWED_NAMESPACES = "zkop.io/allowed-namespaces"


def namespace_allowed(cluster_namespace: str, annotations: dict[str, str] | None, namespace: str) -> bool:
    """A cluster serves its own namespace; others only when its owner listed them (or "*"), because a
    subtree costs the ensemble's capacity and the cluster's owner decides who gets one."""
    if namespace == cluster_namespace:
        return True
    listed = (annotations or {}).get(ANNOTATION_ALLOWED_NAMESPACES, "")
    allowed = {item.strip() for item in listed.split(",") if item.strip()}
    return "*" in allowed or namespace in allowed


def subtree_path(znode: ZookeeperZnode) -> str:
    """The subtree root: the one recorded in status once chosen, else spec.path, else derived from the
    uid. A subtree never moves: pointing an existing object elsewhere would hand its data to nobody and
    its credentials to some other path, so a changed spec.path is refused."""
    wanted = znode.spec.path or derived_path(znode.namespace, znode.name, znode.uid)
    recorded = znode.status.path if znode.status else None
    if recorded and znode.spec.path and recorded != wanted:
        raise InvalidSpec(
            [
                FieldError(
                    "spec.path",
                    f"the subtree is {recorded} and cannot move to {wanted}: put the old value back, or "
                    "create a new ZookeeperZnode for the other path",
                )
            ]
        )
    return recorded or wanted


def quota_limits(quota: ZnodeQuota | None) -> QuotaLimits | None:
    """The limits to write, or None for no quota (a quota naming no limit is no quota)."""
    if quota is None or (quota.count is None and quota.bytes is None):
        return None
    return QuotaLimits(
        count=UNLIMITED if quota.count is None else quota.count,
        bytes=UNLIMITED if quota.bytes is None else quota.bytes,
        hard=quota.enforce,
    )


def ready_verdict(
    path: str, cluster: str, secret: str, config_map: str, usage: Usage | None, limits: QuotaLimits | None
) -> Verdict:
    message = f"{path} in {cluster}; credentials in Secret {secret}, connection in ConfigMap {config_map}"
    over = usage.exceeds(limits) if usage is not None and limits is not None else []
    if over:
        return Verdict("True", "QuotaExceeded", f"{message}; over quota: {', '.join(over)}")
    return Verdict("True", "SubtreeReady", message)


def znode_status(
    previous: ZookeeperZnodeStatus | None,
    generation: int | None,
    ready: Verdict,
    now: str,
    *,
    path: str | None = None,
    cluster: str | None = None,
    usage: Usage | None = None,
    secret_name: str | None = None,
    config_map_name: str | None = None,
    usage_known: bool = False,
) -> ZookeeperZnodeStatus:
    """The next status. Fields a failed pass could not learn keep their previous values: a subtree that
    exists stays reported while its cluster is briefly unavailable. With `usage_known`, a None usage
    means the subtree has no quota (any earlier usage is dropped)."""
    before = previous or ZookeeperZnodeStatus()
    kept_usage = None if usage_known else before.usage
    return ZookeeperZnodeStatus(
        conditions=conditions(before.conditions, {"Ready": ready}, generation, now),
        observed_generation=generation,
        path=path or before.path,
        cluster=cluster or before.cluster,
        usage=ZnodeUsage(count=usage.count, bytes=usage.bytes) if usage is not None else kept_usage,
        secret_name=secret_name or before.secret_name,
        config_map_name=config_map_name or before.config_map_name,
    )
