"""The status zkop reports: members, leader, and the Ready / Progressing / Degraded conditions. Pure.

Conditions follow the Kubernetes API conventions: `lastTransitionTime` changes only when `status` does,
and every condition carries the generation it was computed for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zkop.api.cluster import MemberStatus, ZookeeperClusterStatus
from zkop.api.common import Condition
from zkop.plan.observed import Observed
from zkop.render.names import ClusterNames
from zkop.zookeeper.membership import CLIENT_PORT, Membership


@dataclass(frozen=True)
class Verdict:
    """One condition's outcome before timestamps are attached."""

    status: str
    reason: str
    message: str


def _merge_condition(
    previous: list[Condition], type_: str, verdict: Verdict, generation: int | None, now: str
) -> Condition:
    old = next((c for c in previous if c.type == type_), None)
    transition = old.last_transition_time if old is not None and old.status == verdict.status else now
    return Condition(
        type=type_,
        status=verdict.status,  # type: ignore[arg-type]
        reason=verdict.reason,
        message=verdict.message,
        observed_generation=generation,
        last_transition_time=transition,
    )


def conditions(
    previous: list[Condition], verdicts: dict[str, Verdict], generation: int | None, now: str
) -> list[Condition]:
    return [_merge_condition(previous, t, v, generation, now) for t, v in verdicts.items()]


def wire_conditions(
    previous: list[dict[str, Any]], verdicts: dict[str, Verdict], generation: int | None, now: str
) -> list[dict[str, Any]]:
    """`conditions` for callers that keep status as plain dicts, as the API carries it."""
    before = []
    for raw in previous:
        try:
            before.append(Condition.model_validate(raw))
        except ValueError:
            continue  # a condition zkop cannot read is replaced
    return [c.to_wire() for c in conditions(before, verdicts, generation, now)]


def invalid_spec_verdicts(message: str) -> dict[str, Verdict]:
    return {
        "Ready": Verdict("False", "InvalidSpec", message),
        "Progressing": Verdict("False", "InvalidSpec", "waiting for the spec to be corrected"),
        "Degraded": Verdict("False", "InvalidSpec", "objects already running are left untouched"),
    }


def members(names: ClusterNames, membership: Membership | None, observed: Observed) -> list[MemberStatus]:
    ids = set(membership.ids if membership else ())
    ids |= {p.member_id for p in observed.pods}
    out = []
    for member_id in sorted(ids):
        pod = observed.pod(member_id)
        state = observed.ensemble.member(member_id) if observed.ensemble else None
        out.append(
            MemberStatus(
                id=member_id,
                pod=names.pod(member_id),
                address=pod.ip if pod else None,
                role=state.role if state else "down",
                zxid=state.zxid_hex if state else None,
                synced=bool(state and state.synced),
            )
        )
    return out


def ensemble_verdicts(
    spec_replicas: int,
    membership: Membership | None,
    member_list: list[MemberStatus],
    observed: Observed,
    pending: str | None,
    progress: Verdict | None = None,
) -> dict[str, Verdict]:
    """Ready / Progressing / Degraded from what the members say about themselves."""
    leaders = [m for m in member_list if m.role == "leader"]
    voters = {m.id for m in membership.voters} if membership else set(range(1, spec_replicas + 1))
    in_ensemble = [m for m in member_list if m.id in voters]
    down = [m.pod for m in in_ensemble if m.role == "down"]
    unsynced = [m.pod for m in in_ensemble if m.role != "down" and not m.synced]
    crashing = [
        p
        for p in observed.pods
        if p.waiting_reason in ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull")
    ]
    formed = len(leaders) == 1
    healthy = formed and not down and not unsynced
    if healthy and not pending:
        ready = Verdict(
            "True",
            "EnsembleReady",
            f"{len(in_ensemble)} members serving, leader {leaders[0].pod}, all followers synced",
        )
    elif healthy:
        ready = Verdict("True", "EnsembleReady", f"leader {leaders[0].pod}; {pending}")
    elif not formed and observed.statefulset is None:
        ready = Verdict("False", "Creating", "creating the ensemble's objects")
    elif not formed:
        waiting = ", ".join(down) or "members"
        ready = Verdict("False", "NoQuorum", f"no leader elected yet; waiting for {waiting}")
    else:
        parts = []
        if down:
            parts.append("down: " + ", ".join(down))
        if unsynced:
            parts.append("not synced: " + ", ".join(unsynced))
        ready = Verdict("False", "MembersNotReady", "; ".join(parts))

    if progress is not None:
        progressing = progress
    elif pending:
        progressing = Verdict("False", "SpecNotApplied", pending)
    elif healthy:
        progressing = Verdict("False", "Stable", "nothing to do")
    elif observed.statefulset is None or not any(p.ready for p in observed.pods):
        progressing = Verdict("True", "Creating", "waiting for the members to start and elect a leader")
    else:
        progressing = Verdict("True", "WaitingForMembers", ready.message)

    if crashing:
        details = ", ".join(f"{p.name} ({p.waiting_reason}, {p.restarts} restarts)" for p in crashing)
        degraded = Verdict("True", "MemberFailing", details)
    elif formed and (down or unsynced):
        degraded = Verdict("True", "MemberDown", ready.message)
    elif not formed and any(p.ready for p in observed.pods):
        degraded = Verdict("True", "QuorumLost", "members are running but no leader is elected")
    else:
        degraded = Verdict("False", "AsExpected", "no member is failing")
    return {"Ready": ready, "Progressing": progressing, "Degraded": degraded}


def connection_string(
    names: ClusterNames, membership: Membership | None, replicas: int, port: int = CLIENT_PORT
) -> str:
    ids = membership.ids if membership else tuple(range(1, replicas + 1))
    return ",".join(f"{names.member_host(i)}:{port}" for i in ids)


def ensemble_status(
    *,
    names: ClusterNames,
    previous: ZookeeperClusterStatus | None,
    generation: int | None,
    spec_replicas: int,
    membership: Membership | None,
    observed: Observed,
    pending: str | None,
    now: str,
    progress: Verdict | None = None,
    client_port: int = CLIENT_PORT,
) -> ZookeeperClusterStatus:
    member_list = members(names, membership, observed)
    verdicts = ensemble_verdicts(spec_replicas, membership, member_list, observed, pending, progress)
    leader = next((m.pod for m in member_list if m.role == "leader"), None)
    sts_status = (observed.statefulset or {}).get("status") or {}
    return ZookeeperClusterStatus(
        conditions=conditions(previous.conditions if previous else [], verdicts, generation, now),
        observed_generation=generation,
        replicas=int(sts_status.get("replicas", 0)),
        ready_replicas=int(sts_status.get("readyReplicas", 0)),
        members=member_list,
        leader=leader,
        config_version=membership.version_hex if membership and membership.version else None,
        connection_string=connection_string(names, membership, spec_replicas, client_port),
    )
