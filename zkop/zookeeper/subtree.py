"""Owned subtrees: read what is under a root, claim it with an owner marker, apply a plan from
`zkop.plan.znodes` in multi-transactions, remove it. Synchronous (kazoo); run through `Sessions.run`.

The marker `<root>/.zkop-owner` holds the owner's uid. Every transaction starts with a version check
on it, so a subtree handed to someone else (or deleted and re-created) between listing and writing makes
the whole transaction fail instead of touching data zkop does not own; the next pass re-reads.

ACLs: every node written here (the root, the marker, interior nodes, values) is created with the ACL the
caller gives, and a sync compares every existing node's ACL with it and corrects the ones that differ
(setACL, guarded by the ACL version read in the listing) *before* writing any data, so a value is never
written into a node more readable than asked. ZooKeeper's multi cannot carry setACL, so corrections are
single requests; one that races with another change fails the pass, and the next pass re-reads.
Ancestors of the root that do not exist are created with `parent_acl`; existing ones are not touched.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NoNodeError
from kazoo.protocol.states import ZnodeStat
from kazoo.security import ACL

from zkop.plan.znodes import ZnodeChange, acl_size, batches, diff_znodes, same_acl

OWNER_MARKER = ".zkop-owner"


class NotOwned(RuntimeError):
    """The root exists and is not (or no longer) marked as this owner's."""


class TransactionFailed(RuntimeError):
    """ZooKeeper refused a multi-transaction; nothing of it was applied."""


@dataclass(frozen=True)
class Subtree:
    """Everything under a root as read in one listing."""

    exists: bool
    owner: str | None  # uid in the marker, None when there is no marker
    marker_version: int | None
    nodes: dict[str, bytes]  # relative path -> data, the marker excluded
    # relative path ("" the root, the marker included) -> (ACL, ACL version); only when asked for
    acls: dict[str, tuple[list[ACL], int]] = field(default_factory=dict)


def owner_record(uid: str, description: str) -> bytes:
    return json.dumps({"uid": uid, "owner": description}, sort_keys=True).encode()


def _owner_of(data: bytes) -> str:
    try:
        value = json.loads(data)
    except ValueError:
        return ""
    return str(value.get("uid", "")) if isinstance(value, dict) else ""


def read_subtree(client: KazooClient, root: str, *, with_acls: bool = False) -> Subtree:
    """List the whole subtree level by level, with the requests of a level in flight together (and,
    `with_acls`, every node's ACL).

    Raises on any failure: a partial listing must never be diffed, or what is missing from it would
    look like something to create and what is present like something to keep.
    """
    try:
        _, root_stat = client.get(root)
    except NoNodeError:
        return Subtree(False, None, None, {})
    del root_stat
    nodes: dict[str, bytes] = {}
    acls: dict[str, tuple[list[ACL], int]] = {}
    owner: str | None = None
    marker_version: int | None = None
    if with_acls:
        acls[""] = _acl_of(client.get_acls(root))
    level = [""]
    while level:
        child_requests = [(rel, client.get_children_async(_join(root, rel))) for rel in level]
        names: list[str] = []
        for rel, request in child_requests:
            names += [f"{rel}/{c}" if rel else c for c in request.get()]
        data_requests = [(rel, client.get_async(_join(root, rel))) for rel in names]
        acl_requests = [(rel, client.get_acls_async(_join(root, rel))) for rel in names if with_acls]
        for rel, request in data_requests:
            data, stat = request.get()
            assert isinstance(stat, ZnodeStat)
            if rel == OWNER_MARKER:
                owner, marker_version = _owner_of(data or b""), stat.version
            else:
                nodes[rel] = data or b""
        for rel, request in acl_requests:
            acls[rel] = _acl_of(request.get())
        level = [rel for rel in names if rel != OWNER_MARKER]
    return Subtree(True, owner, marker_version, nodes, acls)


def _acl_of(result: tuple[list[ACL], ZnodeStat]) -> tuple[list[ACL], int]:
    acl, stat = result
    return list(acl), stat.aversion


def _join(root: str, rel: str) -> str:
    return f"{root}/{rel}" if rel else root


