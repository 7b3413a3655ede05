"""StatefulSet controller: stable pod identity, ordered scaling, revisions, rolling and OnDelete updates.

The decision core ``decide_statefulset`` follows ``pkg/controller/statefulset/stateful_set_control.go``:
one pass (1) settles the update revision, (2) walks the in-range ordinals upward creating, replacing
failed pods and -- for OrderedReady -- stopping at the first pod that is not Ready, (3) removes
condemned pods (ordinals out of range) highest first, (4) under RollingUpdate deletes the highest
out-of-date pod at or above the partition, and (5) reports status.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Any

from .actions import Action, Create, Delete, Patch
from .hashing import template_hash
from .loop import Controller
from .objects import (
    Obj,
    controller_ref,
    deep,
    is_pod_available,
    is_pod_finished,
    is_running_and_ready,
    is_terminating,
    labels_of,
    meta,
    name_of,
    namespace_of,
    owner_ref,
    owner_refs_of,
    pod_phase,
    selector_matches,
    spec_of,
    status_of,
    uid_of,
)
from .ownership import claim_objects, set_owner_refs
from .resources import CONTROLLER_REVISION, POD, PVC, STATEFULSET

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"
REVISION_HASH_LABEL = "controller.kubernetes.io/hash"


# --- identity ---------------------------------------------------------------------------------------------


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{name_of(sts)}-{ordinal}"


def claim_name(template_name: str, sts: Obj, ordinal: int) -> str:
    return f"{template_name}-{name_of(sts)}-{ordinal}"


def ordinal_of(sts: Obj, pod: Obj) -> int | None:
    """The ordinal encoded in the pod's name, or None if the name is not ``<sts>-<n>``."""
    m = re.fullmatch(re.escape(name_of(sts)) + r"-(0|[1-9][0-9]*)", name_of(pod))
    return int(m.group(1)) if m else None


def start_ordinal(sts: Obj) -> int:
    return int((spec_of(sts).get("ordinals") or {}).get("start") or 0)


def desired_replicas(sts: Obj) -> int:
    r = spec_of(sts).get("replicas")
    return 1 if r is None else int(r)


def is_monotonic(sts: Obj) -> bool:
    return bool(spec_of(sts).get("podManagementPolicy", "OrderedReady") != "Parallel")


def update_strategy(sts: Obj) -> tuple[str, int]:
    """(type, partition); the API server defaults to RollingUpdate with partition 0."""
    strategy = spec_of(sts).get("updateStrategy") or {}
    kind = strategy.get("type") or "RollingUpdate"
    partition = int((strategy.get("rollingUpdate") or {}).get("partition") or 0)
    return kind, partition


def retention_policy(sts: Obj) -> tuple[str, str]:
    """(whenDeleted, whenScaled), each Retain or Delete."""
    policy = spec_of(sts).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or "Retain", policy.get("whenScaled") or "Retain"


# --- revisions --------------------------------------------------------------------------------------------


def revision_data(sts: Obj) -> dict[str, Any]:
    """What a ControllerRevision stores: the pod template only (replicas and labels do not roll)."""
    template = deep(spec_of(sts).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def revision_template(revision: Obj) -> dict[str, Any]:
    template = deep(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return dict(template)


def revision_number(revision: Obj) -> int:
    return int(revision.get("revision") or 0)


def new_revision(sts: Obj, name: str, hash_: str, number: int) -> Obj:
    template_labels = dict(((spec_of(sts).get("template") or {}).get("metadata") or {}).get("labels") or {})
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace_of(sts),
        "labels": {**template_labels, REVISION_HASH_LABEL: hash_},
        "ownerReferences": [owner_ref(sts)],
    }
    annotations = meta(sts).get("annotations")
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": metadata,
        "data": revision_data(sts),
        "revision": number,
    }


