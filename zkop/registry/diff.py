"""Desired registry vs owned nodes observed -> the minimal changes, and their application (for tests,
and for the writer's view of what it owns after a successful write).

`Owned` maps every path the ledger lists to the node's data, or None when the ledger lists a node that
is gone (deleted by hand, say): such an entry is re-created if still desired, forgotten otherwise.
Only paths in `Owned` are ever updated or deleted: a foreign node cannot appear in a delete set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Owned = Mapping[str, bytes | None]


@dataclass(frozen=True)
class Changes:
    creates: Mapping[str, bytes] = field(default_factory=dict)  # node + ledger entry
    recreates: Mapping[str, bytes] = field(default_factory=dict)  # node only: the entry is there
    updates: Mapping[str, bytes] = field(default_factory=dict)  # node data only
    deletes: frozenset[str] = frozenset()  # node + ledger entry
    forgets: frozenset[str] = frozenset()  # ledger entry only: the node is already gone

    @property
    def empty(self) -> bool:
        return not (self.creates or self.recreates or self.updates or self.deletes or self.forgets)

    @property
    def writes(self) -> int:
        """ZooKeeper operations these changes cost (each ledger entry is one more)."""
        return (
            2 * len(self.creates)
            + len(self.recreates)
            + len(self.updates)
            + 2 * len(self.deletes)
            + len(self.forgets)
        )

    @property
    def touched(self) -> int:
        """Registry nodes created, rewritten or removed."""
        return len(self.creates) + len(self.recreates) + len(self.updates) + len(self.deletes)


def diff(desired: Mapping[str, bytes], owned: Owned) -> Changes:
    """Exactly the changes that turn the owned nodes into the desired ones, and nothing else."""
    creates: dict[str, bytes] = {}
    recreates: dict[str, bytes] = {}
    updates: dict[str, bytes] = {}
    for path, data in desired.items():
        if path not in owned:
            creates[path] = data
        else:
            present = owned[path]
            if present is None:
                recreates[path] = data
            elif present != data:
                updates[path] = data
    gone = [path for path in owned if path not in desired]
    return Changes(
        creates=creates,
        recreates=recreates,
        updates=updates,
        deletes=frozenset(p for p in gone if owned[p] is not None),
        forgets=frozenset(p for p in gone if owned[p] is None),
    )


def apply(owned: Owned, changes: Changes) -> dict[str, bytes | None]:
    """What is owned once `changes` are written."""
    result: dict[str, bytes | None] = dict(owned)
    for path in changes.deletes | changes.forgets:
        result.pop(path, None)
    result.update(changes.creates)
    result.update(changes.recreates)
    result.update(changes.updates)
    return result
