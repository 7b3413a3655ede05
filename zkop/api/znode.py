"""The ZookeeperZnode resource: an application's own subtree, credentials and discovery ConfigMap in a
ZookeeperCluster."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from zkop.api.common import ClusterRef, Condition, Model, Resource, StatusModel
from zkop.api.validation import parse_resource

ZNODE_KIND = "ZookeeperZnode"
ZNODE_PLURAL = "zookeeperznodes"

# ZooKeeper's own path rules (PathUtils.validatePath) refuse these characters in a path.
_FORBIDDEN_PATH_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\uf8ff\ufff0-\uffff]")
# Paths an application subtree can never be: the whole tree, and ZooKeeper's own system area.
_SYSTEM_ROOT = "/zookeeper"


def path_problem(path: str) -> str | None:
    """Why `path` cannot be an application subtree root, or None when it can."""
    if not path.startswith("/"):
        return "must be an absolute path starting with '/'"
    if path == "/":
        return "cannot be the root of the tree: point at a subtree"
    if path.endswith("/"):
        return "must not end with '/'"
    parts = path[1:].split("/")
    if any(p == "" for p in parts):
        return "must not contain empty components ('//')"
    if any(p in (".", "..") for p in parts):
        return "must not contain '.' or '..' components"
    if _FORBIDDEN_PATH_CHARS.search(path):
        return "contains a character ZooKeeper refuses in paths"
    if path == _SYSTEM_ROOT or path.startswith(_SYSTEM_ROOT + "/"):
        return "is ZooKeeper's own system area (/zookeeper)"
    return None


class ZnodeQuota(Model):
    """ZooKeeper's quota on the subtree (what `setquota` writes under /zookeeper/quota)."""

    count: int | None = Field(None, ge=1, description="Most znodes in the subtree, its root included.")
    bytes: int | None = Field(None, ge=0, description="Most bytes of data in the subtree.")
    enforce: bool = Field(
        False,
        description="Also write the limits as hard limits, which ZooKeeper enforces (refusing writes) only "
        "when the servers run with -Dzookeeper.enforceQuota=true. Without it the limits are soft: "
        "ZooKeeper logs a warning when they are exceeded, and usage is reported in status.",
    )


class ZookeeperZnodeSpec(Model):
    """What an application asks for: a subtree of its own in a ZookeeperCluster."""

    cluster_ref: ClusterRef = Field(
        description="The ZookeeperCluster the subtree lives in. Another namespace than this object's is "
        "allowed only if the cluster's annotation zkop.io/allowed-namespaces lists this namespace "
        '(comma-separated) or is "*".'
    )
    path: str | None = Field(
        None,
        max_length=1024,
        description="Use this path as the subtree root (an administrator's override, e.g. to adopt existing "
        "data). Unset: /apps/<namespace>/<name>-<uid prefix>, unique to this object. Cannot change once "
        "the subtree exists.",
    )
    quota: ZnodeQuota | None = None
    deletion_policy: Literal["Delete", "Retain"] = Field(
        "Retain",
        description="What happens to the subtree's data when this object is deleted: Retain keeps it "
        "(and its credentials Secret), Delete removes the subtree recursively.",
    )

    @field_validator("path")
    @classmethod
    def _path_is_a_subtree(cls, path: str | None) -> str | None:
        if path is not None and (problem := path_problem(path)):
            raise ValueError(f"{path!r} {problem}")
        return path


class ZnodeUsage(StatusModel):
    """What the subtree holds now, as ZooKeeper's quota accounting (zookeeper_stats) reports it."""

    count: int
    bytes: int


class ZookeeperZnodeStatus(StatusModel):
    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = None
    path: str | None = None
    cluster: str | None = None  # namespace/name of the ensemble the subtree is in
    usage: ZnodeUsage | None = None
    secret_name: str | None = None
    config_map_name: str | None = None


class ZookeeperZnode(Resource):
    api_version: Literal["zkop.io/v1alpha1"] = "zkop.io/v1alpha1"
    kind: Literal["ZookeeperZnode"] = "ZookeeperZnode"
    spec: ZookeeperZnodeSpec
    status: ZookeeperZnodeStatus | None = None

    @property
    def cluster_namespace(self) -> str:
        return self.spec.cluster_ref.namespace_from(self.namespace)


def parse_znode(obj: dict[str, Any]) -> ZookeeperZnode:
    """Parse a ZookeeperZnode; raise InvalidSpec naming every bad field."""
    return parse_resource(ZookeeperZnode, obj)
