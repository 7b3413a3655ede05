"""The ZookeeperCluster resource: what a user asks for (spec) and what zkop observed (status)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from zkop.api.common import (
    Condition,
    IntOrString,
    KubeObject,
    KubeObjectList,
    Model,
    Quantity,
    Resource,
    StatusModel,
)

KIND = "ZookeeperCluster"
PLURAL = "zookeeperclusters"

# The official image, pinned: upgrades are a deliberate spec change, never a surprise from a moving tag.
DEFAULT_IMAGE = "zookeeper:3.9.3"

# zoo.cfg keys whose value zkop owns: membership, paths, ports and the safety switches. A user who sets
# one would break reconfiguration or the start script, so the spec refuses them.
MANAGED_CONFIG_KEYS = frozenset(
    {
        "dataDir",
        "dataLogDir",
        "dynamicConfigFile",
        "clientPort",
        "secureClientPort",
        "clientPortAddress",
        "secureClientPortAddress",
        "reconfigEnabled",
        "standaloneEnabled",
        "skipACL",
        "quorumListenOnAllIPs",
        "4lw.commands.whitelist",
        "admin.enableServer",
        "admin.serverAddress",
        "admin.serverPort",
        "metricsProvider.className",
    }
)
# Families of managed keys: membership lines and quorum-system weights.
MANAGED_CONFIG_PREFIXES = ("server.", "group.", "weight.")

_CONFIG_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")
# A value ends up on one line of zoo.cfg: anything that could start a second line (or hide one) is refused.
_FORBIDDEN_VALUE_CHARS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


class StorageSpec(Model):
    """The persistent volume each member keeps its data (snapshots, transaction log, config) on."""

    size: Quantity = Field("10Gi", description="Size of each member's volume, e.g. 10Gi.")
    storage_class_name: str | None = Field(
        None, description="StorageClass of the volumes; cluster default if unset."
    )
    reclaim_policy: Literal["Retain", "Delete"] = Field(
        "Retain",
        description="What happens to a member's volume when the member is removed or the cluster deleted: "
        "Retain keeps it (a later member with the same id starts cleanly from it), Delete removes it.",
    )


class ResourceRequirements(Model):
    """CPU and memory for each member's container (the same shape as a container's resources)."""

    requests: dict[str, Quantity] | None = None
    limits: dict[str, Quantity] | None = None


class JvmSpec(Model):
    """The ZooKeeper server JVM."""

    heap: Quantity | None = Field(
        None, description="Java heap (-Xms and -Xmx), e.g. 512Mi. Unset: the image's default."
    )
    extra_flags: list[str] = Field(
        default_factory=list, description="Extra JVM flags, e.g. -XX:+UseG1GC. One flag per item."
    )

    @field_validator("extra_flags")
    @classmethod
    def _one_flag_per_item(cls, flags: list[str]) -> list[str]:
        for i, flag in enumerate(flags):
            if not flag.startswith("-") or any(c.isspace() for c in flag):
                raise ValueError(
                    f"item {i} ({flag!r}) must be a single JVM flag starting with '-' and without spaces"
                )
        return flags


class PodOverrides(Model):
    """Scheduling and identity settings copied into every member pod."""

    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    affinity: KubeObject | None = None
    tolerations: KubeObjectList | None = None
    node_selector: dict[str, str] | None = None
    priority_class_name: str | None = None
    security_context: KubeObject | None = Field(None, description="The pod-level securityContext.")
    topology_spread_constraints: KubeObjectList | None = None
    service_account_name: str | None = Field(
        None, description="Run members under this ServiceAccount instead of the one zkop creates."
    )


class ZookeeperClusterSpec(Model):
    """What the user asks for: an ensemble of `replicas` voting members."""

    replicas: int = Field(
        3,
        ge=1,
        le=9,
        description="Number of voting members. Odd numbers (3, 5) tolerate the most failures per member.",
    )
    image: str = Field(DEFAULT_IMAGE, min_length=1, description="The ZooKeeper container image.")
    storage: StorageSpec = Field(default_factory=StorageSpec)  # type: ignore[arg-type]
    resources: ResourceRequirements | None = None
    jvm: JvmSpec = Field(default_factory=JvmSpec)  # type: ignore[arg-type]
    config: dict[str, IntOrString] = Field(
        default_factory=dict,
        description="zoo.cfg settings, e.g. maxClientCnxns: 120. Keys zkop manages (dataDir, server.N, "
        "clientPort, reconfigEnabled, ...) are refused.",
    )
    pod: PodOverrides = Field(default_factory=PodOverrides)  # type: ignore[arg-type]

    @field_validator("config")
    @classmethod
    def _config_is_safe(cls, config: dict[str, int | str]) -> dict[str, int | str]:
        for key, value in config.items():
            if key in MANAGED_CONFIG_KEYS or key.startswith(MANAGED_CONFIG_PREFIXES):
                raise ValueError(
                    f"key {key!r} is managed by zkop and cannot be set: remove it from spec.config"
                )
            if not _CONFIG_KEY.match(key):
                raise ValueError(
                    f"key {key!r} is not a zoo.cfg key: use letters, digits, '.', '_' and '-', "
                    "starting with a letter"
                )
            if isinstance(value, str) and _FORBIDDEN_VALUE_CHARS.search(value):
                raise ValueError(f"value of {key!r} contains a line break or control character: use one line")
        return config


class MemberStatus(StatusModel):
    """One member of the ensemble as zkop last observed it."""

    id: int
    pod: str
    address: str | None = None
    role: Literal["leader", "follower", "observer", "down"]
    zxid: str | None = None
    synced: bool = False


class ZookeeperClusterStatus(StatusModel):
    """What zkop observed; written only through the status subresource."""

    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = None
    replicas: int | None = None
    ready_replicas: int | None = None
    members: list[MemberStatus] = Field(default_factory=list)
    leader: str | None = None
    config_version: str | None = None
    connection_string: str | None = None


class ZookeeperCluster(Resource):
    """The whole resource, as read from the API."""

    api_version: Literal["zkop.io/v1alpha1"] = "zkop.io/v1alpha1"
    kind: Literal["ZookeeperCluster"] = "ZookeeperCluster"
    spec: ZookeeperClusterSpec = Field(default_factory=ZookeeperClusterSpec)  # type: ignore[arg-type]
    status: ZookeeperClusterStatus | None = None
