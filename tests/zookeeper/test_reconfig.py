"""The reconfig primitive and the start script's membership rules, on real members."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.ensemble import LocalEnsemble, formed, observe, wait_for
from zkop.zookeeper.membership import Member
from zkop.zookeeper.reconfig import ReconfigError, SuperuserCredential, read_membership, reconfigure

pytestmark = pytest.mark.zookeeper


def hosts(ensemble: LocalEnsemble, ids: list[int]) -> list[str]:
    return [ensemble.address(i) for i in ids]


def test_reconfig_with_a_stale_version_is_refused_and_changes_nothing(ensemble: LocalEnsemble) -> None:
    state = wait_for(lambda: formed(ensemble), timeout=60, what="a formed ensemble")
    assert state.membership is not None
    with pytest.raises(ReconfigError) as refused:
        asyncio.run(
            reconfigure(
                hosts(ensemble, [1, 2]),
                ensemble.credential,
                leaving=[3],
                from_version=state.membership.version - 1,
            )
        )
    assert refused.value.reason == "StaleConfigVersion"
    assert asyncio.run(read_membership(hosts(ensemble, [1]))) == state.membership


def test_reconfig_without_the_superuser_credential_is_refused(ensemble: LocalEnsemble) -> None:
    state = wait_for(lambda: formed(ensemble), timeout=60, what="a formed ensemble")
    assert state.membership is not None
    for credential in (None, SuperuserCredential("not-the-password")):
        with pytest.raises(ReconfigError) as refused:
            asyncio.run(
                reconfigure(
                    hosts(ensemble, [1, 2]),
                    credential,
                    leaving=[3],
                    from_version=state.membership.version,
                )
            )
        assert refused.value.reason == "NotAuthorized"
    assert asyncio.run(read_membership(hosts(ensemble, [1]))).ids == (1, 2, 3)


def test_a_member_outside_the_membership_joins_as_non_voting_follower_then_is_voted_in(
    ensemble: LocalEnsemble,
) -> None:
    state = wait_for(lambda: formed(ensemble), timeout=60, what="a formed ensemble")
    assert state.membership is not None
    # Member 4 starts from the rendered membership {1,2,3}: the start script adds its own line.
    ensemble.start(4)
    joined = wait_for(
        lambda: (s := observe(ensemble, [1, 2, 3, 4])).member(4).synced and s,  # type: ignore[union-attr]
        timeout=40,
        what="member 4 to sync",
    )
    assert joined.member(4).voting is False  # type: ignore[union-attr]
    assert joined.membership is not None and joined.membership.ids == (1, 2, 3)

    after = asyncio.run(
        reconfigure(
            hosts(ensemble, [1, 2, 3]),
            ensemble.credential,
            joining=[Member(4, ensemble.names.member_host(4))],
            from_version=state.membership.version,
        )
    )
    assert after.ids == (1, 2, 3, 4)
    assert after.version > state.membership.version
    voted = wait_for(
        lambda: (s := observe(ensemble, [1, 2, 3, 4])).member(4).voting and s,  # type: ignore[union-attr]
        timeout=20,
        what="member 4 to vote",
    )
    assert voted.membership is not None and voted.membership.version == after.version


def test_a_restarted_member_starts_from_the_newest_membership_it_saw_not_the_rendered_one(
    ensemble: LocalEnsemble,
) -> None:
    state = wait_for(lambda: formed(ensemble), timeout=60, what="a formed ensemble")
    assert state.membership is not None
    # Remove member 3 while zkop's rendered ConfigMap still says {1,2,3} (version 0, older).
    after = asyncio.run(
        reconfigure(
            hosts(ensemble, [1, 2]), ensemble.credential, leaving=[3], from_version=state.membership.version
        )
    )
    assert after.ids == (1, 2)
    leader = wait_for(lambda: observe(ensemble, [1, 2]).leader, timeout=20, what="a leader of {1,2}")
    follower = 1 if leader.id == 2 else 2
    wait_for(
        lambda: (m := observe(ensemble, [1, 2]).membership) and m.version == after.version,
        timeout=20,
        what="the new membership everywhere",
    )
    ensemble.kill(follower)
    ensemble.start(follower)
    wait_for(
        lambda: observe(ensemble, [1, 2]).member(follower).synced,  # type: ignore[union-attr]
        timeout=30,
        what="the restarted member to rejoin",
    )
    assert f"from membership version {after.version_hex}" in ensemble.log(follower)
    assert asyncio.run(read_membership(hosts(ensemble, [follower]))).ids == (1, 2)


def test_a_second_member_joins_a_single_member_ensemble(tmp_path: Path) -> None:
    """The joiner lists itself as an observer: as a participant it would need two votes that one
    member cannot give, and would never find the leader."""
    solo = LocalEnsemble(tmp_path / "solo", replicas=1)
    solo.start_all()
    try:
        state = wait_for(
            lambda: (s := observe(solo, [1])).leader and s.membership and s, timeout=60, what="a leader"
        )
        solo.start(2)
        joined = wait_for(
            lambda: (s := observe(solo, [1, 2])).member(2).synced and s,  # type: ignore[union-attr]
            timeout=40,
            what="member 2 to sync as a non-voting follower",
        )
        assert joined.member(2).voting is False  # type: ignore[union-attr]
        after = asyncio.run(
            reconfigure(
                hosts(solo, [1]),
                solo.credential,
                joining=[Member(2, solo.names.member_host(2))],
                from_version=state.membership.version,
            )
        )
        assert [m.role for m in after.members] == ["participant", "participant"]
        wait_for(
            lambda: (s := observe(solo, [1, 2])).member(2).voting and s.leader,  # type: ignore[union-attr]
            timeout=20,
            what="a two-member quorum",
        )
    finally:
        solo.stop_all()
