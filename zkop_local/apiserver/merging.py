"""The seam to the schema-aware algorithms in ``merge/`` (strategic merge, server-side apply, CRD schemas).

Errors from those modules are translated here into API errors, so the handlers see one vocabulary.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .merge import schema as crd_schema
from .merge import ssa, strategic
from .meta import Obj

GVK = tuple[str, str, str]


def _name(obj: Obj | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("name", ""))


def strategic_merge(original: Obj, patch: Obj, gvk: GVK) -> Obj:
    try:
        return strategic.strategic_merge(original, patch, gvk)
    except strategic.StrategicMergeError as exc:
        raise errors.invalid(
            gvk[2], gvk[0], _name(original), [("FieldValueInvalid", "", exc.message)]
        ) from exc


def apply(
    live: Obj | None,
    applied: Obj,
    *,
    manager: str,
    force: bool,
    gvk: GVK,
    schema: dict[str, Any] | None,
    status_subresource: bool,
    now: str,
    subresource: str | None,
) -> Obj:
    """Server-side apply; an ownership conflict becomes 409 Conflict with FieldManagerConflict causes."""
    try:
        return ssa.apply(
            live,
            applied,
            manager=manager,
            force=force,
            gvk=gvk,
            schema=schema,
            now=now,
            subresource=subresource,
            status_subresource=status_subresource,
        )
    except ssa.ApplyConflict as exc:
        raise errors.ApiError(409, "Conflict", exc.message, details={"causes": exc.causes}) from exc
    except ssa.InvalidApply as exc:
        raise errors.bad_request(str(exc)) from exc


def record_update(
    old: Obj | None,
    new: Obj,
    *,
    manager: str,
    gvk: GVK,
    schema: dict[str, Any] | None,
    status_subresource: bool,
    now: str,
    subresource: str | None,
) -> Obj:
    """managedFields bookkeeping for a non-apply write (operation Update)."""
    return ssa.record_update(
        old,
        new,
        manager=manager,
        gvk=gvk,
        schema=schema,
        now=now,
        subresource=subresource,
        status_subresource=status_subresource,
    )


def validate_default_prune(
    obj: Obj, schema: dict[str, Any]
) -> tuple[Obj, list[tuple[str, str, str]], list[str]]:
    """Prune, default and validate a custom resource: (result, 422 causes, paths of pruned unknown fields)."""
    unknown: list[str] = []
    result, problems = crd_schema.validate_default_prune(obj, schema, unknown_fields=unknown)
    causes = [(crd_schema.reason_for(message), path, message) for path, message in problems]
    return result, causes, unknown