def _settle_revisions(
    sts: Obj, owned: list[Obj], all_in_namespace: list[Obj]
) -> tuple[list[Action], Obj | None, Obj | None]:
    """(actions, update revision, current revision). The update revision is None on a hash collision:
    then the only action bumps ``status.collisionCount`` and the next pass retries with a new name."""
    actions: list[Action] = []
    owned = sorted(owned, key=revision_number)
    data = revision_data(sts)
    max_number = max((revision_number(r) for r in owned), default=0)
    equal = [r for r in owned if r.get("data") == data]
    if equal:
        update = equal[-1]
        if revision_number(update) != max_number:
            # Rolling back to an older template reuses its revision but makes it the newest.
            update = {**update, "revision": max_number + 1}
            actions.append(
                Patch(
                    CONTROLLER_REVISION,
                    namespace_of(sts),
                    name_of(update),
                    {"revision": max_number + 1},
                    reason="reuse older revision",
                )
            )
    else:
        collisions = int(status_of(sts).get("collisionCount") or 0)
        hash_ = template_hash(data, collisions)
        name = f"{name_of(sts)}-{hash_}"
        clash = next((r for r in all_in_namespace if name_of(r) == name), None)
        if clash is not None:
            patch = {"status": {"collisionCount": collisions + 1}}
            return (
                [
                    Patch(
                        STATEFULSET,
                        namespace_of(sts),
                        name_of(sts),
                        patch,
                        subresource="status",
                        reason="revision name collision",
                    )
                ],
                None,
                None,
            )
        update = new_revision(sts, name, hash_, max_number + 1)
        actions.append(Create(CONTROLLER_REVISION, update, reason="new template"))
    current_name = status_of(sts).get("currentRevision")
    current = next((r for r in owned if name_of(r) == current_name), None)
    if current is None:
        current = update
    return actions, update, current


def _prune_history(sts: Obj, owned: list[Obj], pods: list[Obj], keep_names: set[str]) -> list[Action]:
    limit = spec_of(sts).get("revisionHistoryLimit")
    limit = 10 if limit is None else int(limit)
    live = keep_names | {labels_of(p).get(REVISION_LABEL, "") for p in pods}
    history = sorted((r for r in owned if name_of(r) not in live), key=revision_number)
    excess = len(history) - limit
    return [
        Delete(CONTROLLER_REVISION, namespace_of(sts), name_of(r), reason="revision history limit")
        for r in history[: max(excess, 0)]
    ]


# --- pods and claims --------------------------------------------------------------------------------------


def new_pod(sts: Obj, revision: Obj, ordinal: int) -> Obj:
    template = revision_template(revision)
    tmeta = template.get("metadata") or {}
    name = pod_name(sts, ordinal)
    labels = {
        **(tmeta.get("labels") or {}),
        POD_NAME_LABEL: name,
        POD_INDEX_LABEL: str(ordinal),
        REVISION_LABEL: name_of(revision),
    }
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace_of(sts),
        "labels": labels,
        "ownerReferences": [owner_ref(sts)],
    }
    if tmeta.get("annotations"):
        metadata["annotations"] = dict(tmeta["annotations"])
    spec = deep(template.get("spec") or {})
    spec["hostname"] = name
    service_name = spec_of(sts).get("serviceName")
    if service_name:
        spec["subdomain"] = service_name
    claim_volumes = [
        {"name": name_of(t), "persistentVolumeClaim": {"claimName": claim_name(name_of(t), sts, ordinal)}}
        for t in spec_of(sts).get("volumeClaimTemplates") or []
    ]
    if claim_volumes:
        taken = {v["name"] for v in claim_volumes}
        spec["volumes"] = [v for v in spec.get("volumes") or [] if v.get("name") not in taken] + claim_volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def new_claim(sts: Obj, template: Obj, ordinal: int) -> Obj:
    tmeta = template.get("metadata") or {}
    match_labels = (spec_of(sts).get("selector") or {}).get("matchLabels") or {}
    metadata: dict[str, Any] = {
        "name": claim_name(name_of(template), sts, ordinal),
        "namespace": namespace_of(sts),
        "labels": {**(tmeta.get("labels") or {}), **match_labels},
    }
    if tmeta.get("annotations"):
        metadata["annotations"] = dict(tmeta["annotations"])
    when_deleted, _ = retention_policy(sts)
    if when_deleted == "Delete":
        metadata["ownerReferences"] = [owner_ref(sts)]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata,
        "spec": deep(template.get("spec") or {}),
    }


def _missing_claims(sts: Obj, ordinal: int, claims: dict[str, Obj]) -> list[Action]:
    actions: list[Action] = []
    for template in spec_of(sts).get("volumeClaimTemplates") or []:
        name = claim_name(name_of(template), sts, ordinal)
        if name not in claims:
            actions.append(
                Create(PVC, new_claim(sts, template, ordinal), reason=f"storage for ordinal {ordinal}")
            )
    return actions


