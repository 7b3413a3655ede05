"""The ZooKeeper layer against real members started from the rendered configuration."""

from __future__ import annotations

import time

import pytest
from kazoo.client import KazooClient

from tests.support.ensemble import LocalEnsemble, formed, observe, wait_for

pytestmark = pytest.mark.zookeeper


def test_observes_one_leader_synced_followers_and_the_rendered_membership(ensemble: LocalEnsemble) -> None:
    state = wait_for(lambda: formed(ensemble), timeout=60, what="a formed ensemble")
    roles = sorted(m.role for m in state.members)
    assert roles == ["follower", "follower", "leader"]
    leader = state.leader
    assert leader is not None
    assert leader.synced_followers == 2
    assert all(m.voting for m in state.members)
    assert state.membership is not None
    assert state.membership.ids == (1, 2, 3)
    assert state.membership.version > 0
    assert [m.host for m in state.membership.members] == [ensemble.names.member_host(i) for i in (1, 2, 3)]


def test_zxid_follows_writes_on_every_member(ensemble: LocalEnsemble) -> None:
    wait_for(lambda: formed(ensemble), timeout=60, what="a formed ensemble")
    client = KazooClient(hosts=ensemble.address(1) + ":2181")
    client.start(timeout=15)
    try:
        client.create("/zxid-probe", b"x")
        written = client.exists("/zxid-probe").mzxid
    finally:
        client.stop()
        client.close()
    state = wait_for(
        lambda: (s := observe(ensemble)) and all((m.zxid or 0) >= written for m in s.members) and s,
        timeout=15,
        what="every member to apply the write",
    )
    assert all(m.zxid_hex and int(m.zxid_hex, 16) >= written for m in state.members)


def test_killing_the_leader_is_seen_within_seconds(ensemble: LocalEnsemble) -> None:
    state = wait_for(lambda: formed(ensemble), timeout=60, what="a formed ensemble")
    assert state.leader is not None
    old = state.leader.id
    ensemble.kill(old)
    started = time.monotonic()
    down = wait_for(
        lambda: (s := observe(ensemble)).member(old) and not s.member(old).serving and s,  # type: ignore[union-attr]
        timeout=10,
        what="the killed leader to be seen down",
    )
    assert time.monotonic() - started < 5
    assert down.member(old).error  # type: ignore[union-attr]
    survivors = [i for i in (1, 2, 3) if i != old]
    new_state = wait_for(
        lambda: (s := observe(ensemble, survivors)).leader and s, timeout=20, what="a new leader"
    )
    assert new_state.leader is not None and new_state.leader.id != old
