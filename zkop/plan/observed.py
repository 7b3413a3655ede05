"""What one reconcile pass observed, gathered in one value so every decision is a pure function of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from zkop.render.names import member_id_of_pod
from zkop.zookeeper.membership import Membership
from zkop.zookeeper.observe import EnsembleState


@dataclass(frozen=True)
class PodView:
    """The parts of a member pod zkop decides on."""

    name: str
    member_id: int
    ip: str | None
    phase: str
    ready: bool
    terminating: bool
    restart_hash: str | None
    waiting_reason: str | None = None
    restarts: int = 0

    @classmethod
    def of(cls, pod: dict[str, Any]) -> PodView | None:
        meta, status = pod.get("metadata", {}), pod.get("status") or {}
        member_id = member_id_of_pod(meta.get("name", ""))
        if member_id is None:
            return None
        conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        containers = status.get("containerStatuses") or []
        waiting = next(
            (
                c["state"]["waiting"].get("reason")
                for c in containers
                if (c.get("state") or {}).get("waiting")
            ),
            None,
        )
        return cls(
            name=meta["name"],
            member_id=member_id,
            ip=status.get("podIP"),
            phase=status.get("phase", "Pending"),
            ready=conditions.get("Ready") == "True",
            terminating=bool(meta.get("deletionTimestamp")),
            restart_hash=(meta.get("annotations") or {}).get("zkop.io/restart-hash"),
            waiting_reason=waiting,
            restarts=sum(int(c.get("restartCount", 0)) for c in containers),
        )


@dataclass(frozen=True)
class Observed:
    """Kubernetes objects and ZooKeeper state as seen at the start of a pass."""

    statefulset: dict[str, Any] | None = None
    config_map: dict[str, Any] | None = None
    pods: tuple[PodView, ...] = ()
    ensemble: EnsembleState | None = None
    rendered_membership: Membership | None = field(default=None)

    @property
    def statefulset_replicas(self) -> int | None:
        if self.statefulset is None:
            return None
        return int((self.statefulset.get("spec") or {}).get("replicas", 0))

    def pod(self, member_id: int) -> PodView | None:
        return next((p for p in self.pods if p.member_id == member_id), None)
