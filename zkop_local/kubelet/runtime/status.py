"""Container and pod status in the shape of the Kubernetes API (core/v1 PodStatus)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ContainerTracker:
    """Mutable status of one container (or init container)."""

    name: str
    image: str
    image_id: str = ""
    container_id: str = ""
    restart_count: int = 0
    state: dict[str, Any] = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: dict[str, Any] = field(default_factory=dict)
    ready: bool = False
    started: bool = False
    done: bool = False  # terminated and will not be restarted
    ever_ran: bool = False

    def waiting(self, reason: str, message: str | None = None) -> None:
        self.state = {"waiting": {"reason": reason, **({"message": message} if message else {})}}
        self.ready = False
        self.started = False

    def running(self, container_id: str, image_id: str, started_at: str) -> None:
        if self.ever_ran:
            self.restart_count += 1
        if "terminated" in self.state:
            self.last_state = {"terminated": self.state["terminated"]}
        self.ever_ran = True
        self.container_id = container_id
        self.image_id = image_id
        self.state = {"running": {"startedAt": started_at}}
        self.ready = False
        self.started = False

    def terminated(
        self,
        exit_code: int,
        sig: int | None,
        started_at: str | None,
        message: str | None,
        reason: str | None = None,
    ) -> None:
        term: dict[str, Any] = {
            "exitCode": exit_code,
            "reason": reason or ("Completed" if exit_code == 0 else "Error"),
            "startedAt": started_at,
            "finishedAt": now(),
            "containerID": self.container_id,
        }
        if sig is not None:
            term["signal"] = sig
        if message:
            term["message"] = message
        self.state = {"terminated": term}
        self.ready = False
        self.started = False

    def crash_loop(self, delay: float, pod_ref: str) -> None:
        """Between a termination and the restart: waiting CrashLoopBackOff, the termination in lastState."""
        if "terminated" in self.state:
            self.last_state = {"terminated": self.state["terminated"]}
        self.state = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off {delay:g}s restarting failed container={self.name} pod={pod_ref}",
            }
        }
        self.ready = False
        self.started = False

    def to_api(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "name": self.name,
            "image": self.image,
            "imageID": self.image_id,
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.container_id:
            status["containerID"] = self.container_id
        return status


@dataclass
class Conditions:
    """Pod conditions that keep lastTransitionTime until the status actually changes."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def set(self, kind: str, ok: bool, reason: str | None = None, message: str | None = None) -> None:
        status = "True" if ok else "False"
        current = self.items.get(kind)
        transition = current["lastTransitionTime"] if current and current["status"] == status else now()
        cond: dict[str, Any] = {
            "type": kind,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": transition,
        }
        if not ok and reason:
            cond["reason"] = reason
        if not ok and message:
            cond["message"] = message
        self.items[kind] = cond

    def to_api(self) -> list[dict[str, Any]]:
        order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
        return [self.items[k] for k in order if k in self.items]


def pod_phase(init: list[ContainerTracker], containers: list[ContainerTracker], restart_policy: str) -> str:
    if any(t.done and "terminated" in t.state and t.state["terminated"]["exitCode"] != 0 for t in init):
        return "Failed"
    if not all(t.done for t in init):
        return "Pending"
    if containers and all(t.done for t in containers):
        if all(t.state.get("terminated", {}).get("exitCode", 1) == 0 for t in containers):
            return "Succeeded"
        return "Failed"
    if any("running" in t.state or t.ever_ran for t in containers):
        return "Running"
    return "Pending"
