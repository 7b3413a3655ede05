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
from kazoo.protocol.states import KazooState

from zkop.zookeeper.membership import CLIENT_PORT
from zkop.zookeeper.reconfig import SuperuserCredential

T = TypeVar("T")
CONNECT_TIMEOUT = 15.0


@dataclass(frozen=True)
class EnsembleKey:
    namespace: str
    name: str


class Session:
    """One kazoo client for one ensemble; reconnects by itself, hosts refreshed as members move."""

    def __init__(self, hosts: Sequence[str], credential: SuperuserCredential) -> None:
        self.hosts = list(hosts)
        self.client = KazooClient(
            hosts=self._connect_string(self.hosts),
            auth_data=credential.auth_data(),
            timeout=10.0,
            connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 2.0},
            command_retry={"max_tries": 3, "delay": 0.1, "max_delay": 1.0},
        )
        self.lost = threading.Event()  # set when ZooKeeper expired the session (ephemeral nodes gone)
        self.client.add_listener(self._on_state)
        self.client.start(timeout=CONNECT_TIMEOUT)

    @staticmethod
    def _connect_string(hosts: Sequence[str]) -> str:
        return ",".join(h if ":" in h else f"{h}:{CLIENT_PORT}" for h in hosts)

    def _on_state(self, state: KazooState) -> None:
        if state == KazooState.LOST:
            self.lost.set()

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

    async def get(self, key: EnsembleKey, hosts: Sequence[str], credential: SuperuserCredential) -> Session:
        async with self._lock:
            session = self._sessions.get(key)
            if session is None:
                session = await asyncio.to_thread(Session, hosts, credential)
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
