"""The day-2 planner: one member at a time, never below quorum, leader last. Pure, so every rule is
checked against generated observations."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zkop.api.validation import parse_cluster
from zkop.plan.ensemble import Reconfig, RestartMember, plan_ensemble
from zkop.plan.observed import Observed, PodView
from zkop.plan.version import downgrade_refusal, image_version
from zkop.render.names import ClusterNames
from zkop.zookeeper.membership import Member, Membership
from zkop.zookeeper.observe import EnsembleState, MemberState

HASH = "current"
NAMES = ClusterNames("zk", "ns", "cluster.local")


def spec(replicas: int, **extra: object) -> object:
    return parse_cluster(
        {"metadata": {"name": "zk", "namespace": "ns"}, "spec": {"replicas": replicas, **extra}}
    ).spec


def membership(ids: list[int], version: int = 0x100000000) -> Membership:
    return Membership(tuple(Member(i, NAMES.member_host(i)) for i in ids), version)


def world(
    voters: list[int],
    pods: list[int],
    *,
    sts: int | None = None,
    leader: int | None = None,
    down: tuple[int, ...] = (),
    stale: tuple[int, ...] = (),
    terminating: tuple[int, ...] = (),
    non_voting: tuple[int, ...] = (),
) -> Observed:
    ids = sorted(set(voters) | set(pods))
    leader = leader if leader is not None else next((i for i in voters if i not in down), None)
    states = []
    for i in ids:
        if i in down or i not in pods:
            states.append(MemberState(i, f"10.0.0.{i}"))
            continue
        role = "leader" if i == leader else "follower"
        states.append(MemberState(i, f"10.0.0.{i}", role, 0x100000005, i not in non_voting, "broadcast"))  # type: ignore[arg-type]
    views = tuple(
        PodView(
            NAMES.pod(i),
            i,
            f"10.0.0.{i}",
            "Running",
            i not in down,
            i in terminating,
            "old" if i in stale else HASH,
        )
        for i in pods
    )
    m = membership(voters)
    statefulset = {"spec": {"replicas": sts if sts is not None else max(pods or [0])}}
    return Observed(statefulset, None, views, EnsembleState(tuple(states), m), m)


def test_steady_ensemble_needs_nothing() -> None:
    plan = plan_ensemble(spec(3), world([1, 2, 3], [1, 2, 3]), NAMES, HASH)
    assert plan.action is None and plan.progress is None and plan.statefulset_replicas == 3


def test_scale_up_first_creates_the_pod_then_waits_for_it_to_sync() -> None:
    plan = plan_ensemble(spec(4), world([1, 2, 3], [1, 2, 3]), NAMES, HASH)
    assert plan.statefulset_replicas == 4 and plan.action is None
    assert plan.progress == "adding member 4 (3 -> 4 members): waiting for it to start and sync"
    waiting = plan_ensemble(spec(4), world([1, 2, 3], [1, 2, 3, 4], down=(4,)), NAMES, HASH)
    assert waiting.action is None and waiting.statefulset_replicas == 4


def test_a_synced_non_voting_follower_is_voted_in_with_a_compare_and_swap() -> None:
    observed = world([1, 2, 3], [1, 2, 3, 4], non_voting=(4,))
    plan = plan_ensemble(spec(5), observed, NAMES, HASH)
    assert plan.action == Reconfig(
        0x100000000, (1, 2, 3), joining=(Member(4, NAMES.member_host(4), client_address=None),)
    )
    assert plan.reason == "ScalingUp"


def test_scale_down_votes_the_highest_id_out_through_members_that_stay_then_shrinks() -> None:
    plan = plan_ensemble(spec(3), world([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]), NAMES, HASH)
    assert plan.action == Reconfig(0x100000000, (1, 2, 3, 4), leaving=(5,))
    assert plan.statefulset_replicas == 5  # the pod stays until the reconfig is committed
    after = plan_ensemble(spec(3), world([1, 2, 3, 4], [1, 2, 3, 4, 5]), NAMES, HASH)
    assert after.action == Reconfig(0x100000000, (1, 2, 3), leaving=(4,))
    done = plan_ensemble(spec(3), world([1, 2, 3], [1, 2, 3, 4, 5]), NAMES, HASH)
    assert done.action is None and done.statefulset_replicas == 3


def test_no_membership_change_while_a_member_is_down_or_unsynced() -> None:
    for observed in (
        world([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], down=(2,)),
        world([1, 2, 3], [1, 2, 3, 4], down=(3,), non_voting=(4,)),
    ):
        for replicas in (3, 5):
            assert plan_ensemble(spec(replicas), observed, NAMES, HASH).action is None


def test_rolling_restart_goes_follower_by_follower_and_the_leader_last() -> None:
    stale = (1, 2, 3)
    first = plan_ensemble(spec(3), world([1, 2, 3], [1, 2, 3], leader=1, stale=stale), NAMES, HASH)
    assert first.action == RestartMember("zk-1", 2)
    assert first.progress == "restarting zk-1 (1/3), leader last"
    second = plan_ensemble(spec(3), world([1, 2, 3], [1, 2, 3], leader=1, stale=(1, 3)), NAMES, HASH)
    assert second.action == RestartMember("zk-2", 3)
    last = plan_ensemble(spec(3), world([1, 2, 3], [1, 2, 3], leader=1, stale=(1,)), NAMES, HASH)
    assert last.action == RestartMember("zk-0", 1)
    assert last.progress == "restarting zk-0 (3/3), leader last"


def test_a_roll_waits_for_the_restarted_member_to_come_back_and_sync() -> None:
    gone = world([1, 2, 3], [1, 3], leader=1, stale=(1, 3), sts=3)
    assert plan_ensemble(spec(3), gone, NAMES, HASH).action is None
    starting = world([1, 2, 3], [1, 2, 3], leader=1, stale=(1, 3), down=(2,))
    plan = plan_ensemble(spec(3), starting, NAMES, HASH)
    assert plan.action is None and plan.reason == "RollingRestart"
    terminating = world([1, 2, 3], [1, 2, 3], leader=1, stale=(1, 3), terminating=(2,))
    assert plan_ensemble(spec(3), terminating, NAMES, HASH).action is None


def test_a_stale_member_that_is_already_down_is_restarted_first() -> None:
    observed = world([1, 2, 3], [1, 2, 3], leader=1, stale=(1, 2, 3), down=(3,))
    assert plan_ensemble(spec(3), observed, NAMES, HASH).action == RestartMember("zk-2", 3)


def test_with_quorum_lost_nothing_is_restarted() -> None:
    observed = world([1, 2, 3], [1, 2, 3], stale=(1, 2, 3), down=(2, 3))
    plan = plan_ensemble(spec(3), observed, NAMES, HASH)
    assert plan.action is None and plan.reason == "QuorumLost"


def test_downgrade_across_minor_versions_is_refused_unless_allowed() -> None:
    sts = {
        "spec": {"template": {"spec": {"containers": [{"name": "zookeeper", "image": "zookeeper:3.9.3"}]}}}
    }
    cluster = parse_cluster({"metadata": {"name": "zk"}, "spec": {"image": "zookeeper:3.8.4"}})
    message = downgrade_refusal(sts, cluster)
    assert message and message.startswith(
        "spec.image: zookeeper:3.8.4 would downgrade ZooKeeper from 3.9 to 3.8"
    )
    allowed = parse_cluster(
        {
            "metadata": {"name": "zk", "annotations": {"zkop.io/allow-downgrade": "true"}},
            "spec": {"image": "zookeeper:3.8.4"},
        }
    )
    assert downgrade_refusal(sts, allowed) is None
    patch_down = parse_cluster({"metadata": {"name": "zk"}, "spec": {"image": "zookeeper:3.9.2"}})
    assert downgrade_refusal(sts, patch_down) is None
    assert image_version("registry.example/zookeeper:3.8.4-jre-17") == (3, 8, 4)
    assert image_version("zookeeper@sha256:abc") is None


def _quorum_survives(observed: Observed, action: object) -> bool:
    """After the action, a majority of the (new) voters is still serving."""
    ensemble = observed.ensemble
    assert ensemble is not None and ensemble.membership is not None
    voters = {m.id for m in ensemble.membership.voters}
    serving = {m.id for m in ensemble.members if m.synced}
    if isinstance(action, Reconfig):
        voters = (voters | {m.id for m in action.joining}) - set(action.leaving)
        serving -= set(action.leaving)
    if isinstance(action, RestartMember):
        if len(voters) <= 2:
            return (
                True  # one or two voters tolerate no failure: any restart pauses them, by the user's choice
            )
        serving.discard(action.member_id)
    return len(serving & voters) >= len(voters) // 2 + 1


@settings(max_examples=300, deadline=None)
@given(
    voters=st.integers(1, 7).map(lambda n: list(range(1, n + 1))),
    extra_pods=st.integers(0, 2),
    target=st.integers(1, 9),
    down=st.sets(st.integers(1, 9), max_size=3),
    stale=st.sets(st.integers(1, 9), max_size=9),
    leader_pick=st.integers(0, 8),
)
def test_no_planned_action_ever_leaves_the_new_configuration_without_quorum(
    voters: list[int], extra_pods: int, target: int, down: set[int], stale: set[int], leader_pick: int
) -> None:
    pods = list(range(1, len(voters) + extra_pods + 1))
    up = [i for i in voters if i not in down]
    leader = up[leader_pick % len(up)] if up and len(up) >= len(voters) // 2 + 1 else None
    observed = world(voters, pods, leader=leader, down=tuple(down), stale=tuple(stale))
    if leader is None:
        observed = Observed(
            observed.statefulset,
            None,
            observed.pods,
            EnsembleState(
                tuple(MemberState(m.id, m.address) for m in observed.ensemble.members),  # type: ignore[union-attr]
                observed.ensemble.membership,
            ),
            observed.rendered_membership,
        )  # type: ignore[union-attr]
    plan = plan_ensemble(spec(target), observed, NAMES, HASH)
    action = plan.action
    if action is None:
        return
    assert _quorum_survives(observed, action), (plan, down, leader)
    if isinstance(action, Reconfig):
        assert len(action.joining) + len(action.leaving) == 1  # one member at a time
        assert not set(action.leaving) & set(action.through)  # sent through members that stay
        assert leader is not None
    if isinstance(action, RestartMember) and action.member_id == leader:
        # the leader goes only when every other stale member is done
        assert not [p for p in observed.pods if p.restart_hash != HASH and p.member_id != leader]
