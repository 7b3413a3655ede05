"""PersistentVolume provisioning, binding and reclaiming decisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zkop_local.controllers.actions import Create, Delete, MakeDirectory, Patch, RemoveDirectory
from zkop_local.controllers.objects import Obj
from zkop_local.controllers.volumes import PROVISIONED_BY, PROVISIONER, decide_volumes, volume_path

STATE = Path("/state")


def claim(name: str = "data-zk-0", uid: str = "c1", volume: str | None = None, **status: Any) -> Obj:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}
    if volume:
        spec["volumeName"] = volume
    return {"metadata": {"name": name, "namespace": "ns", "uid": uid}, "spec": spec, "status": status}


def test_unbound_claim_gets_a_hostpath_volume_under_the_state_dir() -> None:
    [plan] = decide_volumes([claim()], [], {}, STATE)
    mkdir, create = plan[:2]
    assert isinstance(mkdir, MakeDirectory) and mkdir.path == STATE / "volumes" / "pvc-c1"
    assert isinstance(create, Create)
    pv = create.body
    assert pv["metadata"]["name"] == "pvc-c1"
    assert pv["spec"]["capacity"] == {"storage": "2Gi"}
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Delete"
    assert pv["spec"]["hostPath"]["path"] == "/state/volumes/pvc-c1"
    assert pv["spec"]["claimRef"]["uid"] == "c1"
    bind = [a for a in plan if isinstance(a, Patch) and a.resource.kind == "PersistentVolumeClaim"]
    assert bind[0].patch["spec"] == {"volumeName": "pvc-c1"}
    assert bind[1].patch == {
        "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "2Gi"}}
    }


def test_bound_pair_needs_nothing() -> None:
    [plan] = decide_volumes([claim()], [], {}, STATE)
    pv = next(a.body for a in plan if isinstance(a, Create))
    pv["status"] = {"phase": "Bound"}
    bound = claim(volume="pvc-c1", phase="Bound", accessModes=["ReadWriteOnce"], capacity={"storage": "2Gi"})
    assert decide_volumes([bound], [pv], {}, STATE) == [[]]


def volume(policy: str) -> Obj:
    return {
        "metadata": {"name": "pvc-c1", "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "persistentVolumeReclaimPolicy": policy,
            "hostPath": {"path": "/state/volumes/pvc-c1"},
            "claimRef": {"namespace": "ns", "name": "data-zk-0", "uid": "c1"},
        },
        "status": {"phase": "Bound"},
    }


def test_reclaim_delete_removes_directory_and_volume() -> None:
    [plan] = decide_volumes([], [volume("Delete")], {}, STATE)
    assert [type(a) for a in plan] == [RemoveDirectory, Delete]


def test_reclaim_retain_releases() -> None:
    [[patch]] = decide_volumes([], [volume("Retain")], {}, STATE)
    assert isinstance(patch, Patch) and patch.patch == {"status": {"phase": "Released"}}


def test_a_new_claim_with_the_same_name_does_not_inherit_a_released_volume() -> None:
    plans = decide_volumes([claim(uid="c2")], [volume("Retain")], {}, STATE)
    created = [a.body["metadata"]["name"] for p in plans for a in p if isinstance(a, Create)]
    assert created == ["pvc-c2"]


def test_volume_path_of_a_bound_claim() -> None:
    assert volume_path(claim(volume="pvc-c1"), STATE) == STATE / "volumes" / "pvc-c1"
    with pytest.raises(LookupError):
        volume_path(claim(), STATE)
