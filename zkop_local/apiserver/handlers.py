"""The API verbs on stored objects: get, list, create, update, patch, delete, scale, logs.

This module knows Kubernetes semantics and nothing about HTTP paths (routes.py parses those) or streaming
(watch.py). Every write goes through ``_commit`` so that server-owned metadata, status isolation, finalizer
rules, generation, managedFields and validation are applied the same way whatever the verb.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import crds, defaults, errors, merging
from .errors import ApiError
from .faults import Faults
from .meta import (
    Obj,
    deep,
    generated_name,
    get_path,
    metadata,
    name_problem,
    new_uid,
    now,
    rfc3339,
    set_path,
    spec_changed,
    without,
)
from .patches import PatchError, json_patch, merge_patch
from .resources import Registry, ResourceType
from .selectors import Selector, selector_string
from .store import Store

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
# Real servers return the deleted object (not a Status) from these stores.
_RETURNS_DELETED_OBJECT = {("", "pods"), ("", "services"), ("", "serviceaccounts")}
_GC_FINALIZERS = ("orphan", "foregroundDeletion")
_ENVELOPE = ("apiVersion", "kind", "metadata")


@dataclass
class LogRequest:
    """What a ``pods/<name>/log`` request asks the log provider for."""

    namespace: str
    pod: str
    container: str
    follow: bool = False
    previous: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    timestamps: bool = False
    pod_object: Obj = field(default_factory=dict)


LogResult = str | bytes | AsyncIterator[bytes]
LogProvider = Callable[[LogRequest], Awaitable[LogResult]]


@dataclass
class Target:
    """The resource (and maybe object) a request addresses."""

    rtype: ResourceType
    namespace: str = ""  # "" for cluster-scoped kinds and for lists across namespaces
    name: str = ""
    subresource: str = ""


@dataclass
class WriteContext:
    """Per-request write options."""

    manager: str
    dry_run: bool = False
    field_validation: str = "Warn"  # Strict | Warn | Ignore
    warnings: list[str] = field(default_factory=list)


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def parse_body(raw: bytes, *, allow_yaml: bool = False) -> Any:
    """JSON first (clients send JSON even as apply-patch+yaml), YAML as a fallback where allowed."""
    if not raw:
        raise errors.bad_request("the request body is empty")
    try:
        return json.loads(raw)
    except ValueError as exc:
        if not allow_yaml:
            raise errors.bad_request(f"couldn't decode the request body as JSON: {exc}") from exc
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error decoding YAML: {exc}") from exc


class Api:
    """The verbs. ``registry`` changes as CRDs come and go; ``store`` holds every object."""

    def __init__(self, store: Store, registry: Registry, faults: Faults) -> None:
        self.store = store
        self.registry = registry
        self.faults = faults
        self.log_provider: LogProvider | None = None
        # Called with a namespace name when its deletion starts (namespaces.py drains it).
        self.on_namespace_terminating: Callable[[str], None] | None = None

    # -- presentation --------------------------------------------------------------------------------------

    @staticmethod
    def present(rtype: ResourceType, obj: Obj) -> Obj:
        """A stored object as seen through ``rtype``'s version (CR versions share storage, strategy None)."""
        shown = deep(obj)
        shown["apiVersion"] = rtype.api_version
        shown["kind"] = rtype.kind
        return shown

    def _stored(self, target: Target) -> Obj:
        rtype = target.rtype
        obj = self.store.get(rtype.key, target.namespace, target.name)
        if obj is None:
            raise errors.not_found(rtype.plural, rtype.group, target.name)
        return obj

    # -- reads ---------------------------------------------------------------------------------------------

    def get(self, target: Target, *, stale: bool = False) -> Obj:
        obj = self._stored(target)
        if stale:
            obj = self.store.previous(target.rtype.key, target.namespace, target.name) or obj
        if target.subresource == "scale":
            return self._scale_of(target.rtype, obj)
        return self.present(target.rtype, obj)

    def selector(self, rtype: ResourceType, query: dict[str, str]) -> Selector:
        return Selector.parse(
            query.get("labelSelector", ""), query.get("fieldSelector", ""), rtype.field_selectors
        )

    def list(self, target: Target, query: dict[str, str], *, stale: bool = False) -> Obj:
        rtype = target.rtype
        namespace = target.namespace if rtype.namespaced and target.namespace else None
        limit = int(query.get("limit") or 0)
        token = query.get("continue", "")
        if token:
            snapshot = self.store.take_snapshot(token)
            if snapshot is None:
                raise errors.expired(
                    "The provided continue parameter is too old to display a consistent list result. "
                    "You can start a new list without the continue parameter."
                )
            rv, items = snapshot.rv, snapshot.items
        else:
            requested = query.get("resourceVersion", "")
            if query.get("resourceVersionMatch") == "Exact" and requested and requested != str(self.store.rv):
                raise errors.expired(f"too old resource version: {requested} ({self.store.rv})")
            selector = self.selector(rtype, query)
            rv = self.store.rv
            items = [o for o in self.store.list(rtype.key, namespace) if selector.matches(o)]
            if stale:
                items = [
                    self.store.previous(rtype.key, metadata(o).get("namespace", ""), metadata(o)["name"]) or o
                    for o in items
                ]
        list_meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if limit and len(items) > limit:
            items, rest = items[:limit], items[limit:]
            list_meta["continue"] = self.store.save_snapshot(rv, rest)
            list_meta["remainingItemCount"] = len(rest)
        shown = []
        for item in items:
            one = self.present(rtype, item)
            if not rtype.is_custom:
                # Built-in list items carry no kind/apiVersion on a real server; CR items do.
                one.pop("kind", None)
                one.pop("apiVersion", None)
            shown.append(one)
        return {
            "kind": rtype.list_kind,
            "apiVersion": rtype.api_version,
            "metadata": list_meta,
            "items": shown,
        }

    # -- create --------------------------------------------------------------------------------------------

    def _check_identity(self, rtype: ResourceType, obj: Obj) -> None:
        api_version = obj.get("apiVersion")
        if api_version and api_version != rtype.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rtype.api_version})"
            )
        kind = obj.get("kind")
        if kind and kind != rtype.kind:
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})"
            )

    def _check_namespace_for_create(self, rtype: ResourceType, namespace: str) -> None:
        if not rtype.namespaced:
            return
        ns = self.store.get(("", "namespaces"), "", namespace)
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if metadata(ns).get("deletionTimestamp"):
            raise errors.forbidden(
                f'{rtype.plural} "{{name}}" is forbidden: unable to create new content in namespace '
                f"{namespace} because it is being terminated",
                details={
                    "group": rtype.group,
                    "kind": rtype.plural,
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {namespace} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def create(self, target: Target, body: Any, ctx: WriteContext, *, managed: bool = False) -> Obj:
        """POST a new object; also the create half of an apply (``managed``: managedFields are set)."""
        rtype = target.rtype
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        self._check_identity(rtype, body)
        obj = deep(body)
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        meta = metadata(obj)
        if rtype.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != target.namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = target.namespace
        else:
            meta.pop("namespace", None)
        if meta.get("resourceVersion") and not managed:
            # Mirrors the etcd3 storage layer, which refuses this with an internal error.
            raise errors.internal("resourceVersion should not be set on objects to be created")
        self._check_namespace_for_create(rtype, target.namespace)
        if not meta.get("name") and not meta.get("generateName"):
            raise errors.invalid(
                rtype.kind,
                rtype.group,
                "",
                [("FieldValueRequired", "metadata.name", "Required value: name or generateName is required")],
            )
        for key in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(key, None)
        if not managed:
            meta.pop("managedFields", None)
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = rfc3339()
        if rtype.has_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if rtype.status_subresource:
            # Clients cannot set status on create when it is a subresource (PrepareForCreate).
            initial = defaults.initial_status(rtype.key)
            if rtype.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                initial = None
            obj.pop("status", None)
            if initial is not None:
                obj["status"] = initial
        if meta.get("name"):
            self._validate_name(rtype, meta["name"])
        obj = self._prepare(rtype, obj, None, ctx)
        if not meta.get("name"):
            # RetryGenerateName: draw again on a clash instead of answering 409.
            for _ in range(8):
                meta["name"] = generated_name(meta["generateName"])
                if self.store.get(rtype.key, target.namespace, meta["name"]) is None:
                    break
        if self.store.get(rtype.key, meta.get("namespace", ""), meta["name"]) is not None:
            raise errors.already_exists(rtype.plural, rtype.group, meta["name"])
        if not managed:
            obj = merging.record_update(
                None,
                obj,
                manager=ctx.manager,
                gvk=rtype.gvk,
                schema=rtype.schema,
                status_subresource=rtype.status_subresource,
                now=rfc3339(),
                subresource=None,
            )
        if ctx.dry_run:
            return self.present(rtype, obj)
        stored = self.store.put(rtype.key, obj)
        self._after_write(rtype, None, stored)
        return self.present(rtype, stored)

    def _validate_name(self, rtype: ResourceType, name: str) -> None:
        problem = (
            name_problem(name) if rtype.strict_names else ("may not contain '/'" if "/" in name else None)
        )
        if problem:
            raise errors.invalid(
                rtype.kind,
                rtype.group,
                name,
                [("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {problem}')],
            )

    def _prepare(self, rtype: ResourceType, obj: Obj, old: Obj | None, ctx: WriteContext) -> Obj:
        """Defaulting and validation shared by create and update."""
        defaults.apply_defaults(rtype.key, obj)
        defaults.normalize_times(rtype.key, obj)
        name = metadata(obj).get("name", "")
        if rtype.schema is not None:
            obj = self._validate_custom(rtype, obj, ctx)
        if rtype.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            causes = crds.validate(obj)
            if causes:
                raise errors.invalid(rtype.kind, rtype.group, name, causes)
            obj["status"] = crds.established_status(obj, (old or {}).get("status"), rfc3339())
        return obj

    def _validate_custom(self, rtype: ResourceType, obj: Obj, ctx: WriteContext) -> Obj:
        assert rtype.schema is not None
        envelope: Obj = {k: obj[k] for k in _ENVELOPE if k in obj}
        result, causes, unknown = merging.validate_default_prune(obj, rtype.schema)
        result = {**result, **envelope}  # metadata and type fields are the server's, never pruned
        name = metadata(obj).get("name", "") or metadata(obj).get("generateName", "")
        if causes:
            raise errors.invalid(rtype.kind, rtype.group, name, causes)
        unknown = [u for u in unknown if u.split(".")[0].split("[")[0] not in _ENVELOPE]
        if unknown and ctx.field_validation == "Strict":
            raise errors.bad_request(
                "strict decoding error: " + ", ".join(f'unknown field "{path}"' for path in unknown)
            )
        if unknown and ctx.field_validation != "Ignore":
            ctx.warnings.extend(f'unknown field "{path}"' for path in unknown)
        return result

    # -- update --------------------------------------------------------------------------------------------

    def update(self, target: Target, body: Any, ctx: WriteContext) -> Obj:
        """PUT. Stale resourceVersion gives 409; CRs also require one (422 without)."""
        rtype = target.rtype
        if not isinstance(body, dict):
            raise errors.bad_request("the request body must be a JSON object")
        current = self._stored(target)
        if target.subresource == "scale":
            return self._write_scale(target, current, body, ctx)
        self._check_identity(rtype, body)
        rv = metadata(body).get("resourceVersion")
        if not rv and rtype.is_custom:
            raise errors.invalid(
                rtype.kind,
                rtype.group,
                target.name,
                [
                    (
                        "FieldValueInvalid",
                        "metadata.resourceVersion",
                        "Invalid value: 0x0: must be specified for an update",
                    )
                ],
            )
        if rv and rv != metadata(current)["resourceVersion"]:
            raise errors.conflict(rtype.plural, rtype.group, target.name)
        return self._commit(target, current, deep(body), ctx, managed=False)

    def _commit(self, target: Target, current: Obj, new: Obj, ctx: WriteContext, *, managed: bool) -> Obj:
        """Turn a client's full desired object into the stored one and store it (see module doc)."""
        rtype = target.rtype
        sub = target.subresource or None
        new_meta = metadata(new)
        cur_meta = current["metadata"]
        for key in ("name", "namespace"):
            if new_meta.get(key, cur_meta.get(key)) != cur_meta.get(key):
                raise errors.bad_request(
                    f"the {key} of the object ({new_meta.get(key)}) does not match the {key} on the URL "
                    f"({cur_meta.get(key)})"
                )
        if sub == "status":
            # Only status moves through /status; the rest of the body is ignored.
            result = deep(current)
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
            if managed:
                result["metadata"]["managedFields"] = new_meta.get("managedFields", [])
        else:
            result = new
            result["apiVersion"], result["kind"] = rtype.api_version, rtype.kind
            if rtype.status_subresource:
                if "status" in current:
                    result["status"] = deep(current["status"])
                else:
                    result.pop("status", None)
            meta = metadata(result)
            for key in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ):
                if key in cur_meta:
                    meta[key] = cur_meta[key]
                else:
                    meta.pop(key, None)
            meta["namespace"] = cur_meta.get("namespace")
            if not rtype.namespaced:
                meta.pop("namespace", None)
            self._check_finalizers(rtype, current, result)
        meta = result["metadata"]
        meta["resourceVersion"] = cur_meta["resourceVersion"]
        if sub != "status":
            result = self._prepare(rtype, result, current, ctx)
            meta = result["metadata"]
        if rtype.has_generation and spec_changed(
            current, result, status_is_subresource=rtype.status_subresource
        ):
            meta["generation"] = int(cur_meta.get("generation", 1)) + 1
        if not managed:
            result = merging.record_update(
                self.present(rtype, current),
                result,
                manager=ctx.manager,
                gvk=rtype.gvk,
                schema=rtype.schema,
                status_subresource=rtype.status_subresource,
                now=rfc3339(),
                subresource=sub,
            )
        if _same(current, result, with_managed_fields=managed):
            # A no-op write is not stored: no new resourceVersion, no watch event (like the real server).
            # An apply that only adds an owner does change managedFields, so it is stored.
            return self.present(rtype, current)
        if ctx.dry_run:
            return self.present(rtype, result)
        gone = cur_meta.get("deletionTimestamp") and not result["metadata"].get("finalizers")
        if gone and not (rtype.key == ("", "pods") and _pod_still_terminating(result)):
            final = self.store.remove(rtype.key, cur_meta.get("namespace", ""), cur_meta["name"])
            self._after_delete(rtype, final or result)
            return self.present(rtype, result)
        stored = self.store.put(rtype.key, result)
        self._after_write(rtype, current, stored)
        return self.present(rtype, stored)

    def _check_finalizers(self, rtype: ResourceType, current: Obj, result: Obj) -> None:
        if not current["metadata"].get("deletionTimestamp"):
            return
        before = set(current["metadata"].get("finalizers") or [])
        added = [f for f in result["metadata"].get("finalizers") or [] if f not in before]
        if added:
            raise errors.invalid(
                rtype.kind,
                rtype.group,
                current["metadata"]["name"],
                [
                    (
                        "FieldValueForbidden",
                        "metadata.finalizers",
                        "Forbidden: no new finalizers can be added if the object is being deleted, "
                        f"found new finalizers "
                        f"{json.dumps(added)}",
                    )
                ],
            )

    # -- patch ---------------------------------------------------------------------------------------------

    def patch(
        self, target: Target, raw: bytes, content_type: str, query: dict[str, str], ctx: WriteContext
    ) -> tuple[int, Obj]:
        rtype = target.rtype
        media = content_type.split(";")[0].strip().lower()
        accepted = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH] + ([] if rtype.is_custom else [STRATEGIC_PATCH])
        if media not in accepted:
            raise errors.unsupported_media_type(media, accepted)
        if "force" in query and media != APPLY_PATCH:
            raise errors.invalid(
                "PatchOptions",
                "meta.k8s.io",
                "",
                [("FieldValueForbidden", "force", "Forbidden: may not be specified for non-apply patch")],
            )
        if media == APPLY_PATCH:
            return self._apply(target, raw, query, ctx)
        patch = parse_body(raw)
        current = self._stored(target)
        if target.subresource == "scale":
            base = self._scale_of(rtype, current)
        else:
            base = self.present(rtype, current)
        try:
            if media == JSON_PATCH:
                patched = json_patch(base, patch)
            elif media == MERGE_PATCH:
                if not isinstance(patch, dict):
                    raise errors.bad_request("a merge patch must be a JSON object")
                patched = merge_patch(base, patch)
            elif target.subresource == "scale":
                patched = merge_patch(base, patch)
            else:
                if not isinstance(patch, dict):
                    raise errors.bad_request("a strategic merge patch must be a JSON object")
                patched = merging.strategic_merge(base, patch, rtype.gvk)
        except PatchError as exc:
            raise errors.invalid(
                rtype.kind, rtype.group, target.name, [("FieldValueInvalid", "", str(exc))]
            ) from exc
        if not isinstance(patched, dict):
            raise errors.bad_request("the patched object is not a JSON object")
        if target.subresource == "scale":
            return 200, self._write_scale(target, current, patched, ctx)
        rv = metadata(patched).get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise errors.conflict(rtype.plural, rtype.group, target.name)
        return 200, self._commit(target, current, patched, ctx, managed=False)

    def _apply(self, target: Target, raw: bytes, query: dict[str, str], ctx: WriteContext) -> tuple[int, Obj]:
        rtype = target.rtype
        if not query.get("fieldManager"):
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
                details={
                    "group": "meta.k8s.io",
                    "kind": "PatchOptions",
                    "causes": [
                        {
                            "reason": "FieldValueRequired",
                            "message": "Required value: is required for apply patch",
                            "field": "fieldManager",
                        }
                    ],
                },
            )
        if target.subresource == "scale":
            raise errors.unsupported_media_type(APPLY_PATCH, [JSON_PATCH, MERGE_PATCH])
        applied = parse_body(raw, allow_yaml=True)
        if not isinstance(applied, dict):
            raise errors.bad_request("the apply body must be an object")
        self._check_identity(rtype, applied)
        for key in ("apiVersion", "kind"):
            if not applied.get(key):
                raise errors.bad_request(f"{key} must be set in an apply request")
        meta = metadata(applied)
        if meta.get("managedFields"):
            raise errors.bad_request("metadata.managedFields must be nil")
        if meta.get("name") and meta["name"] != target.name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({target.name})"
            )
        meta["name"] = target.name
        if rtype.namespaced:
            if meta.get("namespace") and meta["namespace"] != target.namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = target.namespace
        force = _flag(query.get("force"))
        sub = target.subresource or None
        current = self.store.get(rtype.key, target.namespace, target.name)
        if current is None:
            if sub is not None:
                raise errors.not_found(rtype.plural, rtype.group, target.name)
            if meta.get("resourceVersion"):
                raise errors.not_found(rtype.plural, rtype.group, target.name)
            created = merging.apply(
                None,
                applied,
                manager=ctx.manager,
                force=force,
                gvk=rtype.gvk,
                schema=rtype.schema,
                status_subresource=rtype.status_subresource,
                now=rfc3339(),
                subresource=None,
            )
            return 201, self.create(target, created, ctx, managed=True)
        rv = meta.get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise errors.conflict(rtype.plural, rtype.group, target.name)
        live = self.present(rtype, current)
        merged = merging.apply(
            live,
            applied,
            manager=ctx.manager,
            force=force,
            gvk=rtype.gvk,
            schema=rtype.schema,
            now=rfc3339(),
            status_subresource=rtype.status_subresource,
            subresource=sub,
        )
        return 200, self._commit(target, current, merged, ctx, managed=True)

    # -- scale ---------------------------------------------------------------------------------------------

    def _scale_of(self, rtype: ResourceType, obj: Obj) -> Obj:
        spec = rtype.scale
        if spec is None:
            raise errors.path_not_found()
        meta = obj["metadata"]
        if spec.selector_struct_path:
            selector = get_path(obj, spec.selector_struct_path)
            selector_text = selector_string(selector) if isinstance(selector, dict) else ""
        elif spec.label_selector_path:
            selector_text = get_path(obj, spec.label_selector_path) or ""
        else:
            selector_text = ""
        status: dict[str, Any] = {"replicas": get_path(obj, spec.status_replicas_path) or 0}
        if selector_text:
            status["selector"] = selector_text
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if k in meta
            },
            "spec": {"replicas": get_path(obj, spec.spec_replicas_path) or 0},
            "status": status,
        }

    def _write_scale(self, target: Target, current: Obj, scale: Obj, ctx: WriteContext) -> Obj:
        rtype = target.rtype
        if rtype.scale is None:
            raise errors.path_not_found()
        rv = metadata(scale).get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise errors.conflict(rtype.plural, rtype.group, target.name)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise errors.invalid(
                "Scale",
                "autoscaling",
                target.name,
                [
                    (
                        "FieldValueInvalid",
                        "spec.replicas",
                        f"Invalid value: {replicas}: must be greater than or equal to 0",
                    )
                ],
            )
        desired = self.present(rtype, current)
        set_path(desired, rtype.scale.spec_replicas_path, replicas)
        main = Target(rtype, target.namespace, target.name, "")
        written = self._commit(main, current, desired, WriteContext(ctx.manager, ctx.dry_run), managed=False)
        stored = self.store.get(rtype.key, target.namespace, target.name) or written
        return self._scale_of(rtype, stored if not ctx.dry_run else written)

    # -- delete --------------------------------------------------------------------------------------------

    def delete(self, target: Target, options: dict[str, Any]) -> Obj:
        """DELETE one object; returns the response body (object when it lingers, else Status or object)."""
        rtype = target.rtype
        current = self._stored(target)
        cur_meta = current["metadata"]
        preconditions = options.get("preconditions") or {}
        if preconditions.get("uid") and preconditions["uid"] != cur_meta["uid"]:
            raise errors.conflict(
                rtype.plural,
                rtype.group,
                target.name,
                f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                f"UID in object meta: {cur_meta['uid']}",
            )
        if (
            preconditions.get("resourceVersion")
            and preconditions["resourceVersion"] != cur_meta["resourceVersion"]
        ):
            raise errors.conflict(
                rtype.plural,
                rtype.group,
                target.name,
                f"Precondition failed: ResourceVersion in precondition: "
                f"{preconditions['resourceVersion']}, ResourceVersion in object meta: "
                f"{cur_meta['resourceVersion']}",
            )
        dry_run = bool(options.get("dryRun"))
        result = deep(current)
        meta = result["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:
            policy = "Orphan" if options["orphanDependents"] else "Background"
        if policy in ("Foreground", "Orphan", "Background"):
            wanted = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(policy)
            finalizers = [f for f in finalizers if f not in _GC_FINALIZERS or f == wanted]
            if wanted and wanted not in finalizers:
                finalizers.append(wanted)
        elif policy is not None:
            raise errors.invalid(
                "DeleteOptions",
                "meta.k8s.io",
                "",
                [
                    (
                        "FieldValueNotSupported",
                        "propagationPolicy",
                        f'Unsupported value: "{policy}": supported values: '
                        '"Foreground", "Background", "Orphan"',
                    )
                ],
            )
        if finalizers:
            meta["finalizers"] = finalizers
        else:
            meta.pop("finalizers", None)
        stamp = now()
        grace = 0
        if rtype.key == ("", "pods"):
            grace = _pod_grace(result, options)
        if rtype.key == ("", "namespaces"):
            return self._delete_namespace(rtype, current, result, dry_run)
        if grace > 0 or finalizers:
            deadline = rfc3339(stamp + dt.timedelta(seconds=grace))
            existing = meta.get("deletionTimestamp")
            if existing is None:
                if rtype.has_generation and meta.get("generation"):
                    meta["generation"] = int(meta["generation"]) + 1
                meta["deletionTimestamp"] = deadline
                meta["deletionGracePeriodSeconds"] = grace
            elif grace < int(meta.get("deletionGracePeriodSeconds") or 0):
                # A second DELETE may only shorten the grace period (the kubelet's final one uses 0).
                meta["deletionTimestamp"] = min(deadline, existing)
                meta["deletionGracePeriodSeconds"] = grace
            if _same(current, result) or dry_run:
                return self.present(rtype, result)
            stored = self.store.put(rtype.key, result)
            self._after_write(rtype, current, stored)
            return self.present(rtype, stored)
        if dry_run:
            final = result
        else:
            final = self.store.remove(rtype.key, target.namespace, target.name) or result
            self._after_delete(rtype, final)
        if rtype.key in _RETURNS_DELETED_OBJECT:
            return self.present(rtype, final)
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": target.name,
                "group": rtype.group,
                "kind": rtype.plural,
                "uid": cur_meta["uid"],
            },
        }

    def _delete_namespace(self, rtype: ResourceType, current: Obj, result: Obj, dry_run: bool) -> Obj:
        """Namespaces always linger: phase Terminating until namespaces.py has emptied them."""
        meta = result["metadata"]
        meta.setdefault("deletionTimestamp", rfc3339())
        meta.setdefault("deletionGracePeriodSeconds", 0)
        result.setdefault("status", {})["phase"] = "Terminating"
        if dry_run:
            return self.present(rtype, result)
        if not _same(current, result):
            self.store.put(rtype.key, result)
        if self.on_namespace_terminating is not None:
            self.on_namespace_terminating(meta["name"])
        return self.present(rtype, self.store.get(rtype.key, "", meta["name"]) or result)

    def delete_collection(self, target: Target, query: dict[str, str], options: dict[str, Any]) -> Obj:
        rtype = target.rtype
        listing = self.list(
            Target(rtype, target.namespace),
            {k: v for k, v in query.items() if k in ("labelSelector", "fieldSelector")},
        )
        deleted = []
        for item in listing["items"]:
            meta = item["metadata"]
            try:
                self.delete(Target(rtype, meta.get("namespace", ""), meta["name"]), options)
            except ApiError as exc:
                if exc.code != 404:
                    raise
            deleted.append(item)
        listing["items"] = deleted
        return listing

    # -- hooks ---------------------------------------------------------------------------------------------

    def _after_write(self, rtype: ResourceType, old: Obj | None, new: Obj) -> None:
        if rtype.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._register_crd(old, new)

    def _after_delete(self, rtype: ResourceType, final: Obj) -> None:
        if rtype.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self._unregister_crd(final)

    def _register_crd(self, old: Obj | None, crd: Obj) -> None:
        spec = crd.get("spec") or {}
        if old is not None:
            old_spec = old.get("spec") or {}
            self.registry.remove_group_plural(
                old_spec.get("group", ""), (old_spec.get("names") or {}).get("plural", "")
            )
        for rtype in crds.resource_types(crd):
            self.registry.add(rtype)
        del spec

    def _unregister_crd(self, crd: Obj) -> None:
        """The CRD is gone: its instances go with it (a real server does this behind a finalizer)."""
        spec = crd.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        for obj in self.store.list((group, plural)):
            self.store.remove((group, plural), obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        self.registry.remove_group_plural(group, plural)
        self.store.close_watchers_of((group, plural))

    # -- logs ----------------------------------------------------------------------------------------------

    async def logs(self, target: Target, query: dict[str, str]) -> LogResult:
        pod = self._stored(target)
        containers = [c.get("name", "") for c in (pod.get("spec") or {}).get("containers") or []]
        container = query.get("container", "")
        if not container:
            if len(containers) != 1:
                raise errors.bad_request(
                    f"a container name must be specified for pod {target.name}, choose one of: "
                    f"[{' '.join(containers)}]"
                )
            container = containers[0]
        init = [c.get("name", "") for c in (pod.get("spec") or {}).get("initContainers") or []]
        if container not in containers and container not in init:
            raise errors.bad_request(f"container {container} is not valid for pod {target.name}")
        request = LogRequest(
            namespace=target.namespace,
            pod=target.name,
            container=container,
            follow=_flag(query.get("follow")),
            previous=_flag(query.get("previous")),
            tail_lines=int(query["tailLines"]) if query.get("tailLines") else None,
            since_seconds=int(query["sinceSeconds"]) if query.get("sinceSeconds") else None,
            timestamps=_flag(query.get("timestamps")),
            pod_object=self.present(target.rtype, pod),
        )
        if self.log_provider is None:
            return ""
        return await self.log_provider(request)


def _pod_grace(pod: Obj, options: dict[str, Any]) -> int:
    """Graceful deletion period: unscheduled or finished pods go at once (nothing runs them)."""
    spec = pod.get("spec") or {}
    phase = (pod.get("status") or {}).get("phase")
    if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
        return 0
    if options.get("gracePeriodSeconds") is not None:
        return max(0, int(options["gracePeriodSeconds"]))
    return int(spec.get("terminationGracePeriodSeconds", 30))


def _pod_still_terminating(pod: Obj) -> bool:
    """A graceful pod whose finalizers went is still the kubelet's to delete (grace > 0)."""
    return int(pod["metadata"].get("deletionGracePeriodSeconds") or 0) > 0


def _same(old: Obj, new: Obj, *, with_managed_fields: bool = False) -> bool:
    """Equal apart from resourceVersion and (unless asked) managedFields, whose timestamps every update
    record moves."""
    ignored = ("resourceVersion",) if with_managed_fields else ("managedFields", "resourceVersion")

    def strip(obj: Obj) -> Obj:
        meta = without(obj.get("metadata") or {}, *ignored)
        return {**without(obj, "apiVersion", "kind"), "metadata": meta}

    return strip(old) == strip(new)


def delete_options(query: dict[str, str], body: Any) -> dict[str, Any]:
    """DeleteOptions from the query (Python client) and/or a JSON body (kubectl); the body wins."""
    options: dict[str, Any] = {}
    if "gracePeriodSeconds" in query:
        options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    if "orphanDependents" in query:
        options["orphanDependents"] = _flag(query["orphanDependents"])
    if query.get("dryRun"):
        options["dryRun"] = [query["dryRun"]]
    if isinstance(body, dict):
        for key in ("gracePeriodSeconds", "propagationPolicy", "orphanDependents", "preconditions", "dryRun"):
            if body.get(key) is not None:
                options[key] = body[key]
    return options
