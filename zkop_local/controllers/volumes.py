"""Dynamic provisioning, binding and reclaiming of local PersistentVolumes.

Every unbound PVC gets a hostPath PersistentVolume named ``pvc-<claim uid>`` (as external
provisioners name them) whose directory is ``<state_dir>/volumes/<pv name>``. The kubelet finds the
directory of a claim with ``volume_path``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lightkube import ApiError

from .actions import Action, Create, Delete, MakeDirectory, Patch, RemoveDirectory
from .loop import Controller
from .objects import (
    Obj,
    annotations_of,
    is_terminating,
    name_of,
    namespace_of,
    spec_of,
    status_of,
    uid_of,
)
from .resources import PV, PVC, STORAGE_CLASS, model

if TYPE_CHECKING:
    from lightkube import AsyncClient

    from .informer import Store

PROVISIONER = "zkop.local/hostpath"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"


def volumes_dir(state_dir: Path) -> Path:
    return Path(state_dir) / "volumes"


def volume_path(pvc: Mapping[str, Any], state_dir: Path) -> Path:
    """The host directory that backs a bound claim; the kubelet mounts (bind/symlinks) this.

    Raises ``LookupError`` while the claim is not bound yet, so the kubelet keeps the pod Pending
    (Kubernetes reports the same as "unbound immediate PersistentVolumeClaims").
    """
    volume = spec_of(pvc).get("volumeName")
    if not volume:
        raise LookupError(f"PersistentVolumeClaim {namespace_of(pvc)}/{name_of(pvc)} is not bound yet")
    return volumes_dir(state_dir) / str(volume)


def pv_host_path(pv: Mapping[str, Any]) -> Path:
    """The directory of a hostPath/local PersistentVolume (also a hand-made, statically provisioned one)."""
    spec = spec_of(pv)
    source = spec.get("hostPath") or spec.get("local") or {}
    if not source.get("path"):
        raise LookupError(f"PersistentVolume {name_of(pv)} has no hostPath/local path")
    return Path(source["path"])


def _reclaim_policy(pvc: Obj, classes: dict[str, Obj]) -> str:
    cls = classes.get(str(spec_of(pvc).get("storageClassName") or ""))
    # Dynamically provisioned volumes default to Delete, as with a StorageClass's default.
    return str((cls or {}).get("reclaimPolicy") or "Delete")


def new_volume(pvc: Obj, state_dir: Path, classes: dict[str, Obj]) -> Obj:
    name = f"pvc-{uid_of(pvc)}"
    spec = spec_of(pvc)
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": {
            "capacity": {"storage": storage},
            "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
            "persistentVolumeReclaimPolicy": _reclaim_policy(pvc, classes),
            "hostPath": {"path": str(volumes_dir(state_dir) / name), "type": "DirectoryOrCreate"},
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "claimRef": _claim_ref(pvc),
        },
    }
    if spec.get("storageClassName"):
        body["spec"]["storageClassName"] = spec["storageClassName"]
    return body


def _claim_ref(pvc: Obj) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": namespace_of(pvc),
        "name": name_of(pvc),
        "uid": uid_of(pvc),
    }


def decide_volumes(
    pvcs: list[Obj], pvs: list[Obj], classes: dict[str, Obj], state_dir: Path
) -> list[list[Action]]:
    """Provision, bind and reclaim. One plan per claim and per orphaned volume."""
    plans: list[list[Action]] = []
    pv_by_name = {name_of(pv): pv for pv in pvs}
    pv_by_claim_uid = {
        str((spec_of(pv).get("claimRef") or {}).get("uid")): pv for pv in pvs if spec_of(pv).get("claimRef")
    }
    claim_uids = {uid_of(c) for c in pvcs}

    for pvc in pvcs:
        plan: list[Action] = []
        ns, name = namespace_of(pvc), name_of(pvc)
        volume_name = spec_of(pvc).get("volumeName")
        pv = pv_by_name.get(str(volume_name)) if volume_name else pv_by_claim_uid.get(uid_of(pvc))
        if pv is None and not volume_name:
            if is_terminating(pvc):
                continue
            pv = new_volume(pvc, state_dir, classes)
            plan.append(MakeDirectory(pv_host_path(pv), reason="provision"))
            plan.append(Create(PV, pv, reason=f"provision for {ns}/{name}"))
        if pv is None:
            # A claim asking for a specific volume that does not exist stays Pending, as in Kubernetes.
            if status_of(pvc).get("phase") != "Pending":
                plan.append(Patch(PVC, ns, name, {"status": {"phase": "Pending"}}, subresource="status"))
            plans.append(plan)
            continue
        ref = spec_of(pv).get("claimRef") or {}
        if not ref:
            plan.append(
                Patch(PV, "", name_of(pv), {"spec": {"claimRef": _claim_ref(pvc)}}, reason="static binding")
            )
        elif ref.get("uid") not in (None, uid_of(pvc)) or ref.get("name") != name:
            plans.append(plan)  # volume belongs to someone else; the claim waits
            continue
        if not volume_name:
            plan.append(
                Patch(
                    PVC,
                    ns,
                    name,
                    {
                        "metadata": {"annotations": {BOUND_BY_CONTROLLER: "yes"}},
                        "spec": {"volumeName": name_of(pv)},
                    },
                    reason="bind",
                )
            )
        want_claim_status = {
            "phase": "Bound",
            "accessModes": list(spec_of(pv).get("accessModes") or []),
            "capacity": dict(spec_of(pv).get("capacity") or {}),
        }
        if any(status_of(pvc).get(k) != v for k, v in want_claim_status.items()):
            plan.append(Patch(PVC, ns, name, {"status": want_claim_status}, subresource="status"))
        if status_of(pv).get("phase") != "Bound":
            plan.append(Patch(PV, "", name_of(pv), {"status": {"phase": "Bound"}}, subresource="status"))
        plans.append(plan)

    for pv in pvs:
        ref = spec_of(pv).get("claimRef") or {}
        if not ref or ref.get("uid") in claim_uids or is_terminating(pv):
            if not ref and status_of(pv).get("phase") not in ("Available",):
                plans.append(
                    [Patch(PV, "", name_of(pv), {"status": {"phase": "Available"}}, subresource="status")]
                )
            continue
        # The claim is gone (a same-named new claim has another uid and must not inherit the data).
        policy = spec_of(pv).get("persistentVolumeReclaimPolicy") or "Retain"
        if policy == "Delete":
            plan = []
            if annotations_of(pv).get(PROVISIONED_BY) == PROVISIONER:
                plan.append(RemoveDirectory(pv_host_path(pv), reason="reclaim: Delete"))
            plan.append(Delete(PV, "", name_of(pv), reason="reclaim: Delete"))
            plans.append(plan)
        elif status_of(pv).get("phase") != "Released":
            plans.append(
                [
                    Patch(
                        PV,
                        "",
                        name_of(pv),
                        {"status": {"phase": "Released"}},
                        subresource="status",
                        reason="reclaim: Retain",
                    )
                ]
            )
    return plans


class VolumeController(Controller):
    name = "persistentvolume"
    watches = (PVC, PV, STORAGE_CLASS)

    def __init__(self, client: AsyncClient, store: Store, state_dir: Path) -> None:
        super().__init__(client, store)
        self.state_dir = Path(state_dir)

    def plans(self, now: dt.datetime) -> list[list[Action]]:
        classes = {name_of(c): c for c in self.store.list(STORAGE_CLASS)}
        return decide_volumes(self.store.list(PVC), self.store.list(PV), classes, self.state_dir)

    async def confirm(self, plan: list[Action]) -> bool:
        for action in plan:
            if not isinstance(action, Delete | Patch) or action.resource != PV:
                continue
            if isinstance(action, Patch) and (action.patch.get("status") or {}).get("phase") != "Released":
                continue
            pv = self.store.get(PV, "", action.name) or {}
            ref = spec_of(pv).get("claimRef") or {}
            try:
                claim = await self.client.get(
                    model(PVC), ref.get("name", ""), namespace=ref.get("namespace", "")
                )
            except ApiError as err:
                return err.status.code == 404
            return str(claim.to_dict().get("metadata", {}).get("uid")) != ref.get("uid")
        return True
