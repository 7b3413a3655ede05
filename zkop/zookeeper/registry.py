"""Writing a registry diff into ZooKeeper: multi-op transactions, batched well under jute.maxbuffer.

Each registry node travels with its ledger entry in the same transaction (see `zkop.registry.ledger`),
so a crash or a connection loss leaves either both or neither. Synchronous (kazoo); the operator calls
these through `Sessions.run` in a worker thread.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import (
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
)
from kazoo.security import ACL

from zkop.registry import ledger
from zkop.registry.diff import Changes

log = logging.getLogger(__name__)

# ZooKeeper refuses a request larger than jute.maxbuffer (1 MiB by default) and closes the connection.
# Batches stay at half of it, leaving room for headers, ACLs and a server configured lower.
BATCH_BYTES = 512 * 1024
BATCH_OPS = 2000
# Per-operation overhead beyond path and data: request header, ACL (world:anyone), flags, version.
_OP_OVERHEAD = 64


@dataclass(frozen=True)
class _Op:
    kind: str  # create | delete | set
    path: str
    data: bytes = b""

    @property
    def size(self) -> int:
        return len(self.path.encode()) + len(self.data) + _OP_OVERHEAD


@dataclass
class WriteReport:
    """What a write did: operations committed, transactions used, and nodes it had to leave alone."""

    operations: int = 0
    transactions: int = 0
    conflicts: list[str] = field(default_factory=list)  # paths refused (a foreign node sits there)
    failed: bool = False  # something was not written: the caller's view of owned nodes is stale

    def merge(self, other: WriteReport) -> None:
        self.operations += other.operations
        self.transactions += other.transactions
        self.conflicts += other.conflicts
        self.failed = self.failed or other.failed


def read_owned(client: KazooClient, export_uid: str) -> dict[str, bytes | None]:
    """Every node the export's ledger lists, with its data (None: listed, but the node is gone).

    Reads are pipelined (kazoo's async calls on one connection), so a full resync of thousands of
    nodes costs round trips in the tens, not thousands.
    """
    root = ledger.ledger_root(export_uid)
    try:
        parent_keys = client.get_children(root)
    except NoNodeError:
        return {}
    listings = [(key, client.get_children_async(f"{root}/{key}")) for key in parent_keys]
    paths: list[str] = []
    for key, pending in listings:
        try:
            children = pending.get()
        except NoNodeError:
            continue
        parent = ledger.parent_of_key(key)
        paths.extend(f"{parent}/{child}" for child in children)
    reads = [(path, client.get_async(path)) for path in paths]
    owned: dict[str, bytes | None] = {}
    for path, pending in reads:
        try:
            data, _ = pending.get()
            owned[path] = bytes(data)
        except NoNodeError:
            owned[path] = None
    return owned


def _units(export_uid: str, changes: Changes) -> Iterator[list[_Op]]:
    """The changes as units that must commit together: a node and its ledger entry."""
    for path, data in sorted(changes.creates.items()):
        yield [_Op("create", path, data), _Op("create", ledger.entry(export_uid, path))]
    for path, data in sorted(changes.recreates.items()):
        yield [_Op("create", path, data)]
    for path, data in sorted(changes.updates.items()):
        yield [_Op("set", path, data)]
    for path in sorted(changes.deletes):
        yield [_Op("delete", path), _Op("delete", ledger.entry(export_uid, path))]
    for path in sorted(changes.forgets):
        yield [_Op("delete", ledger.entry(export_uid, path))]


def batches(
    units: Iterable[list[_Op]], max_bytes: int = BATCH_BYTES, max_ops: int = BATCH_OPS
) -> Iterator[list[list[_Op]]]:
    """Group units into transactions of at most max_bytes and max_ops; a unit is never split."""
    batch: list[list[_Op]] = []
    size = ops = 0
    for unit in units:
        unit_size = sum(op.size for op in unit)
        if batch and (size + unit_size > max_bytes or ops + len(unit) > max_ops):
            yield batch
            batch, size, ops = [], 0, 0
        batch.append(unit)
        size += unit_size
        ops += len(unit)
    if batch:
        yield batch


def _commit(client: KazooClient, units: list[list[_Op]]) -> list[Any]:
    transaction = client.transaction()
    for unit in units:
        for op in unit:
            if op.kind == "create":
                transaction.create(op.path, op.data)
            elif op.kind == "set":
                transaction.set_data(op.path, op.data)
            else:
                transaction.delete(op.path)
    results: list[Any] = transaction.commit()
    return results


def _failure(results: list[Any]) -> Exception | None:
    return next((r for r in results if isinstance(r, Exception) and not isinstance(r, RolledBackError)), None)


def ensure_parents(
    client: KazooClient, export_uid: str, changes: Changes, parent_acl: list[ACL] | None = None
) -> None:
    """Create the registry parents and ledger parents the creates need (persistent, idempotent).

    Parents are shared with other writers (every Curator client of a service creates the same ones), so
    zkop creates them when missing (with `parent_acl`, see zkop.zookeeper.acls) and never deletes them;
    only ledger parents are zkop's own. Everything else gets the client's default ACL.
    """
    paths = list(changes.creates) + list(changes.recreates)
    for parent in sorted({ledger.split(p)[0] for p in paths}):
        client.ensure_path(parent, acl=parent_acl)
    for ledger_parent in sorted({ledger.ledger_parent(export_uid, p) for p in changes.creates}):
        client.ensure_path(ledger_parent)


def write(
    client: KazooClient,
    export_uid: str,
    changes: Changes,
    *,
    max_bytes: int = BATCH_BYTES,
    max_ops: int = BATCH_OPS,
    parent_acl: list[ACL] | None = None,
) -> WriteReport:
    """Commit `changes` in batched transactions; a batch that fails is retried unit by unit so one
    foreign node in the way costs only its own unit, never the rest of the batch."""
    report = WriteReport()
    if changes.empty:
        return report
    ensure_parents(client, export_uid, changes, parent_acl)
    for batch in batches(_units(export_uid, changes), max_bytes, max_ops):
        results = _commit(client, batch)
        report.transactions += 1
        if _failure(results) is None:
            report.operations += sum(len(u) for u in batch)
            continue
        for unit in batch:
            report.merge(_write_unit(client, export_uid, unit))
    _drop_empty_ledger_parents(client, export_uid, changes)
    return report


def _write_unit(client: KazooClient, export_uid: str, unit: list[_Op]) -> WriteReport:
    report = WriteReport(transactions=1)
    error = _failure(_commit(client, [unit]))
    if error is None:
        report.operations += len(unit)
        return report
    head = unit[0]
    if head.kind == "create" and isinstance(error, NodeExistsError):
        # Someone else's node at our path (or our own from a ledger that was lost): never adopt it.
        report.conflicts.append(head.path)
        log.warning("registry node %s exists and is not zkop's: left alone", head.path)
    elif head.kind == "delete" and isinstance(error, NoNodeError) and len(unit) == 2:
        # The node went by other hands; what is left to do is forgetting it.
        report.merge(_write_unit(client, export_uid, unit[1:]))
        return report
    report.failed = True
    return report


def _drop_empty_ledger_parents(client: KazooClient, export_uid: str, changes: Changes) -> None:
    for ledger_parent in sorted(
        {ledger.ledger_parent(export_uid, p) for p in changes.deletes | changes.forgets}
    ):
        with contextlib.suppress(NotEmptyError, NoNodeError):
            client.delete(ledger_parent)


def forget_export(client: KazooClient, export_uid: str) -> None:
    """Remove the export's ledger once everything it lists is deleted (only ledger nodes go)."""
    root = ledger.ledger_root(export_uid)
    try:
        for key in client.get_children(root):
            if client.get_children(f"{root}/{key}"):
                return  # still owns something: keep the record
        client.delete(root, recursive=True)
    except NoNodeError:
        pass
