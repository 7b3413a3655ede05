"""Node lifecycle, simple version: pods on a lost node are force-deleted so that their controllers
(StatefulSet, ReplicaSet) recreate them.

A node is lost when its ``Ready`` condition is not ``True``, or when its heartbeat is stale: the newer
of the Lease ``kube-node-lease/<node>`` renewTime and the Ready condition's ``lastHeartbeatTime`` older
than ``monitor_grace``. A stale node is first marked ``Ready=Unknown`` (as Kubernetes does); once it
has been not-Ready for ``eviction_delay`` its pods are deleted with grace period 0. Kubernetes instead
taints the node and evicts pods after their ``node.kubernetes.io/not-ready`` toleration (300 s by
default) -- much too slow for a local demo of a lost ZooKeeper member.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from .actions import Action, Delete, Patch
from .loop import Controller
from .objects import Obj, format_time, is_terminating, name_of, namespace_of, parse_time, spec_of, status_of
from .resources import LEASE, NODE, POD

if TYPE_CHECKING:
    from lightkube import AsyncClient

    from .informer import Store

NODE_LEASE_NAMESPACE = "kube-node-lease"


def _ready_condition(node: Obj) -> dict[str, Any]:
    for cond in status_of(node).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return {}


def last_heartbeat(node: Obj, lease: Obj | None) -> dt.datetime | None:
    times = [parse_time(_ready_condition(node).get("lastHeartbeatTime"))]
    if lease is not None:
        times.append(parse_time(spec_of(lease).get("renewTime")))
    seen = [t for t in times if t is not None]
    return max(seen) if seen else None


def decide_node_lifecycle(
    nodes: list[Obj],
    leases: dict[str, Obj],
    pods_by_node: dict[str, list[Obj]],
    now: dt.datetime,
    monitor_grace: dt.timedelta,
    eviction_delay: dt.timedelta,
) -> list[list[Action]]:
    plans: list[list[Action]] = []
    for node in nodes:
        name = name_of(node)
        ready = _ready_condition(node)
        heartbeat = last_heartbeat(node, leases.get(name))
        if ready.get("status") == "True" and heartbeat is not None and now - heartbeat > monitor_grace:
            stamp = format_time(now)
            cond = {
                **ready,
                "status": "Unknown",
                "reason": "NodeStatusUnknown",
                "message": "Kubelet stopped posting node status.",
                "lastTransitionTime": stamp,
            }
            others = [c for c in status_of(node).get("conditions") or [] if c.get("type") != "Ready"]
            plans.append(
                [
                    Patch(
                        NODE,
                        "",
                        name,
                        {"status": {"conditions": [*others, cond]}},
                        subresource="status",
                        reason="heartbeat stale",
                    )
                ]
            )
            continue
        if not ready or ready.get("status") == "True":
            continue
        since = parse_time(ready.get("lastTransitionTime")) or now
        if now - since < eviction_delay:
            continue
        plans.extend(
            [Delete(POD, namespace_of(pod), name_of(pod), grace_period=0, reason=f"node {name} not ready")]
            for pod in pods_by_node.get(name, [])
            # A pod already terminating with grace 0 is gone; one with grace > 0 waits for a kubelet
            # that will never come, so it is force-deleted too.
            if not (is_terminating(pod) and int(pod["metadata"].get("deletionGracePeriodSeconds") or 0) == 0)
        )
    return plans


class NodeLifecycleController(Controller):
    name = "nodelifecycle"
    watches = (NODE, POD, LEASE)
    resync_seconds = 1.0

    def __init__(
        self,
        client: AsyncClient,
        store: Store,
        monitor_grace: dt.timedelta = dt.timedelta(seconds=40),
        eviction_delay: dt.timedelta = dt.timedelta(seconds=5),
    ) -> None:
        super().__init__(client, store)
        self.monitor_grace = monitor_grace
        self.eviction_delay = eviction_delay

    def plans(self, now: dt.datetime) -> list[list[Action]]:
        leases = {name_of(lease): lease for lease in self.store.list(LEASE, NODE_LEASE_NAMESPACE)}
        pods_by_node: dict[str, list[Obj]] = defaultdict(list)
        for pod in self.store.list(POD):
            node = spec_of(pod).get("nodeName")
            if node:
                pods_by_node[str(node)].append(pod)
        return decide_node_lifecycle(
            self.store.list(NODE), leases, pods_by_node, now, self.monitor_grace, self.eviction_delay
        )
