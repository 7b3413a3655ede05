"""Application subtrees inside an ensemble: create with ACLs, quotas, recursive delete (kazoo, blocking).

Run these through `Sessions.run` (a worker thread) with zkop's superuser session. ZooKeeper's ACLs do not
inherit, so every node created here gets its ACL explicitly. Superuser requests bypass ACL checks, which is
what lets zkop create and delete inside subtrees it has locked down.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, NotEmptyError
from kazoo.security import ACL

from zkop.zookeeper.quota import (
    LIMITS_NODE,
    QuotaLimits,
    Usage,
    limits_node,
    quota_node,
    stats_node,
)

DELETE_ATTEMPTS = 5


class QuotaConflict(RuntimeError):
    """Another quota already covers part of the subtree; ZooKeeper does not support nested quotas."""


def ancestors(path: str) -> list[str]:
    """The proper ancestors of an absolute path, top first, without "/": /a/b/c -> [/a, /a/b]."""
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts))]


def _create(client: KazooClient, path: str, acl: Sequence[ACL], data: bytes = b"") -> bool:
    try:
        client.create(path, data, acl=list(acl))
    except NodeExistsError:
        return False
    return True


def _ensure_acl(client: KazooClient, path: str, required: Sequence[ACL]) -> bool:
    """Make sure each required identity has at least its permissions on `path`; other entries stay (an
    application may grant a read-only identity on its own root). True when the ACL was changed."""
    while True:
        current, stat = client.get_acls(path)
        missing = [
            want
            for want in required
            if not any(have.id == want.id and have.perms & want.perms == want.perms for have in current)
        ]
        if not missing:
            return False
        wanted_ids = {want.id for want in missing}
        merged = [have for have in current if have.id not in wanted_ids] + missing
        try:
            client.set_acls(path, merged, version=stat.aversion)
        except BadVersionError:
            continue  # someone changed the ACL meanwhile: merge into theirs, never overwrite it
        return True


def ensure_subtree(client: KazooClient, path: str, owner: Sequence[ACL], admin: Sequence[ACL]) -> bool:
    """Create `path` (and missing ancestors) so that `owner` has its permissions on the root.

    Ancestors zkop creates get the `admin` ACL only: ZooKeeper checks permissions on the node an
    operation names (and on the parent for create/delete), never on the path leading to it, so an
    application reaches its root by full path or chroot without any right on /apps or /apps/<ns>, and
    cannot list or write its neighbours. Ancestors that already exist keep their ACL. True when the
    root was created now.
    """
    for ancestor in ancestors(path):
        _create(client, ancestor, admin)
    created = _create(client, path, [*admin, *owner])
    if not created:
        _ensure_acl(client, path, [*admin, *owner])
    return created


def delete_subtree(client: KazooClient, path: str) -> bool:
    """Delete `path` and everything below it; False when it was already gone. Retries when an application
    still writes into it (a node appearing mid-delete fails the parent's delete with NotEmpty)."""
    if client.exists(path) is None:
        return False
    for attempt in range(DELETE_ATTEMPTS):
        try:
            client.delete(path, recursive=True)
            return True
        except NotEmptyError:
            if attempt == DELETE_ATTEMPTS - 1:
                raise
    return True


def _other_quota(client: KazooClient, path: str) -> str | None:
    """A quota on an ancestor or a descendant of `path`, which would make ours a nested quota."""
    for ancestor in ancestors(path):
        if client.exists(limits_node(ancestor)) is not None:
            return ancestor
    stack = [quota_node(path)]
    while stack:
        node = stack.pop()
        try:
            children = client.get_children(node)
        except NoNodeError:
            continue
        for child in children:
            child_path = f"{node}/{child}"
            if node != quota_node(path) and child == LIMITS_NODE:
                return node.removeprefix(quota_node(""))
            if child != LIMITS_NODE:
                stack.append(child_path)
    return None


def ensure_quota(
    client: KazooClient,
    path: str,
    limits: QuotaLimits,
    admin: Sequence[ACL],
    reader: Sequence[ACL],
) -> Usage:
    """Write the quota nodes for `path` the way `setquota` does, and return the current usage.

    The server starts tracking a path when its limits node appears, and counts the existing subtree when
    the stats node is created; so whenever zkop (re)creates the limits node it also re-creates the stats
    node, or the usage would miss whatever changed while no limits node existed.
    """
    other = _other_quota(client, path)
    if other is not None:
        raise QuotaConflict(f"{other} already has a quota; ZooKeeper does not support nested quotas")
    for node in [*ancestors(quota_node(path))[2:], quota_node(path)]:  # below /zookeeper/quota
        _create(client, node, admin)
    acl = [*admin, *reader]
    fresh_limits = False
    try:
        data, _ = client.get(limits_node(path))
        if not limits.same_as(data.decode(errors="replace")):
            client.set(limits_node(path), limits.text().encode())
    except NoNodeError:
        fresh_limits = _create(client, limits_node(path), acl, limits.text().encode())
    if fresh_limits:
        with contextlib.suppress(NoNodeError):
            client.delete(stats_node(path))
    _create(client, stats_node(path), acl, b"count=0,bytes=0")
    data, _ = client.get(stats_node(path))
    return Usage.parse(data.decode(errors="replace"))


def read_usage(client: KazooClient, path: str) -> Usage | None:
    """The usage ZooKeeper tracks for `path`, or None when it has no quota."""
    try:
        data, _ = client.get(stats_node(path))
    except NoNodeError:
        return None
    return Usage.parse(data.decode(errors="replace"))


def remove_quota(client: KazooClient, path: str) -> bool:
    """Remove the quota of `path` (limits and stats, and any quota an application set inside its own
    subtree). Empty quota ancestors stay: another subtree's quota may be created under them right now."""
    return delete_subtree(client, quota_node(path))
