"""Adopting orphans and releasing strays: the controller-ref bookkeeping shared by workload controllers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .actions import Action, Patch
from .objects import (
    Obj,
    controller_ref,
    is_terminating,
    labels_of,
    meta,
    name_of,
    namespace_of,
    owner_ref,
    owner_refs_of,
    uid_of,
)
from .resources import ResourceKind


def set_owner_refs(resource: ResourceKind, obj: Obj, refs: list[dict[str, Any]], reason: str) -> Patch:
    """Replace ``ownerReferences`` guarded by the resourceVersion we decided on.

    A JSON patch with a ``test`` makes a concurrent writer (the GC, another controller) win cleanly:
    the API server answers 422/409 and the next pass decides again from fresh state.
    """
    ops: list[dict[str, Any]] = []
    rv = meta(obj).get("resourceVersion")
    if rv is not None:
        ops.append({"op": "test", "path": "/metadata/resourceVersion", "value": rv})
    ops.append({"op": "add", "path": "/metadata/ownerReferences", "value": refs})
    return Patch(resource, namespace_of(obj), name_of(obj), ops, patch_type="json", reason=reason)


def claim_objects(
    owner: Obj,
    resource: ResourceKind,
    candidates: Iterable[Obj],
    matches: Callable[[Mapping[str, str]], bool],
) -> tuple[list[Obj], list[Action]]:
    """Kubernetes' ClaimObjects: the objects ``owner`` controls after adopting and releasing.

    Orphans (no controller ref) whose labels match are adopted; owned objects whose labels stopped
    matching are released. Nothing is adopted while the owner itself is being deleted.
    """
    owned: list[Obj] = []
    actions: list[Action] = []
    owner_uid = uid_of(owner)
    for obj in candidates:
        if namespace_of(obj) != namespace_of(owner):
            continue
        ref = controller_ref(obj)
        label_match = matches(labels_of(obj))
        if ref is not None and ref.get("uid") == owner_uid:
            if label_match or is_terminating(owner):
                owned.append(obj)
            else:
                refs = [r for r in owner_refs_of(obj) if r.get("uid") != owner_uid]
                actions.append(set_owner_refs(resource, obj, refs, "release: labels no longer match"))
        elif ref is None and label_match and not is_terminating(owner) and not is_terminating(obj):
            refs = [*owner_refs_of(obj), owner_ref(owner)]
            actions.append(set_owner_refs(resource, obj, refs, "adopt orphan"))
            owned.append(obj)
    return owned, actions
