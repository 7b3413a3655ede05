"""Deployment and ReplicaSet controllers: enough to run the operator itself as a pod.

A Deployment owns one ReplicaSet per distinct pod template (named ``<deploy>-<pod-template-hash>``);
the ReplicaSet owns interchangeable pods (generateName ``<rs>-``). Rolling updates honour maxSurge and
maxUnavailable but without the proportional scaling Kubernetes does across several old ReplicaSets.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from typing import Any

from .actions import Action, Create, Delete, Patch
from .hashing import template_hash
from .loop import Controller
from .objects import (
    Obj,
    annotations_of,
    deep,
    format_time,
    is_pod_active,
    is_pod_available,
    is_pod_finished,
    is_running_and_ready,
    is_terminating,
    labels_of,
    meta,
    name_of,
    namespace_of,
    owner_ref,
    selector_matches,
    spec_of,
    status_of,
)
from .ownership import claim_objects
from .resources import DEPLOYMENT, POD, REPLICASET

TEMPLATE_HASH_LABEL = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


def _replicas(obj: Obj) -> int:
    r = spec_of(obj).get("replicas")
    return 1 if r is None else int(r)


def _template_without_hash(template: dict[str, Any]) -> dict[str, Any]:
    t = deep(template)
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(TEMPLATE_HASH_LABEL, None)
    return dict(t)


# --- ReplicaSet -------------------------------------------------------------------------------------------


def new_replica_pod(rs: Obj) -> Obj:
    template = spec_of(rs).get("template") or {}
    tmeta = template.get("metadata") or {}
    metadata: dict[str, Any] = {
        "generateName": f"{name_of(rs)}-",
        "namespace": namespace_of(rs),
        "labels": dict(tmeta.get("labels") or {}),
        "ownerReferences": [owner_ref(rs)],
    }
    if tmeta.get("annotations"):
        metadata["annotations"] = dict(tmeta["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": deep(template.get("spec") or {})}


def _deletion_rank(pod: Obj) -> tuple[int, int, str]:
    # Kubernetes deletes the least valuable pods first: unscheduled, then not running, then not
    # ready, then the youngest. Newest-first by creationTimestamp keeps older, warmed-up pods.
    phase = status_of(pod).get("phase") or ""
    return (
        0 if not spec_of(pod).get("nodeName") else 1,
        {"Pending": 0, "Unknown": 1, "Running": 2}.get(phase, 0) + (1 if is_running_and_ready(pod) else 0),
        "".join(chr(255 - ord(c)) for c in str(meta(pod).get("creationTimestamp") or "")),
    )


def decide_replicaset(rs: Obj, pods: list[Obj], now: dt.datetime) -> list[Action]:
    if is_terminating(rs):
        return []
    selector = spec_of(rs).get("selector")
    owned, actions = claim_objects(rs, POD, pods, lambda labels: selector_matches(selector, dict(labels)))
    ns = namespace_of(rs)
    # Finished pods never come back under a ReplicaSet; Kubernetes leaves them to the pod GC,
    # here they are removed at once so that they do not pile up.
    for pod in owned:
        if is_pod_finished(pod) and not is_terminating(pod):
            actions.append(Delete(POD, ns, name_of(pod), reason="finished pod"))
    active = [p for p in owned if is_pod_active(p)]
    diff = _replicas(rs) - len(active)
    if diff > 0:
        actions += [Create(POD, new_replica_pod(rs), reason="scale up") for _ in range(diff)]
    elif diff < 0:
        for pod in sorted(active, key=_deletion_rank)[:-diff]:
            actions.append(Delete(POD, ns, name_of(pod), reason="scale down"))
    min_ready = int(spec_of(rs).get("minReadySeconds") or 0)
    template_labels = ((spec_of(rs).get("template") or {}).get("metadata") or {}).get("labels") or {}
    status = {
        "replicas": len(active),
        "fullyLabeledReplicas": sum(
            1 for p in active if all(labels_of(p).get(k) == v for k, v in template_labels.items())
        ),
        "readyReplicas": sum(1 for p in active if is_running_and_ready(p)),
        "availableReplicas": sum(1 for p in active if is_pod_available(p, min_ready, now)),
        "observedGeneration": meta(rs).get("generation", 0),
    }
    old = status_of(rs)
    changed = {k: v for k, v in status.items() if old.get(k, 0) != v}
    if changed:
        actions.append(Patch(REPLICASET, ns, name_of(rs), {"status": changed}, subresource="status"))
    return actions


class ReplicaSetController(Controller):
    name = "replicaset"
    watches = (REPLICASET, POD)

    def plans(self, now: dt.datetime) -> list[list[Action]]:
        pods_by_ns: dict[str, list[Obj]] = defaultdict(list)
        for pod in self.store.list(POD):
            pods_by_ns[namespace_of(pod)].append(pod)
        return [
            decide_replicaset(rs, pods_by_ns[namespace_of(rs)], now) for rs in self.store.list(REPLICASET)
        ]


# --- Deployment -------------------------------------------------------------------------------------------


def _scaled_value(value: Any, total: int, round_up: bool) -> int:
    if value is None:
        value = "25%"
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def new_replicaset(deploy: Obj, hash_: str, revision: int) -> Obj:
    spec = spec_of(deploy)
    template = deep(spec.get("template") or {})
    template.setdefault("metadata", {}).setdefault("labels", {})[TEMPLATE_HASH_LABEL] = hash_
    selector = deep(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[TEMPLATE_HASH_LABEL] = hash_
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{name_of(deploy)}-{hash_}",
            "namespace": namespace_of(deploy),
            "labels": {**(template["metadata"].get("labels") or {})},
            "annotations": {REVISION_ANNOTATION: str(revision)},
            "ownerReferences": [owner_ref(deploy)],
        },
        "spec": {
            "replicas": 0,
            "minReadySeconds": int(spec.get("minReadySeconds") or 0),
            "selector": selector,
            "template": template,
        },
    }


def _scale(rs: Obj, replicas: int, reason: str) -> Patch:
    return Patch(REPLICASET, namespace_of(rs), name_of(rs), {"spec": {"replicas": replicas}}, reason=reason)


def decide_deployment(deploy: Obj, replicasets: list[Obj], now: dt.datetime) -> list[Action]:
    if is_terminating(deploy):
        return []
    spec = spec_of(deploy)
    selector = spec.get("selector")
    owned, actions = claim_objects(
        deploy, REPLICASET, replicasets, lambda labels: selector_matches(selector, dict(labels))
    )
    template = spec.get("template") or {}
    collisions = int(status_of(deploy).get("collisionCount") or 0)
    hash_ = template_hash(_template_without_hash(template), collisions)
    new = next(
        (
            rs
            for rs in owned
            if _template_without_hash(spec_of(rs).get("template") or {}) == _template_without_hash(template)
        ),
        None,
    )
    olds = [rs for rs in owned if rs is not new]
    revisions = [int(annotations_of(rs).get(REVISION_ANNOTATION) or 0) for rs in owned]
    next_revision = max(revisions, default=0) + 1
    replicas = _replicas(deploy)
    if spec.get("paused"):
        return actions
    if new is None:
        rs = new_replicaset(deploy, hash_, next_revision)
        if any(name_of(o) == name_of(rs) for o in replicasets):
            patch = {"status": {"collisionCount": collisions + 1}}
            return [
                *actions,
                Patch(DEPLOYMENT, namespace_of(deploy), name_of(deploy), patch, subresource="status"),
            ]
        actions.append(Create(REPLICASET, rs, reason="new pod template"))
        new = rs
    elif int(annotations_of(new).get(REVISION_ANNOTATION) or 0) != max(revisions, default=0) and olds:
        actions.append(
            Patch(
                REPLICASET,
                namespace_of(new),
                name_of(new),
                {"metadata": {"annotations": {REVISION_ANNOTATION: str(next_revision)}}},
                reason="rollback makes this the newest revision",
            )
        )

    strategy = spec.get("strategy") or {}
    new_replicas = int(spec_of(new).get("replicas") or 0)
    old_total = sum(int(spec_of(rs).get("replicas") or 0) for rs in olds)
    if strategy.get("type") == "Recreate":
        for rs in olds:
            if int(spec_of(rs).get("replicas") or 0) > 0:
                actions.append(_scale(rs, 0, "recreate: stop old pods"))
        old_pods = sum(int(status_of(rs).get("replicas") or 0) for rs in olds)
        if old_total == 0 and old_pods == 0 and new_replicas != replicas:
            actions.append(_scale(new, replicas, "recreate: start new pods"))
    else:
        rolling = strategy.get("rollingUpdate") or {}
        surge = _scaled_value(rolling.get("maxSurge"), replicas, round_up=True)
        unavailable = _scaled_value(rolling.get("maxUnavailable"), replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1  # Kubernetes' rule: a roll must be able to make progress
        target_new = new_replicas
        if new_replicas > replicas:
            target_new = replicas
        elif new_replicas < replicas:
            room = replicas + surge - (new_replicas + old_total)
            target_new = min(replicas, new_replicas + max(room, 0))
        if target_new != new_replicas:
            actions.append(_scale(new, target_new, "rolling update: scale new"))
        # Scale old ReplicaSets down while keeping at least replicas - maxUnavailable pods available.
        available = sum(int(status_of(rs).get("availableReplicas") or 0) for rs in owned)
        old_unavailable = sum(
            max(int(spec_of(rs).get("replicas") or 0) - int(status_of(rs).get("availableReplicas") or 0), 0)
            for rs in olds
        )
        budget = max(available - (replicas - unavailable), 0) + old_unavailable
        for rs in sorted(olds, key=lambda r: str(meta(r).get("creationTimestamp") or "")):
            current = int(spec_of(rs).get("replicas") or 0)
            if current == 0 or budget <= 0:
                continue
            cut = min(current, budget)
            budget -= cut
            actions.append(_scale(rs, current - cut, "rolling update: scale old"))

    # Old ReplicaSets beyond revisionHistoryLimit that no longer run anything are removed.
    limit = spec.get("revisionHistoryLimit")
    limit = 10 if limit is None else int(limit)
    idle = sorted(
        (
            rs
            for rs in olds
            if int(spec_of(rs).get("replicas") or 0) == 0 and int(status_of(rs).get("replicas") or 0) == 0
        ),
        key=lambda r: int(annotations_of(r).get(REVISION_ANNOTATION) or 0),
    )
    for rs in idle[: max(len(idle) - limit, 0)]:
        actions.append(Delete(REPLICASET, namespace_of(rs), name_of(rs), reason="revision history limit"))

    all_rs = [new, *olds]
    total = sum(int(status_of(rs).get("replicas") or 0) for rs in all_rs)
    available_total = sum(int(status_of(rs).get("availableReplicas") or 0) for rs in all_rs)
    min_available = replicas - _scaled_value(
        (strategy.get("rollingUpdate") or {}).get("maxUnavailable"), replicas, round_up=False
    )
    status: dict[str, Any] = {
        "observedGeneration": meta(deploy).get("generation", 0),
        "replicas": total,
        "updatedReplicas": int(status_of(new).get("replicas") or 0),
        "readyReplicas": sum(int(status_of(rs).get("readyReplicas") or 0) for rs in all_rs),
        "availableReplicas": available_total,
        "unavailableReplicas": max(replicas - available_total, 0),
    }
    old_status = status_of(deploy)
    changed = {k: v for k, v in status.items() if old_status.get(k, 0) != v}
    available_cond = "True" if available_total >= min_available else "False"
    conditions = {c.get("type"): c for c in old_status.get("conditions") or []}
    if (conditions.get("Available") or {}).get("status") != available_cond:
        stamp = format_time(now)
        reason = "MinimumReplicasAvailable" if available_cond == "True" else "MinimumReplicasUnavailable"
        conditions["Available"] = {
            "type": "Available",
            "status": available_cond,
            "reason": reason,
            "message": f"Deployment has {available_total} available replicas.",
            "lastUpdateTime": stamp,
            "lastTransitionTime": stamp,
        }
        changed["conditions"] = list(conditions.values())
    if changed:
        actions.append(
            Patch(
                DEPLOYMENT, namespace_of(deploy), name_of(deploy), {"status": changed}, subresource="status"
            )
        )
    return actions


class DeploymentController(Controller):
    name = "deployment"
    watches = (DEPLOYMENT, REPLICASET)

    def plans(self, now: dt.datetime) -> list[list[Action]]:
        rs_by_ns: dict[str, list[Obj]] = defaultdict(list)
        for rs in self.store.list(REPLICASET):
            rs_by_ns[namespace_of(rs)].append(rs)
        return [decide_deployment(d, rs_by_ns[namespace_of(d)], now) for d in self.store.list(DEPLOYMENT)]
