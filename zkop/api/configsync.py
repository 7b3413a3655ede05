"""The ZookeeperConfigSync resource: ConfigMap keys (and opted-in Secrets) mirrored into znodes.

Layout under `spec.path`: `<path>/<source-name>/<key>` holds the value's bytes, `<path>/k8s/nodes/<node>`
and `<path>/k8s/pods/<namespace>/<pod>` hold cluster state as JSON, and `<path>/.zkop-owner` marks the
subtree as this sync's (its uid), so nothing zkop did not write is ever reaped.

Every znode the sync creates (values, interior nodes, cluster state, the marker) carries the same ACL:
zkop's admin identity with all permissions, READ for each identity `spec.readers` grants, and world READ
only with `spec.worldReadable` (refused while Secrets are mirrored). Nothing is world-readable by default.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from zkop.api.common import ClusterRef, Condition, KubeObject, Model, StatusModel

KIND = "ZookeeperConfigSync"
PLURAL = "zookeeperconfigsyncs"
FINALIZER = "zkop.io/configsync"
# A Secret is mirrored only when its owner opted in: listing it in a spec is not enough, because whoever
# may write a ZookeeperConfigSync may not be meant to read every Secret of the namespace.
SECRET_OPT_IN_ANNOTATION = "zkop.io/sync"

# ZooKeeper refuses any packet above jute.maxbuffer (0xfffff bytes by default). A value must leave room
# for the path, the ACL and the multi-transaction framing around it; 4 KiB covers them with margin.
JUTE_MAXBUFFER = 0xFFFFF
DEFAULT_MAX_VALUE_BYTES = JUTE_MAXBUFFER - 4096

_ZNODE_PATH = re.compile(r"^(/[^/\x00]+)+$")
_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


class SourceRef(Model):
    """A ConfigMap (or Secret) of the sync's namespace, and which of its keys to mirror."""

    name: str = Field(min_length=1)
    keys: list[str] | None = Field(None, description="Keys to mirror; unset mirrors every key.")

    @field_validator("keys")
    @classmethod
    def _keys_are_znode_names(cls, keys: list[str] | None) -> list[str] | None:
        for key in keys or []:
            if not _KEY.match(key) or key in (".", ".."):
                raise ValueError(f"key {key!r} is not a ConfigMap key (letters, digits, '-', '_', '.')")
        return keys


class ReaderRef(Model):
    """A ZookeeperZnode of this namespace whose identity (its credentials Secret) may read the znodes."""

    znode: str = Field(
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        description="Name of a ZookeeperZnode in this namespace.",
    )


class PodSelection(Model):
    """Which pods' phase and readiness to mirror."""

    selector: KubeObject = Field(
        default_factory=dict, description="A label selector (matchLabels / matchExpressions); empty: all."
    )
    namespaces: list[str] = Field(
        default_factory=list, description="Namespaces to look in; empty: the sync's own namespace."
    )


class ClusterStateSpec(Model):
    """Kubernetes cluster state mirrored as JSON under `<path>/k8s/`."""

    nodes: bool = Field(False, description="Mirror every Node's readiness and addresses.")
    pods: PodSelection | None = None


class ZookeeperConfigSyncSpec(Model):
    cluster_ref: ClusterRef
    path: str = Field(description="The znode this sync owns, e.g. /config/payments.")
    config_maps: list[SourceRef] = Field(default_factory=list)
    secrets: list[SourceRef] = Field(
        default_factory=list,
        description="Secrets to mirror; each must also carry the annotation "
        f'{SECRET_OPT_IN_ANNOTATION}: "true".',
    )
    deletion_policy: Literal["Delete", "Retain"] = Field(
        "Delete", description="On deletion of this resource, Delete removes the subtree, Retain keeps it."
    )
    max_value_bytes: int = Field(
        DEFAULT_MAX_VALUE_BYTES,
        ge=1,
        le=JUTE_MAXBUFFER,
        description="Largest value written; a larger one is reported and left out, never truncated. "
        "Raise it only together with the ensemble's jute.maxbuffer.",
    )
    cluster_state: ClusterStateSpec | None = None
    readers: list[ReaderRef] = Field(
        default_factory=list,
        description="Applications (ZookeeperZnodes of this namespace) whose identity may read the "
        "znodes; nobody else can, except zkop's admin identity.",
    )
    world_readable: bool = Field(
        False,
        description="Let every client read the znodes (world READ). Refused while spec.secrets lists "
        "any Secret.",
    )

    @field_validator("path")
    @classmethod
    def _path_is_a_znode(cls, path: str) -> str:
        if not _ZNODE_PATH.match(path) or any(p in (".", "..") for p in path.split("/")[1:]):
            raise ValueError(f"path {path!r} must be an absolute znode path such as /config/app")
        if path.split("/")[1] == "zookeeper":
            raise ValueError("path must not be under /zookeeper (ZooKeeper's own subtree)")
        return path

    @field_validator("config_maps", "secrets")
    @classmethod
    def _names_are_unique(cls, sources: list[SourceRef]) -> list[SourceRef]:
        names = [s.name for s in sources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        if "k8s" in names:
            raise ValueError("a source named k8s would collide with the cluster state subtree")
        return sources

    @model_validator(mode="after")
    def _sources_do_not_share_a_subtree(self) -> ZookeeperConfigSyncSpec:
        shared = sorted({s.name for s in self.config_maps} & {s.name for s in self.secrets})
        if shared:
            raise ValueError(
                f"a ConfigMap and a Secret would both write <path>/{shared[0]}: rename or drop one"
            )
        return self

    @field_validator("readers")
    @classmethod
    def _readers_are_unique(cls, readers: list[ReaderRef]) -> list[ReaderRef]:
        names = [r.znode for r in readers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        return readers

    @field_validator("world_readable")
    @classmethod
    def _secrets_are_never_world_readable(cls, world_readable: bool, info: ValidationInfo) -> bool:
        # A field validator (secrets is declared before worldReadable, so it is parsed already) rather
        # than a model validator: the error then names spec.worldReadable, the field to change.
        secrets: list[SourceRef] = info.data.get("secrets") or []
        if world_readable and secrets:
            names = ", ".join(s.name for s in secrets)
            raise ValueError(
                f"true would let every client read the mirrored Secrets ({names}): set worldReadable: "
                "false and grant the applications that need them through spec.readers, or remove the "
                "Secrets from spec.secrets"
            )
        return world_readable


class ZookeeperConfigSyncStatus(StatusModel):
    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = None
    synced_keys: int | None = None
    last_sync_time: str | None = Field(None, description="When zkop last changed the znodes.")
    errors: list[str] = Field(default_factory=list)
    readers: list[str] = Field(
        default_factory=list, description="The ZookeeperZnodes whose identity is granted READ now."
    )
