"""Desired znodes against the znodes a writer owns: the smallest set of changes, in a safe order, in
batches that fit one ZooKeeper multi-transaction each.

Generic on purpose: anything zkop mirrors into a subtree it owns (config sync, cluster state, service
registries) describes what it wants as `{relative path: bytes}` and gets back the same kind of plan.
Paths are relative to the owned root, '/'-separated, without a leading slash. Interior nodes that only
exist to hold children get empty data.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from kazoo.security import ACL

from zkop.registry.diff import diff as registry_diff

# A multi-transaction request is bounded by jute.maxbuffer like any other packet; each op costs its
# path, its data and some framing (op header, version, ACL for creates).
OP_OVERHEAD_BYTES = 128

# "acl": the node's ACL is set to the desired one, its data left as it is (see zkop.zookeeper.subtree).
ChangeKind = Literal["create", "set", "delete", "acl"]


@dataclass(frozen=True)
class ZnodeChange:
    kind: ChangeKind
    path: str
    data: bytes = b""

    @property
    def size(self) -> int:
        return len(self.path.encode()) + len(self.data) + OP_OVERHEAD_BYTES


def depth(path: str) -> int:
    return path.count("/") + 1


def ancestors(path: str) -> Iterator[str]:
    """`a/b/c` -> `a`, `a/b` (the node itself excluded)."""
    parts = path.split("/")
    for i in range(1, len(parts)):
        yield "/".join(parts[:i])


def with_parents(desired: Mapping[str, bytes]) -> dict[str, bytes]:
    """The desired leaves plus every interior node they need; a node's own data wins over the empty
    data an interior node would get (a znode may hold data and children at once)."""
    closure: dict[str, bytes] = {}
    for path in desired:
        for parent in ancestors(path):
            closure.setdefault(parent, b"")
    closure.update(desired)
    return closure


def diff_znodes(
    desired: Mapping[str, bytes],
    existing: Mapping[str, bytes],
    *,
    keep: Iterable[str] = (),
) -> list[ZnodeChange]:
    """Changes that turn `existing` (everything under the owned root) into `desired`.

    `keep` names existing paths (and their ancestors) to leave exactly as they are: neither updated nor
    reaped, e.g. a value that could not be written this pass and whose previous value stays in place.
    Order: creates parents first, then sets, then deletes children first, so the list can be applied
    front to back (also split into consecutive batches). Which nodes change is the registry's own
    comparison (`zkop.registry.diff`); this adds the tree around it: parents, order, kept nodes.
    """
    kept = {p for p in keep if p in existing}
    for path in list(kept):
        kept.update(ancestors(path))
    target = {p: d for p, d in with_parents(desired).items() if p not in kept}
    owned = {p: d for p, d in existing.items() if p not in kept}
    changes = registry_diff(target, owned)
    creates = [ZnodeChange("create", p, d) for p, d in changes.creates.items()]
    sets = [ZnodeChange("set", p, d) for p, d in changes.updates.items()]
    deletes = [ZnodeChange("delete", p) for p in changes.deletes]
    creates.sort(key=lambda c: (depth(c.path), c.path))
    sets.sort(key=lambda c: c.path)
    deletes.sort(key=lambda c: (-depth(c.path), c.path))
    return [*creates, *sets, *deletes]


def same_acl(current: Iterable[ACL], desired: Iterable[ACL]) -> bool:
    """Whether a node's ACL grants exactly what `desired` does. ZooKeeper keeps entries in the order
    given (and drops repeats), so the comparison is on the set of (scheme, id, permissions); an entry
    with no permission grants nothing and does not count."""

    def entries(acl: Iterable[ACL]) -> set[tuple[str, str, int]]:
        return {(a.id.scheme, a.id.id, int(a.perms)) for a in acl if a.perms}

    return entries(current) == entries(desired)


def acl_size(acl: Iterable[ACL]) -> int:
    """Bytes an ACL adds to a create request on the wire (jute: perms, then scheme and id as
    length-prefixed strings, per entry, after the list's length)."""
    return 4 + sum(4 + 4 + len(a.id.scheme.encode()) + 4 + len(a.id.id.encode()) for a in acl)


def batches(
    changes: Iterable[ZnodeChange], budget: int, *, create_overhead: int = 0
) -> list[list[ZnodeChange]]:
    """Consecutive groups whose estimated request size stays within `budget` bytes; each create costs
    `create_overhead` more (its ACL beyond what OP_OVERHEAD_BYTES covers, see `acl_size`). A single
    change larger than the budget gets a batch of its own (the caller refuses oversized values earlier)."""
    result: list[list[ZnodeChange]] = []
    current: list[ZnodeChange] = []
    used = 0
    for change in changes:
        size = change.size + (create_overhead if change.kind == "create" else 0)
        if current and used + size > budget:
            result.append(current)
            current, used = [], 0
        current.append(change)
        used += size
    if current:
        result.append(current)
    return result


def apply_changes(existing: Mapping[str, bytes], changes: Iterable[ZnodeChange]) -> dict[str, bytes]:
    """The tree after `changes` (a model of ZooKeeper's own rules: a create needs its parent, a delete
    needs no children). Raises ValueError where ZooKeeper would refuse; used by tests and by callers
    that want to check a plan before sending it."""
    tree = dict(existing)
    for change in changes:
        parent = change.path.rpartition("/")[0]
        if change.kind == "create":
            if change.path in tree:
                raise ValueError(f"{change.path} exists")
            if parent and parent not in tree:
                raise ValueError(f"{change.path}: no parent")
            tree[change.path] = change.data
        elif change.kind == "set":
            if change.path not in tree:
                raise ValueError(f"{change.path}: no node")
            tree[change.path] = change.data
        elif change.kind == "acl":
            continue  # permissions only: the tree's shape and data stay
        else:
            if any(p.startswith(change.path + "/") for p in tree):
                raise ValueError(f"{change.path}: not empty")
            if change.path not in tree:
                raise ValueError(f"{change.path}: no node")
            del tree[change.path]
    return tree