def _claim_ownership(
    sts: Obj, pod: Obj, in_range: bool, claims: dict[str, Obj], ordinal: int
) -> list[Action]:
    """Owner refs on the pod's PVCs as persistentVolumeClaimRetentionPolicy implies (see the note, §8)."""
    when_deleted, when_scaled = retention_policy(sts)
    actions: list[Action] = []
    for template in spec_of(sts).get("volumeClaimTemplates") or []:
        claim = claims.get(claim_name(name_of(template), sts, ordinal))
        if claim is None or is_terminating(claim):
            continue
        ours = {uid_of(sts), uid_of(pod)}
        ctrl = controller_ref(claim)
        if ctrl is not None and ctrl.get("uid") not in ours:
            continue  # another controller owns this claim; leave it alone
        want: list[dict[str, Any]] = []
        if when_scaled == "Delete" and not in_range:
            want.append(owner_ref(pod))
        elif when_deleted == "Delete":
            want.append(owner_ref(sts))
        current = owner_refs_of(claim)
        kept = [r for r in current if r.get("uid") not in ours]
        desired = kept + want
        if sorted(map(_ref_key, current)) != sorted(map(_ref_key, desired)):
            actions.append(set_owner_refs(PVC, claim, desired, "persistentVolumeClaimRetentionPolicy"))
    return actions


def _ref_key(ref: dict[str, Any]) -> tuple[str, bool, bool]:
    return str(ref.get("uid")), bool(ref.get("controller")), bool(ref.get("blockOwnerDeletion"))


# --- status -----------------------------------------------------------------------------------------------


def compute_status(sts: Obj, pods: list[Obj], update: Obj, current: Obj, now: dt.datetime) -> dict[str, Any]:
    min_ready = int(spec_of(sts).get("minReadySeconds") or 0)
    created = [p for p in pods if pod_phase(p) != ""]
    live = [p for p in created if not is_terminating(p)]
    status: dict[str, Any] = {
        "observedGeneration": meta(sts).get("generation", 0),
        "replicas": len(created),
        "readyReplicas": sum(1 for p in created if is_running_and_ready(p)),
        "availableReplicas": sum(1 for p in created if is_pod_available(p, min_ready, now)),
        "currentReplicas": sum(1 for p in live if labels_of(p).get(REVISION_LABEL) == name_of(current)),
        "updatedReplicas": sum(1 for p in live if labels_of(p).get(REVISION_LABEL) == name_of(update)),
        "currentRevision": name_of(current),
        "updateRevision": name_of(update),
        "collisionCount": int(status_of(sts).get("collisionCount") or 0),
    }
    kind, _ = update_strategy(sts)
    # Kubernetes completes a roll only under RollingUpdate; with OnDelete currentRevision stays put.
    if (
        kind == "RollingUpdate"
        and status["updatedReplicas"] == status["replicas"]
        and status["readyReplicas"] == status["replicas"]
    ):
        status["currentRevision"] = status["updateRevision"]
        status["currentReplicas"] = status["updatedReplicas"]
    return status


def _status_patch(sts: Obj, status: dict[str, Any]) -> list[Action]:
    old = status_of(sts)
    # `replicas` is a required field of StatefulSetStatus (clients such as lightkube refuse a status
    # without it), so it is written even when it is 0; other zero counts may stay absent.
    changed = {
        k: v
        for k, v in status.items()
        if (k == "replicas" and k not in old) or old.get(k, 0 if isinstance(v, int) else None) != v
    }
    if not changed:
        return []
    return [Patch(STATEFULSET, namespace_of(sts), name_of(sts), {"status": changed}, subresource="status")]


# --- the decision -----------------------------------------------------------------------------------------


