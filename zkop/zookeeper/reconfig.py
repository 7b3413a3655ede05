"""ZooKeeper's dynamic reconfiguration, as zkop uses it: incremental, compare-and-swap, as superuser.

kazoo is synchronous (its own threads); the operator is asyncio, so calls run in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    ConnectionLoss,
    NewConfigNoQuorumError,
    NoAuthError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError

from zkop.zookeeper.connection import Connection, SuperuserCredential
from zkop.zookeeper.membership import Member, Membership, parse_membership

__all__ = ["Connection", "ReconfigError", "SuperuserCredential", "read_membership", "reconfigure"]

CONNECT_TIMEOUT = 10.0


class ReconfigError(RuntimeError):
    """A reconfiguration that ZooKeeper refused; `reason` is stable for status and events."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


Access = Connection | SuperuserCredential | None


def connection_of(access: Access) -> Connection:
    """A plain superuser credential means a plain-text connection (clusters without TLS, tests)."""
    if isinstance(access, Connection):
        return access
    return Connection(access if access is not None else SuperuserCredential(""))


def _client(addresses: Sequence[str], access: Access, *, authenticate: bool = True) -> KazooClient:
    connection = connection_of(access)
    args = connection.kazoo_args()
    if not authenticate or not connection.credential.password:
        args.pop("auth_data")
    client = KazooClient(
        hosts=connection.hosts(list(addresses)),
        **args,
        timeout=CONNECT_TIMEOUT,
        connection_retry={"max_tries": 3, "delay": 0.2, "max_delay": 1.0},
    )
    client.start(timeout=CONNECT_TIMEOUT)
    return client


def _read(addresses: Sequence[str], access: Access = None) -> Membership:
    client = _client(addresses, access, authenticate=False)
    try:
        client.sync("/zookeeper/config")
        data, _ = client.get("/zookeeper/config")
        return parse_membership(data.decode())
    finally:
        client.stop()
        client.close()


async def read_membership(addresses: Sequence[str], access: Access = None) -> Membership:
    """The committed membership and its version, read (after a sync) through the given members."""
    return await asyncio.to_thread(_read, list(addresses), access)


def _reconfig(
    addresses: Sequence[str],
    access: Access,
    joining: Sequence[Member],
    leaving: Sequence[int],
    from_version: int,
) -> Membership:
    client = _client(addresses, access)
    try:
        if all(m.client_address for m in joining):
            data, _ = client.reconfig(
                joining=",".join(m.line for m in joining) or None,
                leaving=",".join(str(i) for i in leaving) or None,
                new_members=None,
                from_config=from_version,
            )
        else:
            # ZooKeeper's incremental form insists on a client address in a joining line ("each server
            # should have 3 ports specified"); with TLS nothing plain-text is advertised, so the change is
            # sent as the whole new membership, still compare-and-swapped on the version it was planned on.
            client.sync("/zookeeper/config")
            current = parse_membership(client.get("/zookeeper/config")[0].decode())
            if current.version != from_version:
                raise BadVersionError()
            changed = {m.id for m in joining} | set(leaving)
            members = [m for m in current.members if m.id not in changed] + list(joining)
            data, _ = client.reconfig(
                joining=None,
                leaving=None,
                new_members=",".join(m.line for m in sorted(members)),
                from_config=from_version,
            )
        return parse_membership(data.decode())
    except BadVersionError:
        raise ReconfigError(
            "StaleConfigVersion",
            f"membership changed since version {from_version:x}; observe again before reconfiguring",
        ) from None
    except NewConfigNoQuorumError:
        raise ReconfigError(
            "NoQuorumInNewConfig", "a majority of the new membership is not running and synced"
        ) from None
    except (ConnectionLoss, SessionExpiredError):
        # Removing the leader (or the member we talk to) drops the connection before the answer
        # arrives: the outcome is unknown, so read the committed membership and judge from it.
        return _settle(addresses, access, joining, leaving, from_version)
    except NoAuthError:
        raise ReconfigError(
            "NotAuthorized", "ZooKeeper refused the reconfig: superuser auth failed"
        ) from None
    finally:
        client.stop()
        client.close()


def _settle(
    addresses: Sequence[str],
    access: Access,
    joining: Sequence[Member],
    leaving: Sequence[int],
    from_version: int,
) -> Membership:
    deadline = time.monotonic() + 3 * CONNECT_TIMEOUT
    while True:
        try:
            current = _read(addresses, access)
        except (ConnectionLoss, SessionExpiredError, KazooTimeoutError):
            if time.monotonic() > deadline:
                raise ReconfigError(
                    "OutcomeUnknown", "lost the connection during reconfig and could not read back"
                ) from None
            time.sleep(0.5)
            continue
        applied = all(current.get(m.id) == m for m in joining) and not set(leaving) & set(current.ids)
        if applied and current.version != from_version:
            return current
        raise ReconfigError(
            "NotApplied", f"the connection dropped and membership is still version {current.version:x}"
        )


async def reconfigure(
    addresses: Sequence[str],
    access: Access,
    *,
    joining: Sequence[Member] = (),
    leaving: Sequence[int] = (),
    from_version: int,
) -> Membership:
    """Incremental reconfig with a compare-and-swap on `from_version`; returns the new membership.

    `access`: a Connection (TLS and superuser), or a bare SuperuserCredential for plain text.
    `addresses` should be members that stay: a client connected to a leaving member may see
    ConnectionLoss with the outcome unknown (see the shared notes).
    """
    if not joining and not leaving:
        raise ValueError("a reconfig needs members joining or leaving")
    return await asyncio.to_thread(
        _reconfig, list(addresses), access, list(joining), list(leaving), from_version
    )
