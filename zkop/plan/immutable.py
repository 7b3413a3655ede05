"""Spec changes the StatefulSet cannot take after creation. Pure.

Kubernetes refuses updates to a StatefulSet's volumeClaimTemplates (and selector, serviceName,
podManagementPolicy). zkop reports the offending spec field instead of letting the API refuse the whole
apply, and leaves everything running untouched.
"""

from __future__ import annotations

from typing import Any

from zkop.kube.compare import covers


def _claim(statefulset: dict[str, Any]) -> dict[str, Any]:
    templates = (statefulset.get("spec") or {}).get("volumeClaimTemplates") or [{}]
    spec: dict[str, Any] = templates[0].get("spec") or {}
    return spec


def immutable_changes(live: dict[str, Any], desired_objects: list[dict[str, Any]]) -> str | None:
    """A message naming the spec field that asks for an impossible change, or None."""
    desired = next((o for o in desired_objects if o["kind"] == "StatefulSet"), None)
    if desired is None:
        return None
    live_claim, want_claim = _claim(live), _claim(desired)
    live_size = ((live_claim.get("resources") or {}).get("requests") or {}).get("storage")
    want_size = want_claim["resources"]["requests"]["storage"]
    if live_size is not None and not covers(
        {"requests": {"storage": live_size}}, {"requests": {"storage": want_size}}
    ):
        return (
            f"spec.storage.size: cannot change from {live_size} to {want_size} after creation "
            f"(volume claims are immutable); set it back to {live_size}"
        )
    live_class = live_claim.get("storageClassName")
    want_class = want_claim.get("storageClassName")
    if want_class is not None and live_class != want_class:
        return (
            f"spec.storage.storageClassName: cannot change from {live_class!r} to {want_class!r} after "
            "creation; set it back"
        )
    return None
