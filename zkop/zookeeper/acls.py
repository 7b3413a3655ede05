"""The ACLs zkop puts on what it owns in ZooKeeper, in one place. ZooKeeper ACLs do not inherit: every
node carries its own, so every create names one.

- the root `/`: world READ (clients list it and connect under chroots), everything else for zkop's
  superuser only, unless the cluster asks for an open root (`spec.rootAcl: open`);
- registry instance nodes (ServiceExport) and zkop's ledger: world READ, writes by zkop only;
- registry parents zkop creates: world READ and CREATE too, so applications that register themselves
  next to zkop's entries (Curator, Dubbo) still can, but cannot delete what zkop published.
App subtrees (ZookeeperZnode) and mirrored config (ConfigSync) have their own rules in their modules.
"""

from __future__ import annotations

import asyncio

from kazoo.client import KazooClient
from kazoo.security import ACL, OPEN_ACL_UNSAFE, Id, Permissions, make_digest_acl

from zkop.render.identity import SUPERUSER
from zkop.zookeeper.connection import Connection

WORLD = Id("world", "anyone")


def admin(password: str) -> ACL:
    """zkop's own identity (the servers' superuser) with every permission."""
    return make_digest_acl(SUPERUSER, password, all=True)


def protected_root(password: str) -> list[ACL]:
    return [admin(password), ACL(Permissions.READ, WORLD)]


def published(password: str) -> list[ACL]:
    """Nodes zkop publishes for anyone to read and only zkop to change."""
    return [admin(password), ACL(Permissions.READ, WORLD)]


def shared_parent(password: str) -> list[ACL]:
    """Registry parents: readable by all, and others may add their own children (not delete zkop's)."""
    return [admin(password), ACL(Permissions.READ | Permissions.CREATE, WORLD)]


def _key(acls: list[ACL]) -> set[tuple[str, str, int]]:
    return {(a.id.scheme, a.id.id, a.perms) for a in acls}


def ensure_root(client: KazooClient, password: str, *, protect: bool) -> bool:
    """Set the root's ACL when it differs (guarded by its ACL version); True when it was changed."""
    wanted = protected_root(password) if protect else list(OPEN_ACL_UNSAFE)
    current, stat = client.get_acls("/")
    if _key(list(current)) == _key(wanted):
        return False
    client.set_acls("/", wanted, version=stat.aversion)
    return True


async def apply_root(addresses: list[str], connection: Connection, *, protect: bool) -> bool:
    """Connect as zkop and bring the root's ACL in line (see ensure_root)."""

    def work() -> bool:
        client = KazooClient(hosts=connection.hosts(addresses), **connection.kazoo_args(), timeout=10.0)
        client.start(timeout=10.0)
        try:
            return ensure_root(client, connection.credential.password, protect=protect)
        finally:
            client.stop()
            client.close()

    return await asyncio.to_thread(work)
