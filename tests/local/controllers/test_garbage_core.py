"""Garbage-collector decisions: background, foreground, orphan, and never on missing knowledge."""

from __future__ import annotations

from typing import Any

from zkop_local.controllers.actions import Delete, Patch
from zkop_local.controllers.garbage import FOREGROUND, ORPHAN, decide_collection
from zkop_local.controllers.objects import Obj
from zkop_local.controllers.resources import CONTROLLER_REVISION, POD, STATEFULSET, ResourceKind

CUSTOM = ResourceKind("example.com", "v1", "ZooKeeperCluster", "zookeeperclusters", True)
KNOWN = {(r.group, r.kind): r for r in (POD, STATEFULSET, CONTROLLER_REVISION, CUSTOM)}
SYNCED = set(KNOWN.values())


def obj(
    kind: ResourceKind,
    name: str,
    uid: str,
    *,
    owners: list[Obj] | None = None,
    block: bool = True,
    finalizers: list[str] | None = None,
    deleting: bool = False,
) -> Obj:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": "7"}
    if owners:
        meta["ownerReferences"] = [
            {
                "apiVersion": o["apiVersion"],
                "kind": o["kind"],
                "name": o["metadata"]["name"],
                "uid": o["metadata"]["uid"],
                "blockOwnerDeletion": block,
            }
            for o in owners
        ]
    if finalizers:
        meta["finalizers"] = finalizers
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": meta}


def test_background_deletes_dependents_of_a_vanished_owner_across_kinds() -> None:
    cluster = obj(CUSTOM, "zk", "c1")
    sts = obj(STATEFULSET, "zk", "s1", owners=[cluster])
    # the custom resource is gone: only the StatefulSet is left
    [decision] = decide_collection([(STATEFULSET, sts)], KNOWN, SYNCED)
    [action] = decision.actions
    assert isinstance(action, Delete) and action.name == "zk" and action.propagation == "Background"
    assert [o.uid for o in decision.absent_owners] == ["c1"]


def test_a_dependent_with_a_live_owner_only_loses_the_dangling_reference() -> None:
    live = obj(STATEFULSET, "a", "s1")
    gone = obj(STATEFULSET, "b", "s2")
    pod = obj(POD, "p", "p1", owners=[live, gone])
    [decision] = decide_collection([(STATEFULSET, live), (POD, pod)], KNOWN, SYNCED)
    [patch] = decision.actions
    assert isinstance(patch, Patch) and patch.patch_type == "json"
    assert patch.patch[-1]["value"] == [pod["metadata"]["ownerReferences"][0]]


def test_unknown_or_unsynced_owner_kinds_are_never_collected() -> None:
    stranger = {"apiVersion": "other.io/v1", "kind": "Thing", "metadata": {"name": "t", "uid": "t1"}}
    pod = obj(POD, "p", "p1", owners=[stranger])
    assert decide_collection([(POD, pod)], KNOWN, SYNCED) == []
    sts_owned = obj(POD, "q", "p2", owners=[obj(STATEFULSET, "zk", "s1")])
    assert decide_collection([(POD, sts_owned)], KNOWN, SYNCED - {STATEFULSET}) == []


def test_foreground_deletes_dependents_then_drops_the_finalizer() -> None:
    sts = obj(STATEFULSET, "zk", "s1", finalizers=[FOREGROUND], deleting=True)
    pod = obj(POD, "zk-0", "p1", owners=[sts])
    decisions = decide_collection([(STATEFULSET, sts), (POD, pod)], KNOWN, SYNCED)
    assert [type(a) for d in decisions for a in d.actions] == [Delete]
    # A non-blocking dependent does not hold the owner.
    loose = obj(POD, "zk-0", "p1", owners=[sts], block=False)
    decisions = decide_collection([(STATEFULSET, sts), (POD, loose)], KNOWN, SYNCED)
    finalizer_patch = [a for d in decisions for a in d.actions if isinstance(a, Patch)]
    assert finalizer_patch and finalizer_patch[0].patch[-1] == {
        "op": "replace",
        "path": "/metadata/finalizers",
        "value": [],
    }
    # No dependents left: the finalizer goes.
    [decision] = decide_collection([(STATEFULSET, sts)], KNOWN, SYNCED)
    assert isinstance(decision.actions[0], Patch) and decision.actions[0].name == "zk"


def test_orphan_strips_references_then_the_finalizer() -> None:
    sts = obj(STATEFULSET, "zk", "s1", finalizers=[ORPHAN, "keep.me/too"], deleting=True)
    pod = obj(POD, "zk-0", "p1", owners=[sts])
    [decision] = decide_collection([(STATEFULSET, sts), (POD, pod)], KNOWN, SYNCED)
    [patch] = decision.actions
    assert isinstance(patch, Patch) and patch.name == "zk-0" and patch.patch[-1]["value"] == []
    [decision] = decide_collection([(STATEFULSET, sts), (POD, obj(POD, "zk-0", "p1"))], KNOWN, SYNCED)
    [patch] = decision.actions
    assert isinstance(patch, Patch) and patch.name == "zk"
    assert patch.patch[-1]["value"] == ["keep.me/too"]
