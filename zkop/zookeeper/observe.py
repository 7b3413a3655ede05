"""Reading the truth from running members: role, zxid, sync state and membership, with timeouts.

Sources (see the shared notes): the AdminServer's JSON commands `srvr` (role, zxid; an error while not
serving), `zabstate` (voting, Zab phase: `broadcast` means synced with the leader) and, on the leader,
`monitor` (synced follower counts); the four-letter word `conf` for the membership and its version.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp

from zkop.zookeeper.membership import (
    ADMIN_PORT,
    CLIENT_PORT,
    SECURE_CLIENT_PORT,
    Membership,
    MembershipError,
    parse_membership,
)

Role = Literal["leader", "follower", "observer", "down"]
DEFAULT_TIMEOUT = 3.0


@dataclass(frozen=True)
class MemberState:
    """One member as observed now. `role == "down"` covers unreachable, electing and syncing members."""

    id: int
    address: str
    role: Role = "down"
    zxid: int | None = None
    voting: bool | None = None
    zab_state: str | None = None
    error: str | None = None
    # Only on the leader:
    synced_followers: int | None = None
    synced_non_voting_followers: int | None = None
    synced_observers: int | None = None
    learners: int | None = None

    @property
    def serving(self) -> bool:
        return self.role != "down"

    @property
    def synced(self) -> bool:
        """Serving and in Zab's broadcast phase: it has the leader's history and takes part in commits."""
        return self.serving and self.zab_state == "broadcast"

    @property
    def zxid_hex(self) -> str | None:
        return None if self.zxid is None else f"0x{self.zxid:x}"


@dataclass(frozen=True)
class EnsembleState:
    """All members observed in one pass, and the membership as the ensemble itself reports it."""

    members: tuple[MemberState, ...]
    membership: Membership | None = None
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def leaders(self) -> tuple[MemberState, ...]:
        return tuple(m for m in self.members if m.role == "leader")

    @property
    def leader(self) -> MemberState | None:
        """The leader, when exactly one member says it leads (a removed leader may say so briefly)."""
        leaders = self.leaders
        return leaders[0] if len(leaders) == 1 else None

    def member(self, member_id: int) -> MemberState | None:
        return next((m for m in self.members if m.id == member_id), None)


@dataclass(frozen=True)
class Dial:
    """How to reach members: plain text, or TLS with zkop's client certificate (see connection.py)."""

    tls: ssl.SSLContext | None = None

    @property
    def admin_scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def client_port(self) -> int:
        return SECURE_CLIENT_PORT if self.tls else CLIENT_PORT


PLAIN = Dial()


async def _admin(
    session: aiohttp.ClientSession, address: str, command: str, dial: Dial = PLAIN
) -> dict[str, Any]:
    url = f"{dial.admin_scheme}://{address}:{ADMIN_PORT}/commands/{command}"
    async with session.get(url, ssl=dial.tls if dial.tls else True) as response:
        text = await response.text()
        if response.status != 200:
            raise RuntimeError(f"{command}: HTTP {response.status}")
        body: dict[str, Any] = json.loads(text)
        if body.get("error"):
            raise RuntimeError(f"{command}: {body['error']}")
        return body


async def four_letter_word(
    address: str, word: str, timeout: float = DEFAULT_TIMEOUT, dial: Dial = PLAIN
) -> str:
    """Send a four-letter word to the client port (over TLS when `dial` says so) and return the answer."""

    async def exchange() -> str:
        reader, writer = await asyncio.open_connection(address, dial.client_port, ssl=dial.tls)
        try:
            writer.write(word.encode())
            await writer.drain()
            return (await reader.read()).decode(errors="replace")
        finally:
            writer.close()

    return await asyncio.wait_for(exchange(), timeout)


def membership_from_conf(conf_output: str) -> Membership:
    """The membership part of `conf` output: its server.N lines and `version=` line."""
    wanted = [line for line in conf_output.splitlines() if line.startswith(("server.", "version="))]
    return parse_membership("\n".join(wanted))


async def observe_member(
    member_id: int, address: str, session: aiohttp.ClientSession, dial: Dial = PLAIN
) -> MemberState:
    """Observe one member; never raises: problems become `role="down"` with `error` set."""
    try:
        srvr = await _admin(session, address, "server_stats", dial)
        zab = await _admin(session, address, "zabstate", dial)
    except (TimeoutError, aiohttp.ClientError, RuntimeError, ValueError, OSError) as exc:
        return MemberState(member_id, address, error=str(exc) or type(exc).__name__)
    state_name = str(srvr.get("server_stats", {}).get("server_state", ""))
    role: Role = state_name if state_name in ("leader", "follower", "observer") else "down"  # type: ignore[assignment]
    zxid = srvr.get("server_stats", {}).get("last_processed_zxid")
    state = MemberState(
        id=member_id,
        address=address,
        role=role,
        zxid=int(zxid) if zxid is not None else None,
        voting=bool(zab.get("voting")),
        zab_state=str(zab.get("zabstate")),
    )
    if role == "leader":
        try:
            mon = await _admin(session, address, "monitor", dial)
        except (TimeoutError, aiohttp.ClientError, RuntimeError, ValueError, OSError) as exc:
            return MemberState(**{**state.__dict__, "error": f"monitor: {exc}"})
        state = MemberState(
            **{
                **state.__dict__,
                "synced_followers": int(mon.get("synced_followers", 0)),
                "synced_non_voting_followers": int(mon.get("synced_non_voting_followers", 0)),
                "synced_observers": int(mon.get("synced_observers", 0)),
                "learners": int(mon.get("learners", 0)),
            }
        )
    return state


async def observe_ensemble(
    addresses: Mapping[int, str | None], timeout: float = DEFAULT_TIMEOUT, *, dial: Dial = PLAIN
) -> EnsembleState:
    """Observe every member concurrently. A member without an address (pod not running) is down."""
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        known = {i: a for i, a in addresses.items() if a}
        observed = await asyncio.gather(*(observe_member(i, a, session, dial) for i, a in known.items()))
    states = {s.id: s for s in observed}
    for member_id, address in addresses.items():
        if not address:
            states[member_id] = MemberState(member_id, "", error="no address (pod not running)")
    members = tuple(states[i] for i in sorted(states))
    membership, errors = None, []
    # Ask serving members for the membership, leader first: it is the one that commits reconfigs.
    for candidate in sorted((m for m in members if m.serving), key=lambda m: m.role != "leader"):
        try:
            conf = await four_letter_word(candidate.address, "conf", timeout, dial)
            membership = membership_from_conf(conf)
            break
        except (TimeoutError, OSError, ssl.SSLError, MembershipError) as exc:
            errors.append(f"conf from member {candidate.id}: {exc or type(exc).__name__}")
    return EnsembleState(members, membership, tuple(errors))