def decide_statefulset(
    sts: Obj,
    pods: list[Obj],
    revisions: list[Obj],
    claims: dict[str, Obj],
    now: dt.datetime,
) -> list[Action]:
    """Actions for one StatefulSet.

    ``pods`` and ``revisions`` are all such objects in its namespace (ownership is worked out here,
    with adoption of matching orphans); ``claims`` are the namespace's PVCs by name.
    """
    if is_terminating(sts):
        return []  # deletion belongs to the garbage collector; recreating pods would fight it
    selector = spec_of(sts).get("selector")

    def matches(labels: dict[str, str]) -> bool:
        return selector_matches(selector, labels)

    pods, actions = claim_objects(sts, POD, pods, lambda labels: matches(dict(labels)))
    owned_revisions, revision_actions = claim_objects(
        sts, CONTROLLER_REVISION, revisions, lambda labels: matches(dict(labels))
    )
    actions += revision_actions

    settle, update, current = _settle_revisions(sts, owned_revisions, revisions)
    actions += settle
    if update is None or current is None:
        return actions

    start, count = start_ordinal(sts), desired_replicas(sts)
    in_range = range(start, start + count)
    monotonic = is_monotonic(sts)
    kind, partition = update_strategy(sts)
    min_ready = int(spec_of(sts).get("minReadySeconds") or 0)
    ns = namespace_of(sts)

    by_ordinal: dict[int, Obj] = {}
    condemned: list[tuple[int, Obj]] = []
    for pod in pods:
        ordinal = ordinal_of(sts, pod)
        if ordinal is not None and ordinal in in_range and ordinal not in by_ordinal:
            by_ordinal[ordinal] = pod
        else:
            condemned.append((-1 if ordinal is None else ordinal, pod))
    condemned.sort(key=lambda item: item[0], reverse=True)

    def revision_for(ordinal: int) -> Obj:
        # Under RollingUpdate, ordinals below the partition stay on the current revision even when
        # recreated; everything else (and every OnDelete recreation) gets the update revision.
        if kind == "RollingUpdate" and ordinal < start + partition:
            return current
        return update

    status = compute_status(sts, pods, update, current, now)
    blocked = False

    # (2) in-range ordinals, ascending
    for ordinal in in_range:
        slot = by_ordinal.get(ordinal)
        if slot is not None and is_pod_finished(slot) and not is_terminating(slot):
            actions.append(Delete(POD, ns, name_of(slot), reason=f"slot {pod_phase(slot)}; recreate"))
            if monotonic:
                blocked = True
                break
            continue
        if slot is None:
            actions += _missing_claims(sts, ordinal, claims)
            actions.append(
                Create(POD, new_pod(sts, revision_for(ordinal), ordinal), reason=f"ordinal {ordinal} missing")
            )
            if monotonic:
                blocked = True
                break
            continue
        if not is_terminating(slot):
            actions += _missing_claims(sts, ordinal, claims)
            actions += _claim_ownership(sts, slot, True, claims, ordinal)
        if monotonic and (is_terminating(slot) or not is_pod_available(slot, min_ready, now)):
            blocked = True
            break

    # (3) condemned pods, highest ordinal first
    if not blocked:
        for ordinal, pod in condemned:
            if is_terminating(pod):
                if monotonic:
                    blocked = True
                    break
                continue
            actions += _claim_ownership(sts, pod, False, claims, ordinal)
            actions.append(Delete(POD, ns, name_of(pod), reason=f"scale down ordinal {ordinal}"))
            if monotonic:
                blocked = True
                break

    # (4) rolling update: one slot at a time, highest ordinal first, down to the partition
    if not blocked and kind == "RollingUpdate":
        for ordinal in reversed(range(max(start + partition, start), start + count)):
            slot = by_ordinal.get(ordinal)
            if slot is None:
                break
            if labels_of(slot).get(REVISION_LABEL) != name_of(update) and not is_terminating(slot):
                actions.append(
                    Delete(POD, ns, name_of(slot), reason=f"roll ordinal {ordinal} to {name_of(update)}")
                )
                break
            if is_terminating(slot) or not is_running_and_ready(slot):
                break

    actions += _prune_history(sts, owned_revisions, pods, {name_of(update), name_of(current)})
    actions += _status_patch(sts, status)
    return actions


class StatefulSetController(Controller):
    name = "statefulset"
    watches = (STATEFULSET, POD, CONTROLLER_REVISION, PVC)

    def plans(self, now: dt.datetime) -> list[list[Action]]:
        pods_by_ns: dict[str, list[Obj]] = defaultdict(list)
        for pod in self.store.list(POD):
            pods_by_ns[namespace_of(pod)].append(pod)
        revisions_by_ns: dict[str, list[Obj]] = defaultdict(list)
        for rev in self.store.list(CONTROLLER_REVISION):
            revisions_by_ns[namespace_of(rev)].append(rev)
        claims_by_ns: dict[str, dict[str, Obj]] = defaultdict(dict)
        for claim in self.store.list(PVC):
            claims_by_ns[namespace_of(claim)][name_of(claim)] = claim
        return [
            decide_statefulset(
                sts,
                pods_by_ns[namespace_of(sts)],
                revisions_by_ns[namespace_of(sts)],
                claims_by_ns[namespace_of(sts)],
                now,
            )
            for sts in self.store.list(STATEFULSET)
        ]
