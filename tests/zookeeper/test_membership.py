"""Membership text: parse and format are inverse, and what ZooKeeper refuses is refused here too."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkop.zookeeper.membership import Member, Membership, MembershipError, parse_membership
from zkop.zookeeper.observe import membership_from_conf

CONF_OUTPUT = """clientPort=2181
dataDir=/data/data/version-2
serverId=2
membership:
server.1=zk-0.zk-headless.ns.svc.cluster.local:2888:3888:participant;zk-0.zk-headless.ns.svc.cluster.local:2181
server.2=zk-1.zk-headless.ns.svc.cluster.local:2888:3888:participant;zk-1.zk-headless.ns.svc.cluster.local:2181
server.3=zk-2.zk-headless.ns.svc.cluster.local:2888:3888:observer;0.0.0.0:2181
version=100000003
"""


def test_conf_output_yields_members_roles_and_version() -> None:
    membership = membership_from_conf(CONF_OUTPUT)
    assert membership.ids == (1, 2, 3)
    assert membership.version == 0x100000003
    assert [m.role for m in membership.members] == ["participant", "participant", "observer"]
    assert len(membership.voters) == 2 and membership.quorum_size == 2
    assert membership.get(3).client_address == "0.0.0.0:2181"  # type: ignore[union-attr]


def test_duplicates_and_garbage_are_refused() -> None:
    with pytest.raises(MembershipError):
        parse_membership("server.1=a:1:2\nserver.1=b:1:2")
    with pytest.raises(MembershipError):
        parse_membership("server.x=a:1:2")


def test_dynamic_file_never_carries_a_version_line() -> None:
    text = Membership((Member(1, "a"),), version=5).dynamic_file()
    assert "version" not in text and text.endswith("\n")


hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True)
members = st.builds(
    Member,
    id=st.integers(1, 255),
    host=hosts,
    quorum_port=st.integers(1, 65535),
    election_port=st.integers(1, 65535),
    role=st.sampled_from(["participant", "observer"]),
)


@given(st.lists(members, max_size=9, unique_by=lambda m: m.id), st.integers(0, 2**40))
def test_format_then_parse_is_identity(member_list: list[Member], version: int) -> None:
    membership = Membership(tuple(sorted(member_list)), version)
    text = membership.dynamic_file() + f"version={membership.version_hex}\n"
    assert parse_membership(text) == membership