def sync_subtree(
    client: KazooClient,
    root: str,
    owner_uid: str,
    owner_description: str,
    desired: dict[str, bytes],
    *,
    acl: Sequence[ACL],
    parent_acl: Sequence[ACL] | None = None,
    keep: frozenset[str] = frozenset(),
    budget: int,
) -> list[ZnodeChange]:
    """Make the subtree under `root` equal `desired` (relative paths), every node of it (the root and the
    marker included) carrying exactly `acl`, claiming the root if it is absent or empty; return the
    changes applied (ACL corrections as kind "acl", first). Missing ancestors of the root are created
    with `parent_acl` (default `acl`). Raises NotOwned, TransactionFailed or kazoo's errors."""
    tree = read_subtree(client, root, with_acls=True)
    marker = f"{root}/{OWNER_MARKER}"
    claim = tree.owner is None
    if tree.owner is not None and tree.owner != owner_uid:
        raise NotOwned(f"{root} belongs to another owner (uid {tree.owner})")
    if claim and tree.nodes:
        raise NotOwned(f"{root} already holds znodes zkop did not write (no {OWNER_MARKER} marker)")
    changes = diff_znodes(desired, tree.nodes, keep=keep)
    deleted = {c.path for c in changes if c.kind == "delete"}
    stale = sorted(
        rel for rel, (current, _) in tree.acls.items() if rel not in deleted and not same_acl(current, acl)
    )
    if not changes and not claim and not stale:
        return []
    # ACLs first: a value about to be written must not land in a node readable by more than `acl`.
    _correct_acls(client, root, tree, stale, acl)
    if not tree.exists:
        client.ensure_path(root.rpartition("/")[0] or "/", acl=list(parent_acl or acl))
    # Every create carries the ACL: with many readers it outweighs OP_OVERHEAD_BYTES, so it is counted.
    groups = batches(changes, budget, create_overhead=acl_size(acl)) or [[]]
    version = tree.marker_version
    for index, group in enumerate(groups):
        transaction = client.transaction()
        if index == 0 and claim:
            # Claiming is part of the first write, so two owners racing for one root cannot both win.
            if not tree.exists:
                transaction.create(root, b"", acl=list(acl))
            transaction.create(marker, owner_record(owner_uid, owner_description), acl=list(acl))
        else:
            transaction.check(marker, version if version is not None else 0)
        for change in group:
            path = f"{root}/{change.path}"
            if change.kind == "create":
                transaction.create(path, change.data, acl=list(acl))
            elif change.kind == "set":
                transaction.set_data(path, change.data)
            else:
                transaction.delete(path)
        _commit(transaction, group)
        if index == 0 and claim:
            version = 0
    return [*(ZnodeChange("acl", rel) for rel in stale), *changes]


def _correct_acls(
    client: KazooClient, root: str, tree: Subtree, stale: list[str], acl: Sequence[ACL]
) -> None:
    """Set `acl` on every node in `stale`, all requests in flight together, each guarded by the ACL
    version of the listing: an ACL someone changed meanwhile (or a node deleted) fails the pass."""
    requests = [(rel, client.set_acls_async(_join(root, rel), list(acl), tree.acls[rel][1])) for rel in stale]
    failed = []
    for rel, request in requests:
        try:
            request.get()
        except (BadVersionError, NoNodeError) as exc:
            failed.append(f"{_join(root, rel)} ({type(exc).__name__})")
    if failed:
        raise TransactionFailed(
            f"the ACL of {', '.join(failed)} changed while zkop corrected it; the next pass re-reads"
        )


def remove_subtree(client: KazooClient, root: str, owner_uid: str, *, budget: int) -> bool:
    """Delete the subtree and its root if this owner's marker is on it; False when it is not ours
    (or already gone), in which case nothing is touched."""
    tree = read_subtree(client, root)
    if not tree.exists or tree.owner != owner_uid:
        return False
    marker = f"{root}/{OWNER_MARKER}"
    changes = diff_znodes({}, tree.nodes)
    groups = batches(changes, budget)
    for group in groups:
        transaction = client.transaction()
        transaction.check(marker, tree.marker_version)
        for change in group:
            transaction.delete(f"{root}/{change.path}")
        _commit(transaction, group)
    transaction = client.transaction()
    transaction.check(marker, tree.marker_version)
    transaction.delete(marker)
    transaction.delete(root)
    _commit(transaction, [])
    return True


def _commit(transaction: object, group: list[ZnodeChange]) -> None:
    results = transaction.commit()  # type: ignore[attr-defined]
    failures = [r for r in results if isinstance(r, Exception)]
    # In a failed multi every op after the culprit reports RolledBackError: name the first real cause.
    real = [r for r in failures if type(r).__name__ != "RolledBackError"]
    if failures:
        cause = (real or failures)[0]
        raise TransactionFailed(f"transaction of {len(group)} change(s) refused: {type(cause).__name__}")
