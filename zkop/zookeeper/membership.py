"""ZooKeeper's dynamic membership (`server.N=...` lines) as values: parse, format, compare. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

CLIENT_PORT = 2181
QUORUM_PORT = 2888
ELECTION_PORT = 3888
ADMIN_PORT = 8080
SECURE_CLIENT_PORT = 2281

Role = Literal["participant", "observer"]

_SERVER_LINE = re.compile(
    r"^server\.(?P<id>\d+)=(?P<host>[^:;\s]+):(?P<quorum>\d+):(?P<election>\d+)"
    r"(?::(?P<role>participant|observer))?(?:;(?P<client>\S+))?$"
)


class MembershipError(ValueError):
    """A membership text that ZooKeeper would not accept either."""


@dataclass(frozen=True, order=True)
class Member:
    """One server line: `server.<id>=<host>:<quorum>:<election>:<role>;<client address>`."""

    id: int
    host: str
    quorum_port: int = QUORUM_PORT
    election_port: int = ELECTION_PORT
    role: Role = "participant"
    # "" (the default): plain-text clients are served on the member's own address, advertised as such in
    # /zookeeper/config. None: the line names no client address. With TLS the client listener is
    # configured statically (secureClientPort) and nothing plain-text is advertised, so clients that
    # follow /zookeeper/config (Curator's ensemble tracker) are never sent to a plain-text port.
    client_address: str | None = ""

    def __post_init__(self) -> None:
        if self.client_address == "":
            object.__setattr__(self, "client_address", f"{self.host}:{CLIENT_PORT}")

    @property
    def line(self) -> str:
        line = f"server.{self.id}={self.host}:{self.quorum_port}:{self.election_port}:{self.role}"
        return f"{line};{self.client_address}" if self.client_address else line

    @property
    def spec(self) -> str:
        """The right-hand side of the line, as reconfig's `joining` argument wants it after `server.N=`."""
        return self.line.split("=", 1)[1]


@dataclass(frozen=True)
class Membership:
    """A whole configuration: members by id and ZooKeeper's config version (0 when not yet known)."""

    members: tuple[Member, ...]
    version: int = 0

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(m.id for m in self.members)

    @property
    def voters(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if m.role == "participant")

    @property
    def quorum_size(self) -> int:
        """How many voters must agree: a strict majority."""
        return len(self.voters) // 2 + 1

    def get(self, member_id: int) -> Member | None:
        return next((m for m in self.members if m.id == member_id), None)

    @property
    def version_hex(self) -> str:
        return format(self.version, "x")

    def dynamic_file(self) -> str:
        """The text of a dynamic config file (ZooKeeper refuses a `version=` line inside it)."""
        return "".join(f"{m.line}\n" for m in sorted(self.members))


def parse_membership(text: str) -> Membership:
    """Parse `/zookeeper/config` data or a dynamic config file (comments and blank lines ignored)."""
    members: dict[int, Member] = {}
    version = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("version="):
            try:
                version = int(line.split("=", 1)[1], 16)
            except ValueError:
                raise MembershipError(f"bad version line {line!r}") from None
            continue
        match = _SERVER_LINE.match(line)
        if not match:
            raise MembershipError(f"not a server line: {line!r}")
        member = Member(
            id=int(match["id"]),
            host=match["host"],
            quorum_port=int(match["quorum"]),
            election_port=int(match["election"]),
            role="observer" if match["role"] == "observer" else "participant",
            client_address=match["client"] or None,
        )
        if member.id in members:
            raise MembershipError(f"server.{member.id} appears twice")
        members[member.id] = member
    return Membership(tuple(sorted(members.values())), version)
