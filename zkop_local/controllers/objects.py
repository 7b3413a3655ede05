"""Helpers over plain Kubernetes object dicts, shared by every decision core.

The controllers keep objects as the JSON dicts the API server sends, not as typed models: the decision
cores then work unchanged on custom resources, and the tests can write objects as literals.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

Obj = dict[str, Any]
"""A Kubernetes object as JSON (apiVersion, kind, metadata, spec, status)."""


def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, dict) else {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("namespace") or "")


def uid_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("uid", ""))


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta(obj).get("labels") or {})


def annotations_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta(obj).get("annotations") or {})


def finalizers_of(obj: Mapping[str, Any]) -> list[str]:
    return list(meta(obj).get("finalizers") or [])


def owner_refs_of(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in meta(obj).get("ownerReferences") or []]


def is_terminating(obj: Mapping[str, Any]) -> bool:
    return meta(obj).get("deletionTimestamp") is not None


def spec_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    s = obj.get("spec")
    return s if isinstance(s, dict) else {}


def status_of(obj: Mapping[str, Any]) -> dict[str, Any]:
    s = obj.get("status")
    return s if isinstance(s, dict) else {}


def deep(obj: Any) -> Any:
    """A deep copy, so that a decision never aliases the cache it was computed from."""
    return copy.deepcopy(obj)


def owner_ref(owner: Mapping[str, Any], *, controller: bool = True, block: bool = True) -> dict[str, Any]:
    """The ownerReference a controller puts on what it creates for ``owner``."""
    return {
        "apiVersion": owner.get("apiVersion", ""),
        "kind": owner.get("kind", ""),
        "name": name_of(owner),
        "uid": uid_of(owner),
        "controller": controller,
        "blockOwnerDeletion": block,
    }


def controller_ref(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ownerReference with ``controller: true``; the API allows at most one."""
    for ref in owner_refs_of(obj):
        if ref.get("controller"):
            return ref
    return None


def is_controlled_by(obj: Mapping[str, Any], owner: Mapping[str, Any]) -> bool:
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == uid_of(owner)


# --- time -------------------------------------------------------------------------------------------------


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def format_time(t: dt.datetime) -> str:
    """RFC 3339 with seconds precision, as the API uses for ``Time`` fields."""
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


# --- pods -------------------------------------------------------------------------------------------------


def pod_condition(pod: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    for cond in status_of(pod).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def pod_phase(pod: Mapping[str, Any]) -> str:
    return str(status_of(pod).get("phase") or "")


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    """The pod's ``Ready`` condition, which is what Services and StatefulSets read."""
    cond = pod_condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def is_running_and_ready(pod: Mapping[str, Any]) -> bool:
    return pod_phase(pod) == "Running" and is_pod_ready(pod)


def is_pod_available(pod: Mapping[str, Any], min_ready_seconds: int, now: dt.datetime) -> bool:
    """Ready for at least ``min_ready_seconds``, judged on the Ready condition's transition time."""
    if not is_running_and_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    cond = pod_condition(pod, "Ready") or {}
    since = parse_time(cond.get("lastTransitionTime"))
    # Without a transition time we cannot prove the pod was ready long enough; real Kubernetes
    # treats a missing time the same way.
    return since is not None and (now - since).total_seconds() >= min_ready_seconds


def is_pod_finished(pod: Mapping[str, Any]) -> bool:
    return pod_phase(pod) in ("Succeeded", "Failed")


def is_pod_active(pod: Mapping[str, Any]) -> bool:
    """Counts toward a ReplicaSet's replicas: not finished and not being deleted."""
    return not is_pod_finished(pod) and not is_terminating(pod)


# --- selectors --------------------------------------------------------------------------------------------


def _expression_matches(labels: Mapping[str, str], expr: Mapping[str, Any]) -> bool:
    key = str(expr.get("key", ""))
    op = expr.get("operator")
    values = [str(v) for v in expr.get("values") or []]
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A ``LabelSelector`` (matchLabels + matchExpressions). An empty selector matches everything,
    as in ``metav1.LabelSelectorAsSelector``; a missing one (None) matches nothing."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    return all(_expression_matches(labels, e) for e in selector.get("matchExpressions") or [])


def map_selector_matches(selector: Mapping[str, str] | None, labels: Mapping[str, str]) -> bool:
    """A Service's plain ``selector`` map. Empty or missing selects nothing (selectorless Service)."""
    if not selector:
        return False
    return all(labels.get(k) == v for k, v in selector.items())


def sorted_by_name(objs: Iterable[Obj]) -> list[Obj]:
    return sorted(objs, key=lambda o: (namespace_of(o), name_of(o)))
