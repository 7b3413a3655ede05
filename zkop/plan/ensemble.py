"""Which membership and how many pods to render this pass.

Issue scope: a new ensemble gets members 1..spec.replicas. Once it exists, zkop renders the membership the
ensemble itself reports (so a restarting member never starts from an older one), and keeps the
StatefulSet's size: changing membership is the scaling planner's job, one member at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

from zkop.api.cluster import ZookeeperClusterSpec
from zkop.plan.observed import Observed
from zkop.zookeeper.membership import Membership


@dataclass(frozen=True)
class EnsemblePlan:
    membership: Membership | None  # None: the initial membership 1..replicas
    statefulset_replicas: int
    pending: str | None = None  # a spec change this pass does not act on, and why


def plan_ensemble(spec: ZookeeperClusterSpec, observed: Observed) -> EnsemblePlan:
    current = observed.statefulset_replicas
    membership = observed.ensemble.membership if observed.ensemble else None
    if membership is None or (
        observed.rendered_membership is not None and observed.rendered_membership.version > membership.version
    ):
        # ZooKeeper did not answer this pass: keep what was rendered rather than guess.
        membership = observed.rendered_membership
    if current is None:
        return EnsemblePlan(membership, spec.replicas)
    pending = None
    if current != spec.replicas:
        pending = (
            f"spec.replicas is {spec.replicas} but the ensemble has {current} members: "
            "membership changes are not performed by this zkop version"
        )
    return EnsemblePlan(membership, current, pending)
