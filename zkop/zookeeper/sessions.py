"""Long-lived ZooKeeper sessions the operator keeps per ensemble, authenticated as zkop's superuser.

Everything zkop writes into an ensemble (application subtrees, service registries, mirrored config)
goes through one session per ZookeeperCluster. kazoo is synchronous; callers use `run()` to execute a
function with the client in a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState, KeeperState

from zkop.zookeeper import acls
from zkop.zookeeper.connection import Connection, SuperuserCredential
from zkop.zookeeper.reconfig import connection_of

T = TypeVar("T")
CONNECT_TIMEOUT = 15.0


@dataclass(frozen=True)
class EnsembleKey:
    namespace: str
    name: str


class Session:
    """One kazoo client for one ensemble; reconnects by itself, hosts refreshed as members move."""

    def __init__(self, hosts: Sequence[str], access: Connection | SuperuserCredential) -> None:
        self.hosts = list(hosts)
        self.connection = connection_of(access)
        self.client = KazooClient(
            hosts=self._connect_string(self.hosts),
            **self.connection.kazoo_args(),
            # What zkop creates without naming an ACL (registry nodes, its ledger): anyone may read,
            # only zkop may change it (see zkop.zookeeper.acls).
            default_acl=acls.published(self.connection.credential.password)
            if self.connection.credential.password
            else None,
            timeout=10.0,
            connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 2.0},
            command_retry={"max_tries": 3, "delay": 0.1, "max_delay": 1.0},
        )
        self.lost = threading.Event()  # set when ZooKeeper expired the session (ephemeral nodes gone)
        self.client.add_listener(self._on_state)
        self.client.start(timeout=CONNECT_TIMEOUT)

    def _connect_string(self, hosts: Sequence[str]) -> str:
        return self.connection.hosts(list(hosts))

    def _on_state(self, state: KazooState) -> None:
        if state == KazooState.LOST:
            self.lost.set()

    @property
    def ended(self) -> bool:
        """kazoo gave the connection up for good: a refused SASL login (or failed authentication) ends
        its connection thread instead of retrying, so the session must be replaced, not reused."""
        return bool(self.client.client_state in (KeeperState.CLOSED, KeeperState.AUTH_FAILED))

    def set_hosts(self, hosts: Sequence[str]) -> None:
        if list(hosts) != self.hosts and hosts:
            self.hosts = list(hosts)
            self.client.set_hosts(self._connect_string(self.hosts))

    def close(self) -> None:
        self.client.stop()
        self.client.close()


class Sessions:
    """The operator's sessions, one per ensemble, created on first use."""

    def __init__(self) -> None:
        self._sessions: dict[EnsembleKey, Session] = {}
        self._lock = asyncio.Lock()

    async def get(
        self, key: EnsembleKey, hosts: Sequence[str], access: Connection | SuperuserCredential
    ) -> Session:
        """The ensemble's session; a new one when the connection changed (a rotated certificate, a new
        SASL password) or kazoo ended it."""
        async with self._lock:
            session = self._sessions.get(key)
            if session is not None and (session.connection != connection_of(access) or session.ended):
                self._sessions.pop(key)
                await asyncio.to_thread(session.close)
                session = None
            if session is None:
                session = await asyncio.to_thread(Session, hosts, access)
                self._sessions[key] = session
            else:
                session.set_hosts(hosts)
            return session

    async def run(self, session: Session, work: Callable[[KazooClient], T]) -> T:
        """Run `work(client)` in a worker thread (kazoo blocks)."""
        return await asyncio.to_thread(work, session.client)

    async def drop(self, key: EnsembleKey) -> None:
        async with self._lock:
            session = self._sessions.pop(key, None)
        if session is not None:
            await asyncio.to_thread(session.close)

    async def close(self) -> None:
        for key in list(self._sessions):
            await self.drop(key)
