"""CustomResourceDefinitions: validation, the status the server writes, and the resource types they serve."""

from __future__ import annotations

import re
from typing import Any

from .meta import Obj
from .resources import ResourceType, ScaleSpec

_PLURAL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def validate(crd: Obj) -> list[tuple[str, str, str]]:
    """The checks a real server makes that matter to clients here; returns 422 causes."""
    causes: list[tuple[str, str, str]] = []
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    plural = names.get("plural", "")
    if not group:
        causes.append(("FieldValueRequired", "spec.group", "Required value"))
    elif "." not in group:
        causes.append(
            (
                "FieldValueInvalid",
                "spec.group",
                f'Invalid value: "{group}": should be a domain with at least one dot',
            )
        )
    if not plural or not _PLURAL.match(plural):
        causes.append(("FieldValueRequired", "spec.names.plural", "Required value"))
    if not names.get("kind"):
        causes.append(("FieldValueRequired", "spec.names.kind", "Required value"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            (
                "FieldValueNotSupported",
                "spec.scope",
                'Unsupported value: supported values: "Cluster", "Namespaced"',
            )
        )
    name = (crd.get("metadata") or {}).get("name", "")
    if plural and group and name != f"{plural}.{group}":
        causes.append(
            (
                "FieldValueInvalid",
                "metadata.name",
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
            )
        )
    versions = spec.get("versions") or []
    if not versions:
        causes.append(
            (
                "FieldValueRequired",
                "spec.versions",
                "Required value: must have exactly one version marked as storage version",
            )
        )
    elif sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(
            (
                "FieldValueInvalid",
                "spec.versions",
                "Invalid value: must have exactly one version marked as storage version",
            )
        )
    for index, version in enumerate(versions):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            causes.append(
                (
                    "FieldValueRequired",
                    f"spec.versions[{index}].schema.openAPIV3Schema",
                    "Required value: schemas are required",
                )
            )
        elif schema.get("type") != "object":
            causes.append(
                (
                    "FieldValueInvalid",
                    f"spec.versions[{index}].schema.openAPIV3Schema.type",
                    'Invalid value: must be "object" at the root',
                )
            )
    return causes


def accepted_names(crd: Obj) -> dict[str, Any]:
    names = dict((crd.get("spec") or {}).get("names") or {})
    names.setdefault("singular", names.get("kind", "").lower())
    names.setdefault("listKind", names.get("kind", "") + "List")
    return names


def established_status(crd: Obj, old_status: dict[str, Any] | None, now: str) -> dict[str, Any]:
    """The status a real apiextensions server converges to: names accepted and established.

    lastTransitionTime is kept from the previous status so re-writes do not look like transitions.
    """
    old_conditions = {c.get("type"): c for c in (old_status or {}).get("conditions") or []}

    def condition(kind: str, reason: str, message: str) -> dict[str, Any]:
        previous = old_conditions.get(kind)
        since = previous["lastTransitionTime"] if previous and previous.get("status") == "True" else now
        return {
            "type": kind,
            "status": "True",
            "lastTransitionTime": since,
            "reason": reason,
            "message": message,
        }

    spec = crd.get("spec") or {}
    stored = list((old_status or {}).get("storedVersions") or [])
    for version in spec.get("versions") or []:
        if version.get("storage") and version.get("name") not in stored:
            stored.append(version["name"])
    return {
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": accepted_names(crd),
        "storedVersions": stored,
    }


def resource_types(crd: Obj) -> list[ResourceType]:
    """One ResourceType per served version. All share storage, so objects convert with strategy None."""
    spec = crd.get("spec") or {}
    names = accepted_names(crd)
    served = [v for v in spec.get("versions") or [] if v.get("served", True)]
    result = []
    for version in served:
        subresources = version.get("subresources") or {}
        scale_spec = subresources.get("scale")
        scale = None
        if isinstance(scale_spec, dict):
            scale = ScaleSpec(
                spec_replicas_path=scale_spec.get("specReplicasPath", ".spec.replicas"),
                status_replicas_path=scale_spec.get("statusReplicasPath", ".status.replicas"),
                label_selector_path=scale_spec.get("labelSelectorPath"),
            )
        selectable = tuple(
            str(f.get("jsonPath", "")).lstrip(".") for f in version.get("selectableFields") or []
        )
        result.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status_subresource="status" in subresources,
                scale=scale,
                has_generation=True,
                field_selectors=selectable,
                is_custom=True,
                list_kind=names["listKind"],
                singular=names["singular"],
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=list(version.get("additionalPrinterColumns") or []),
                strict_names=True,
                storage_versions=tuple(v["name"] for v in served),
            )
        )
    return result
