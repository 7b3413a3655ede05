"""ZooKeeper's dynamic reconfiguration, as zkop uses it: incremental, compare-and-swap, as superuser.

kazoo is synchronous (its own threads); the operator is asyncio, so calls run in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    ConnectionLoss,
    NewConfigNoQuorumError,
    NoAuthError,
    SessionExpiredError,
)
from kazoo.handlers.threading import KazooTimeoutError

from zkop.render.identity import SUPERUSER
from zkop.zookeeper.membership import CLIENT_PORT, Member, Membership, parse_membership

CONNECT_TIMEOUT = 10.0


class ReconfigError(RuntimeError):
    """A reconfiguration that ZooKeeper refused; `reason` is stable for status and events."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class SuperuserCredential:
    password: str

    def auth_data(self) -> list[tuple[str, str]]:
        return [("digest", f"{SUPERUSER}:{self.password}")]

    def __repr__(self) -> str:  # never let the password reach a log line
        return "SuperuserCredential(<redacted>)"


def _hosts(addresses: Sequence[str]) -> str:
    return ",".join(a if ":" in a else f"{a}:{CLIENT_PORT}" for a in addresses)


def _client(addresses: Sequence[str], credential: SuperuserCredential | None) -> KazooClient:
    client = KazooClient(
        hosts=_hosts(addresses),
        auth_data=credential.auth_data() if credential else None,
        timeout=CONNECT_TIMEOUT,
        connection_retry={"max_tries": 3, "delay": 0.2, "max_delay": 1.0},
    )
    client.start(timeout=CONNECT_TIMEOUT)
    return client


def _read(addresses: Sequence[str]) -> Membership:
    client = _client(addresses, None)
    try:
        client.sync("/zookeeper/config")
        data, _ = client.get("/zookeeper/config")
        return parse_membership(data.decode())
    finally:
        client.stop()
        client.close()


async def read_membership(addresses: Sequence[str]) -> Membership:
    """The committed membership and its version, read (after a sync) through the given members."""
    return await asyncio.to_thread(_read, list(addresses))


def _reconfig(
    addresses: Sequence[str],
    credential: SuperuserCredential | None,
    joining: Sequence[Member],
    leaving: Sequence[int],
    from_version: int,
) -> Membership:
    client = _client(addresses, credential)
    try:
        data, _ = client.reconfig(
            joining=",".join(m.line for m in joining) or None,
            leaving=",".join(str(i) for i in leaving) or None,
            new_members=None,
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
        return _settle(addresses, joining, leaving, from_version)
    except NoAuthError:
        raise ReconfigError(
            "NotAuthorized", "ZooKeeper refused the reconfig: superuser auth failed"
        ) from None
    finally:
        client.stop()
        client.close()


def _settle(
    addresses: Sequence[str], joining: Sequence[Member], leaving: Sequence[int], from_version: int
) -> Membership:
    deadline = time.monotonic() + 3 * CONNECT_TIMEOUT
    while True:
        try:
            current = _read(addresses)
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
    credential: SuperuserCredential | None,
    *,
    joining: Sequence[Member] = (),
    leaving: Sequence[int] = (),
    from_version: int,
) -> Membership:
    """Incremental reconfig with a compare-and-swap on `from_version`; returns the new membership.

    `addresses` should be members that stay: a client connected to a leaving member may see
    ConnectionLoss with the outcome unknown (see the shared notes).
    """
    if not joining and not leaving:
        raise ValueError("a reconfig needs members joining or leaving")
    return await asyncio.to_thread(
        _reconfig, list(addresses), credential, list(joining), list(leaving), from_version
    )
