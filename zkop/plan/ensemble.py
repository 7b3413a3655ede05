"""The next safe step for an ensemble: which membership and size to render, and at most one action.

Rules (each a pure function of what was observed, so a pass interrupted anywhere is finished by the next):
- Membership changes go one member at a time, through ZooKeeper's reconfig with a compare-and-swap on the
  config version, and only while every voting member is serving and synced with a leader.
- Scale up: create the pod, wait until it runs as a synced non-voting follower, then vote it in.
- Scale down: vote the highest id out through members that stay, and only then shrink the StatefulSet.
- Rolling restart: one member at a time, stale members that are already down first, then followers, the
  leader last; the next only once the restarted member is back and synced.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkop.api.cluster import ZookeeperClusterSpec
from zkop.plan.observed import Observed
from zkop.render import config
from zkop.render.names import ClusterNames
from zkop.zookeeper.membership import Member, Membership


@dataclass(frozen=True)
class Reconfig:
    """Change the voting membership by one member."""

    from_version: int
    through: tuple[int, ...]  # members to send it through: voters that stay
    joining: tuple[Member, ...] = ()
    leaving: tuple[int, ...] = ()


@dataclass(frozen=True)
class RestartMember:
    """Delete one member's pod; the StatefulSet recreates it from the current template."""

    pod: str
    member_id: int


Action = Reconfig | RestartMember


@dataclass(frozen=True)
class EnsemblePlan:
    membership: Membership | None  # None: the initial membership 1..replicas
    statefulset_replicas: int
    action: Action | None = None
    progress: str | None = None  # what is happening now (Progressing=True)
    pending: str | None = None  # what cannot happen now, and why (Progressing=False)
    reason: str = "Stable"  # the Progressing condition's reason


def newest_membership(observed: Observed) -> Membership | None:
    """ZooKeeper's own membership, unless zkop rendered a newer one than it reports (it never can be
    older than what ZooKeeper committed; a silent ensemble keeps what was rendered)."""
    reported = observed.ensemble.membership if observed.ensemble else None
    rendered = observed.rendered_membership
    if reported is None:
        return rendered
    if rendered is not None and rendered.version > reported.version:
        return rendered
    return reported


def _healthy(observed: Observed, voters: list[int]) -> str | None:
    """None when every voter serves and is synced under one leader; otherwise why not."""
    ensemble = observed.ensemble
    if ensemble is None or ensemble.leader is None:
        return "no leader"
    not_ready = [i for i in voters if not ((m := ensemble.member(i)) and m.synced)]
    if not_ready:
        return "waiting for member(s) " + ", ".join(map(str, not_ready)) + " to serve and sync"
    if ensemble.leader.id not in voters:
        return "the leader is not a voter"
    return None


def _synced(observed: Observed, member_id: int) -> bool:
    state = observed.ensemble.member(member_id) if observed.ensemble else None
    return bool(state and state.synced)


def _scale(
    spec: ZookeeperClusterSpec, observed: Observed, names: ClusterNames, membership: Membership, current: int
) -> EnsemblePlan | None:
    voters = sorted(m.id for m in membership.voters)
    target = spec.replicas
    if len(voters) < target:
        joining = min(set(range(1, target + 1)) - set(voters))
        replicas = max(current, joining)
        what = f"adding member {joining} ({len(voters)} -> {target} members)"
        if not _synced(observed, joining):
            return EnsemblePlan(
                membership, replicas, None, f"{what}: waiting for it to start and sync", reason="ScalingUp"
            )
        unhealthy = _healthy(observed, voters)
        if unhealthy:
            return EnsemblePlan(membership, replicas, None, f"{what}: {unhealthy}", reason="ScalingUp")
        member = config.member(spec, names, joining)
        action = Reconfig(membership.version, tuple(voters), joining=(member,))
        return EnsemblePlan(membership, replicas, action, f"{what}: voting it in", reason="ScalingUp")
    if len(voters) > target:
        leaving = voters[-1]
        staying = tuple(voters[:-1])
        what = f"removing member {leaving} ({len(voters)} -> {target} members)"
        unhealthy = _healthy(observed, voters)
        if unhealthy:
            return EnsemblePlan(membership, current, None, f"{what}: {unhealthy}", reason="ScalingDown")
        action = Reconfig(membership.version, staying, leaving=(leaving,))
        return EnsemblePlan(membership, current, action, f"{what}: voting it out", reason="ScalingDown")
    return None


def _roll(
    observed: Observed, membership: Membership, replicas: int, restart_hash: str
) -> EnsemblePlan | None:
    voters = sorted(m.id for m in membership.voters)
    stale = [p for p in observed.pods if p.restart_hash != restart_hash and not p.terminating]
    if not stale:
        return None
    total = len(voters)
    done = total - len(stale)
    if any(p.terminating for p in observed.pods) or len(observed.pods) < replicas:
        return EnsemblePlan(
            membership,
            replicas,
            None,
            f"restarting members ({done}/{total}): waiting for a pod",
            reason="RollingRestart",
        )
    ensemble = observed.ensemble
    leader = ensemble.leader.id if ensemble and ensemble.leader else None
    down = [p for p in stale if not _synced(observed, p.member_id)]
    if down:
        # A stale member that is down already: restarting it costs nothing, as long as the others hold a
        # quorum (with quorum lost zkop touches nothing).
        serving = [i for i in voters if _synced(observed, i)]
        if leader is None or len(serving) < membership.quorum_size:
            return EnsemblePlan(
                membership,
                replicas,
                None,
                None,
                "quorum lost: no member is restarted until it is back",
                reason="QuorumLost",
            )
        victim = down[0]
    else:
        unhealthy = _healthy(observed, voters)
        if unhealthy:
            return EnsemblePlan(
                membership,
                replicas,
                None,
                f"restarting members ({done}/{total}): {unhealthy}",
                reason="RollingRestart",
            )
        followers = sorted((p for p in stale if p.member_id != leader), key=lambda p: p.member_id)
        victim = followers[0] if followers else stale[0]
    step = f"restarting {victim.name} ({done + 1}/{total}), leader last"
    return EnsemblePlan(
        membership, replicas, RestartMember(victim.name, victim.member_id), step, reason="RollingRestart"
    )


def plan_ensemble(
    spec: ZookeeperClusterSpec, observed: Observed, names: ClusterNames, restart_hash: str
) -> EnsemblePlan:
    """The next step. At most one action per pass; the pass after it observes its effect."""
    current = observed.statefulset_replicas
    membership = newest_membership(observed)
    if current is None:
        return EnsemblePlan(membership, spec.replicas)
    if membership is None:
        return EnsemblePlan(
            None, current, None, None, "waiting for ZooKeeper to report its membership", reason="NoMembership"
        )
    scaling = _scale(spec, observed, names, membership, current)
    if scaling is not None:
        return scaling
    # Membership matches the spec: the StatefulSet follows it (this finishes a scale-down).
    replicas = max(m.id for m in membership.voters)
    if replicas != current:
        return EnsemblePlan(
            membership,
            replicas,
            None,
            f"resizing the StatefulSet from {current} to {replicas} pods",
            reason="ScalingDown" if replicas < current else "ScalingUp",
        )
    rolling = _roll(observed, membership, replicas, restart_hash)
    if rolling is not None:
        return rolling
    return EnsemblePlan(membership, replicas)
