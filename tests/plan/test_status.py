"""Status: which member leads, whether followers are synced, and conditions by the API conventions."""

from __future__ import annotations

from zkop.api.cluster import ZookeeperClusterStatus
from zkop.api.validation import parse_cluster
from zkop.plan.ensemble import newest_membership, plan_ensemble
from zkop.plan.observed import Observed, PodView
from zkop.plan.status import ensemble_status
from zkop.render.names import ClusterNames, RenderOptions
from zkop.zookeeper.membership import Member, Membership
from zkop.zookeeper.observe import EnsembleState, MemberState

CLUSTER = parse_cluster({"metadata": {"name": "zk", "namespace": "ns"}, "spec": {"replicas": 3}})
NAMES = ClusterNames.of(CLUSTER, RenderOptions())
MEMBERSHIP = Membership(tuple(Member(i, NAMES.member_host(i)) for i in (1, 2, 3)), version=0x100000000)
STS = {"spec": {"replicas": 3}, "status": {"replicas": 3, "readyReplicas": 3}}


def pod(i: int, ready: bool = True, waiting: str | None = None) -> PodView:
    return PodView(NAMES.pod(i), i, f"10.0.0.{i}", "Running", ready, False, "h", waiting, 0)


def member(i: int, role: str = "follower", zab: str = "broadcast") -> MemberState:
    return MemberState(i, f"10.0.0.{i}", role, 0x100000005, True, zab)  # type: ignore[arg-type]


def status(
    members: list[MemberState],
    previous: ZookeeperClusterStatus | None = None,
    now: str = "2026-11-22T01:00:00Z",
    pods: list[PodView] | None = None,
) -> ZookeeperClusterStatus:
    observed = Observed(
        STS,
        None,
        tuple(pods or [pod(i) for i in (1, 2, 3)]),
        EnsembleState(tuple(members), MEMBERSHIP),
        MEMBERSHIP,
    )
    plan = plan_ensemble(CLUSTER.spec, observed, NAMES, "h")
    return ensemble_status(
        names=NAMES,
        previous=previous,
        generation=4,
        spec_replicas=3,
        membership=plan.membership,
        observed=observed,
        pending=plan.pending,
        now=now,
    )


def condition(s: ZookeeperClusterStatus, type_: str) -> tuple[str, str]:
    c = next(c for c in s.conditions if c.type == type_)
    return c.status, c.reason


def test_healthy_ensemble_is_ready_names_the_leader_and_every_synced_follower() -> None:
    s = status([member(1), member(2, "leader"), member(3)])
    assert s.leader == "zk-1"
    assert condition(s, "Ready") == ("True", "EnsembleReady")
    assert condition(s, "Progressing") == ("False", "Stable")
    assert condition(s, "Degraded") == ("False", "AsExpected")
    assert [(m.pod, m.role, m.synced, m.zxid) for m in s.members] == [
        ("zk-0", "follower", True, "0x100000005"),
        ("zk-1", "leader", True, "0x100000005"),
        ("zk-2", "follower", True, "0x100000005"),
    ]
    assert s.config_version == "100000000"
    assert s.observed_generation == 4 and all(c.observed_generation == 4 for c in s.conditions)
    assert s.connection_string == ",".join(f"zk-{i}.zk-headless.ns.svc.cluster.local:2181" for i in range(3))


def test_a_syncing_follower_makes_the_ensemble_not_ready_and_degraded() -> None:
    s = status([member(1, zab="synchronization"), member(2, "leader"), member(3)])
    assert condition(s, "Ready") == ("False", "MembersNotReady")
    assert "not synced: zk-0" in next(c.message for c in s.conditions if c.type == "Ready")
    assert condition(s, "Degraded") == ("True", "MemberDown")


def test_no_leader_means_no_quorum() -> None:
    s = status([MemberState(1, "a"), MemberState(2, "b"), member(3)])
    assert condition(s, "Ready") == ("False", "NoQuorum")
    assert s.leader is None


def test_a_crashing_member_is_reported_with_its_pod_and_reason() -> None:
    pods = [pod(1), pod(2), pod(3, ready=False, waiting="CrashLoopBackOff")]
    s = status([member(1), member(2, "leader"), MemberState(3, "c", error="refused")], pods=pods)
    assert condition(s, "Degraded") == ("True", "MemberFailing")
    assert "zk-2 (CrashLoopBackOff" in next(c.message for c in s.conditions if c.type == "Degraded")


def test_transition_time_changes_only_when_the_condition_status_does() -> None:
    first = status([member(1), member(2, "leader"), member(3)], now="2026-11-22T01:00:00Z")
    same = status([member(1), member(2, "leader"), member(3)], previous=first, now="2026-11-22T02:00:00Z")
    assert same.to_wire() == first.to_wire()  # nothing changed: nothing to write
    down = status(
        [member(1), member(2, "leader"), MemberState(3, "c")], previous=first, now="2026-11-22T03:00:00Z"
    )
    ready = next(c for c in down.conditions if c.type == "Ready")
    progressing = next(c for c in down.conditions if c.type == "Progressing")
    assert ready.last_transition_time == "2026-11-22T03:00:00Z"
    assert progressing.status == "True" and progressing.last_transition_time == "2026-11-22T03:00:00Z"


def test_the_newest_membership_wins_between_zookeeper_and_the_rendered_one() -> None:
    newer = Membership(MEMBERSHIP.members[:2], version=0x100000009)
    observed = Observed(STS, None, (), EnsembleState((), newer), MEMBERSHIP)
    assert newest_membership(observed) == newer
    silent = Observed(STS, None, (), EnsembleState((), None), MEMBERSHIP)
    assert newest_membership(silent) == MEMBERSHIP
