"""The custom resources' models (pydantic v2): the single source of the CRD schemas."""

from zkop.api.cluster import (
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    Condition,
    JvmSpec,
    MemberStatus,
    PodOverrides,
    ResourceRequirements,
    StorageSpec,
    ZookeeperCluster,
    ZookeeperClusterSpec,
    ZookeeperClusterStatus,
)

__all__ = [
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "Condition",
    "JvmSpec",
    "MemberStatus",
    "PodOverrides",
    "ResourceRequirements",
    "StorageSpec",
    "ZookeeperCluster",
    "ZookeeperClusterSpec",
    "ZookeeperClusterStatus",
]
