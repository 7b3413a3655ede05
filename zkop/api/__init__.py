"""The custom resources' models (pydantic v2): the single source of the CRD schemas."""

from zkop.api.cluster import (
    KIND,
    PLURAL,
    JvmSpec,
    MemberStatus,
    PodOverrides,
    ResourceRequirements,
    StorageSpec,
    ZookeeperCluster,
    ZookeeperClusterSpec,
    ZookeeperClusterStatus,
)
from zkop.api.common import GROUP, VERSION, Condition

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
