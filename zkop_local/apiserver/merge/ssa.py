"""Server-side apply and managedFields bookkeeping.

A re-implementation of the behaviour of sigs.k8s.io/structured-merge-diff (``merge.Updater``) and the API
server's field manager (``k8s.io/apimachinery/pkg/util/managedfields``), on plain JSON values:

* Field sets are sets of paths; a path is a tuple of FieldsV1 path elements: ``f:<field>``,
  ``k:<json of the key fields>`` (list-map items), ``v:<json>`` (set items), ``i:<index>``. They serialize to
  ``fieldsV1`` exactly as Kubernetes does (``"."`` marks a node that is owned itself, leaves are ``{}``).
* :func:`apply` merges the applied configuration into the live object according to the schema (maps
  granular unless atomic; lists by ``x-kubernetes-list-type``), records the manager's ``Apply`` entry as
  exactly the applied fields, removes fields the manager applied before but no longer applies (unless
  another manager owns them), and refuses (``ApplyConflict``) to change fields owned by other managers
  unless forced.
* :func:`record_update` records a non-apply write (operation ``Update``): the fields that changed become the
  manager's, other managers lose them (updates never conflict).

Both are pure: the inputs are not modified.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from zkop_local.apiserver.merge.jsonvalues import drop_nulls, json_equal

from .schema_info import GVK, TypeNode, has_status_subresource, root_node

__all__ = [
    "ApplyConflict",
    "FieldPath",
    "InvalidApply",
    "apply",
    "field_sets",
    "fields_v1_to_paths",
    "path_string",
    "paths_to_fields_v1",
    "record_update",
]

FieldPath = tuple[str, ...]


class InvalidApply(ValueError):
    """The apply request itself is invalid (e.g. it sets ``metadata.managedFields``): 400/422, not 409."""


@dataclass(frozen=True)
class _Conflict:
    manager: str
    operation: str
    subresource: str
    api_version: str
    time: str | None
    path: FieldPath


class ApplyConflict(Exception):
    """The apply would change fields owned by other managers (HTTP 409, reason Conflict).

    ``conflicts``: (manager name, field path such as ``.spec.replicas``) pairs. ``causes`` are ready-made
    ``FieldManagerConflict`` causes and ``message`` the Status message, both formatted as Kubernetes does.
    """

    def __init__(self, conflicts: list[_Conflict]) -> None:
        self._raw = conflicts
        self.conflicts: list[tuple[str, str]] = [(c.manager, path_string(c.path)) for c in conflicts]
        self.causes: list[dict[str, str]] = [
            {
                "reason": "FieldManagerConflict",
                "message": f"conflict with {_print_manager(c)}",
                "field": path_string(c.path),
            }
            for c in conflicts
        ]
        self.message = _conflict_message(conflicts)
        super().__init__(self.message)


def _print_manager(c: _Conflict) -> str:
    text = json.dumps(c.manager)
    if c.subresource:
        text += f" with subresource {json.dumps(c.subresource)}"
    if c.operation == "Update":
        text += f" using {c.api_version}"
        if c.time:
            text += f" at {c.time}"
    return text


def _conflict_message(conflicts: list[_Conflict]) -> str:
    if len(conflicts) == 1:
        c = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {_print_manager(c)}: {path_string(c.path)}"
    by_manager: dict[str, list[str]] = {}
    printed: dict[str, str] = {}
    for c in conflicts:
        key = json.dumps([c.manager, c.operation, c.subresource])
        printed[key] = _print_manager(c)
        by_manager.setdefault(key, []).append(path_string(c.path))
    lines: list[str] = []
    for key in sorted(by_manager):
        lines.append(f"conflicts with {printed[key]}:")
        lines.extend(f"- {p}" for p in by_manager[key])
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


# Fields the field manager never records (Kubernetes' stripMetaManager) and never prunes.
_STRIPPED: Final[frozenset[FieldPath]] = frozenset(
    {("f:apiVersion",), ("f:kind",), ("f:metadata",)}
    | {
        ("f:metadata", f"f:{name}")
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    }
)
_SERVER_OWNED: Final[frozenset[FieldPath]] = _STRIPPED | {
    ("f:metadata", "f:deletionTimestamp"),
    ("f:metadata", "f:deletionGracePeriodSeconds"),
    ("f:metadata", "f:generateName"),
}


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()


# ============================================================================================ public API


def apply(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    *,
    manager: str,
    force: bool,
    gvk: GVK,
    schema: dict[str, Any] | None,
    now: str,
    subresource: str | None = None,
    status_subresource: bool | None = None,
) -> dict[str, Any]:
    """Server-side apply ``applied`` by ``manager`` onto ``live`` (None: the object is created).

    ``schema``: the CRD version's ``openAPIV3Schema`` for custom resources, None for built-ins.
    ``subresource``: ``"status"`` for ``PATCH …/status``. ``status_subresource``: whether the kind has a
    status subresource (default: the built-in table; for CRDs, whether the schema declares ``status``).
    With a status subresource, an apply to the main resource ignores ``status`` and one to ``/status``
    ignores all but it.
    Returns the new object with ``metadata.managedFields`` updated; raises :class:`ApplyConflict` or
    :class:`InvalidApply`.
    """
    if not isinstance(applied, dict):
        raise InvalidApply("the applied configuration must be an object")
    if not manager:
        raise InvalidApply("fieldManager: Required value: is required for apply requests")
    if "managedFields" in (applied.get("metadata") or {}):
        raise InvalidApply("metadata.managedFields must be nil")
    node = root_node(gvk, schema)
    with_status = has_status_subresource(gvk, schema) if status_subresource is None else status_subresource
    scope = _Scope(subresource, with_status)

    config = drop_nulls(copy.deepcopy(applied))
    config = scope.restrict_config(config)
    live_obj: dict[str, Any] = copy.deepcopy(live) if live is not None else {}
    old_entries = _Entries.parse(live_obj)
    live_val = _without_managed_fields(live_obj)

    try:
        config_set = _to_field_set(config, node, (), strict=True)
    except _KeyError as exc:
        raise InvalidApply(str(exc)) from exc
    config_set = {p for p in config_set if scope.includes(p)} | _present_server_paths(config)

    merged = _merge(live_val, config, node)
    if merged is MISSING:
        merged = {}
    entries = old_entries.copy()
    key = (manager, "Apply", subresource or "")
    previous = entries.sets.get(key)
    last_set = previous.paths if previous is not None else frozenset()
    entries.put(key, config_set, _api_version(gvk), now)

    if last_set:
        owned: set[FieldPath] = set(_SERVER_OWNED)
        for entry in entries.sets.values():
            owned |= entry.paths
        to_remove = _with_named_fields(last_set, node) - _with_named_fields(frozenset(owned), node)
        if to_remove:
            pruned = _remove(merged, _Trie.of(to_remove), node, (), frozenset(owned))
            merged = pruned if isinstance(pruned, dict) else {}

    comparison = _Comparison()
    _compare(live_val, merged, node, (), comparison, scope)
    changed = comparison.modified | comparison.added
    conflicts: list[_Conflict] = []
    for other_key, entry in entries.sets.items():
        if other_key == key:
            continue
        for path in sorted(entry.paths & changed, key=_path_sort_key):
            conflicts.append(
                _Conflict(other_key[0], other_key[1], other_key[2], entry.api_version, entry.time, path)
            )
    if conflicts and not force:
        conflicts.sort(key=lambda c: (c.manager, c.operation, c.subresource, _path_sort_key(c.path)))
        raise ApplyConflict(conflicts)
    for other_key in list(entries.sets):
        if other_key != key:
            entries.subtract(other_key, changed | comparison.removed)

    entries.subtract(key, _STRIPPED)
    result = merged
    unchanged = json_equal(live_val, merged) and entries.equal_sets(old_entries)
    if unchanged and live is not None and previous is not None:
        # A no-op apply changes nothing, not even the manager's timestamp.
        return copy.deepcopy(live)
    return _with_managed_fields(result, entries)


def record_update(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    gvk: GVK,
    schema: dict[str, Any] | None,
    now: str,
    subresource: str | None = None,
    status_subresource: bool | None = None,
) -> dict[str, Any]:
    """managedFields for a non-apply write (POST, PUT, merge/JSON/strategic PATCH) of ``new`` over ``old``.

    The fields that changed (on create: all fields) become owned by ``manager`` with operation ``Update``;
    other managers lose ownership of them; managers left with no fields are dropped. If ``new`` carries a
    ``metadata.managedFields`` that differs from ``old``'s, the client is rewriting managedFields: it is kept
    as sent (``[{}]`` clears it). Returns ``new`` with ``metadata.managedFields`` set.
    """
    node = root_node(gvk, schema)
    with_status = has_status_subresource(gvk, schema) if status_subresource is None else status_subresource
    scope = _Scope(subresource, with_status)
    new_obj = copy.deepcopy(new)
    old_obj: dict[str, Any] = copy.deepcopy(old) if old is not None else {}
    sent = (new_obj.get("metadata") or {}).get("managedFields")
    if sent and sent != (old_obj.get("metadata") or {}).get("managedFields"):
        return _with_managed_fields(_without_managed_fields(new_obj), _Entries.parse(new_obj))

    entries = _Entries.parse(old_obj)
    old_val = _without_managed_fields(old_obj)
    new_val = _without_managed_fields(new_obj)
    comparison = _Comparison()
    _compare(old_val, new_val, node, (), comparison, scope)
    changed = comparison.modified | comparison.added
    key = (manager, "Update", subresource or "")
    for other_key in list(entries.sets):
        if other_key != key:
            entries.subtract(other_key, changed | comparison.removed)
    mine = frozenset(p for p in changed if p and p not in _STRIPPED)
    if mine:
        previous = entries.sets.get(key)
        base = (previous.paths - comparison.removed) if previous is not None else frozenset()
        entries.put(key, base | mine, _api_version(gvk), now)
    elif key in entries.sets:
        entries.subtract(key, comparison.removed)
    return _with_managed_fields(new_val, entries)


def field_sets(obj: Mapping[str, Any]) -> dict[tuple[str, str, str], frozenset[FieldPath]]:
    """The managed field sets of ``obj`` by (manager, operation, subresource)."""
    return {key: entry.paths for key, entry in _Entries.parse(obj).sets.items()}


# ============================================================================================ scope


class _Scope:
    """Which top-level fields a write may touch (status subresource rules)."""

    def __init__(self, subresource: str | None, with_status: bool) -> None:
        self.status_only = subresource == "status"
        self.no_status = subresource is None and with_status

    def includes(self, path: FieldPath) -> bool:
        if not path:
            return False
        if self.status_only:
            return path[0] == "f:status"
        if self.no_status:
            return path[0] != "f:status"
        return True

    def restrict_config(self, config: dict[str, Any]) -> dict[str, Any]:
        if self.status_only:
            meta = config.get("metadata") or {}
            out: dict[str, Any] = {k: config[k] for k in ("apiVersion", "kind") if k in config}
            kept = {k: meta[k] for k in ("name", "namespace") if k in meta}
            if kept:
                out["metadata"] = kept
            if "status" in config:
                out["status"] = config["status"]
            return out
        if self.no_status:
            return {k: v for k, v in config.items() if k != "status"}
        return config


def _present_server_paths(config: dict[str, Any]) -> set[FieldPath]:
    """apiVersion/kind/metadata.name… are part of the applied set while merging (stripped when stored)."""
    out: set[FieldPath] = set()
    for key in ("apiVersion", "kind"):
        if key in config:
            out.add((f"f:{key}",))
    meta = config.get("metadata")
    if isinstance(meta, dict):
        for name in meta:
            path = ("f:metadata", f"f:{name}")
            if path in _STRIPPED:
                out.add(path)
    return out


# ============================================================================================ entries


@dataclass
class _Entry:
    paths: frozenset[FieldPath]
    api_version: str
    time: str | None


class _Entries:
    """managedFields by (manager, operation, subresource)."""

    def __init__(self, sets: dict[tuple[str, str, str], _Entry]) -> None:
        self.sets = sets

    @classmethod
    def parse(cls, obj: Mapping[str, Any]) -> _Entries:
        raw = (obj.get("metadata") or {}).get("managedFields") or []
        sets: dict[tuple[str, str, str], _Entry] = {}
        if not isinstance(raw, list):
            return cls(sets)
        for item in raw:
            if not isinstance(item, dict) or (not item.get("manager") and not item.get("fieldsV1")):
                continue
            key = (
                str(item.get("manager", "")),
                str(item.get("operation", "Update")),
                str(item.get("subresource") or ""),
            )
            fields = item.get("fieldsV1")
            paths = fields_v1_to_paths(fields) if isinstance(fields, dict) else frozenset()
            if key in sets:
                paths = paths | sets[key].paths
            sets[key] = _Entry(paths, str(item.get("apiVersion", "")), item.get("time"))
        return cls(sets)

    def copy(self) -> _Entries:
        return _Entries({k: _Entry(v.paths, v.api_version, v.time) for k, v in self.sets.items()})

    def put(self, key: tuple[str, str, str], paths: Iterable[FieldPath], api_version: str, time: str) -> None:
        self.sets[key] = _Entry(frozenset(paths), api_version, time)

    def subtract(self, key: tuple[str, str, str], paths: Iterable[FieldPath]) -> None:
        entry = self.sets.get(key)
        if entry is None:
            return
        remaining = entry.paths - frozenset(paths)
        if remaining:
            entry.paths = remaining
        else:
            del self.sets[key]

    def equal_sets(self, other: _Entries) -> bool:
        return {k: v.paths for k, v in self.sets.items()} == {k: v.paths for k, v in other.sets.items()}

    def render(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for (manager, operation, subresource), entry in self.sets.items():
            item: dict[str, Any] = {
                "manager": manager,
                "operation": operation,
                "apiVersion": entry.api_version,
            }
            if entry.time is not None:
                item["time"] = entry.time
            item["fieldsType"] = "FieldsV1"
            item["fieldsV1"] = paths_to_fields_v1(entry.paths)
            if subresource:
                item["subresource"] = subresource
            out.append(item)
        # Kubernetes' order: operation, time, manager, apiVersion, subresource.
        out.sort(
            key=lambda e: (
                e["operation"],
                e.get("time") or "",
                e["manager"],
                e["apiVersion"],
                e.get("subresource", ""),
            )
        )
        return out


def _api_version(gvk: GVK) -> str:
    group, version, _ = gvk
    return f"{group}/{version}" if group else version


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = dict(obj)
        obj["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    return obj


def _with_managed_fields(obj: dict[str, Any], entries: _Entries) -> dict[str, Any]:
    obj = _without_managed_fields(obj)
    rendered = entries.render()
    if rendered:
        obj = dict(obj)
        obj["metadata"] = {**(obj.get("metadata") or {}), "managedFields": rendered}
    return obj


# ============================================================================================ FieldsV1


def fields_v1_to_paths(fields: Mapping[str, Any]) -> frozenset[FieldPath]:
    """The set of owned paths of a ``fieldsV1`` object."""
    out: set[FieldPath] = set()

    def walk(node: Mapping[str, Any], prefix: FieldPath) -> None:
        for key, child in node.items():
            if key == ".":
                if prefix:
                    out.add(prefix)
                continue
            path = (*prefix, key)
            if not isinstance(child, Mapping) or not child:
                out.add(path)
            else:
                walk(child, path)

    walk(fields, ())
    return frozenset(out)


class _Trie:
    __slots__ = ("children", "member")

    def __init__(self) -> None:
        self.member = False
        self.children: dict[str, _Trie] = {}

    @classmethod
    def of(cls, paths: Iterable[FieldPath]) -> _Trie:
        root = cls()
        for path in paths:
            node = root
            for element in path:
                node = node.children.setdefault(element, cls())
            node.member = True
        return root

    def emit(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.member and self.children:
            out["."] = {}
        for element in sorted(self.children, key=_element_sort_key):
            out[element] = self.children[element].emit()
        return out


def paths_to_fields_v1(paths: Iterable[FieldPath]) -> dict[str, Any]:
    """Serialize a set of paths as ``fieldsV1``."""
    return _Trie.of(p for p in paths if p).emit()


_ELEMENT_ORDER: Final = {"f": 0, "k": 1, "v": 2, "i": 3}


def _element_sort_key(element: str) -> tuple[int, str, int]:
    kind = _ELEMENT_ORDER.get(element[:1], 4)
    if kind == 3:
        try:
            return (kind, "", int(element[2:]))
        except ValueError:
            pass
    return (kind, element[2:], 0)


def _path_sort_key(path: FieldPath) -> tuple[tuple[int, str, int], ...]:
    return tuple(_element_sort_key(e) for e in path)


def path_string(path: FieldPath) -> str:
    """Kubernetes' text form of a path.

    E.g. ``.spec.containers[name="zk"].image`` or ``.metadata.finalizers[="x"]``.
    """
    out: list[str] = []
    for element in path:
        kind, body = element[:2], element[2:]
        if kind == "f:":
            out.append("." + body)
        elif kind == "k:":
            keys = json.loads(body)
            out.append("[" + ",".join(f"{k}={_value_string(v)}" for k, v in sorted(keys.items())) + "]")
        elif kind == "v:":
            out.append(f"[={_value_string(json.loads(body))}]")
        elif kind == "i:":
            out.append(f"[{body}]")
        else:
            out.append(element)
    return "".join(out)


def _value_string(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ",".join(_value_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={_value_string(v)}" for k, v in value.items())
    return str(value)


def _json(value: Any) -> str:
    """Compact JSON as Go's encoder writes it (HTML characters escaped, integral floats as integers)."""
    text = json.dumps(_normalize_numbers(value), separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _normalize_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _normalize_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalize_numbers(v) for v in value]
    return value


# ============================================================================================ typed walks


class _KeyError(Exception):
    """A list item cannot be addressed (missing key fields, duplicates, wrong item type)."""


def _shape(value: Any, node: TypeNode) -> str:
    """How ``value`` is treated at ``node``: "map" (granular), "list" (granular) or "leaf"."""
    if node.kind == "untyped":
        return "map" if isinstance(value, dict) and not node.atomic else "leaf"
    if node.kind in ("struct", "map"):
        return "map" if isinstance(value, dict) and not node.atomic else "leaf"
    if node.kind == "list":
        return "list" if isinstance(value, list) and node.list_type != "atomic" else "leaf"
    return "leaf"


def _item_element(item: Any, node: TypeNode) -> str:
    """The path element of a list item of a granular list ``node``."""
    if node.list_type == "map":
        if not isinstance(item, dict):
            raise _KeyError("associative list with keys may not have non-map elements")
        key: dict[str, Any] = {}
        for name in node.keys:
            if name in item:
                key[name] = item[name]
            elif name in node.key_defaults:
                key[name] = node.key_defaults[name]
        if node.keys and not key:
            raise _KeyError(
                f"associative list with keys has an element that omits all key fields {list(node.keys)!r} "
                "(and doesn't have default values for any key fields)"
            )
        return "k:" + _json(key)
    if isinstance(item, (dict, list)):
        raise _KeyError("associative list without keys has an element that's a map type")
    return "v:" + _json(item)


def _index_items(items: list[Any], node: TypeNode, *, strict: bool) -> list[str]:
    elements: list[str] = []
    for index, item in enumerate(items):
        try:
            elements.append(_item_element(item, node))
        except _KeyError:
            if strict:
                raise
            elements.append(f"i:{index}")
    return elements


def _to_field_set(value: Any, node: TypeNode, path: FieldPath, *, strict: bool = False) -> set[FieldPath]:
    """Structured-merge-diff's ToFieldSet: the paths a value sets."""
    out: set[FieldPath] = set()
    _collect(value, node, path, out, strict)
    return out


def _collect(value: Any, node: TypeNode, path: FieldPath, out: set[FieldPath], strict: bool) -> None:
    shape = _shape(value, node)
    if shape == "leaf":
        out.add(path)
        return
    if shape == "map":
        for key, child_value in value.items():
            child_path = (*path, f"f:{key}")
            _collect(child_value, node.child(key), child_path, out, strict)
            if (
                child_value is None
                or (isinstance(child_value, dict) and not child_value)
                or node.kind != "struct"
                or node.declared(key) is None
            ):
                out.add(child_path)
        return
    elements = _index_items(value, node, strict=strict)
    seen: set[str] = set()
    duplicates: set[str] = set()
    for element in elements:
        if element in seen:
            if strict:
                raise _KeyError(f"duplicate entries for key {path_string((element,))}")
            duplicates.add(element)
        seen.add(element)
    elem = node.elem()
    for element, item in zip(elements, value, strict=True):
        child_path = (*path, element)
        if element in duplicates:
            out.add(child_path)
            continue
        _collect(item, elem, child_path, out, strict)
        out.add(child_path)


def _with_named_fields(paths: frozenset[FieldPath], root: TypeNode) -> set[FieldPath]:
    """EnsureNamedFieldsAreMembers: declared struct fields on the way to an owned path count as owned."""
    out = set(paths)
    for path in paths:
        node = root
        for depth, element in enumerate(path[:-1], start=1):
            if element.startswith("f:"):
                name = element[2:]
                if node.kind == "struct" and node.declared(name) is not None:
                    out.add(path[:depth])
                node = node.child(name)
            else:
                node = node.elem()
    return out


@dataclass
class _Comparison:
    added: set[FieldPath]
    modified: set[FieldPath]
    removed: set[FieldPath]

    def __init__(self) -> None:
        self.added, self.modified, self.removed = set(), set(), set()


def _compare(lhs: Any, rhs: Any, node: TypeNode, path: FieldPath, cmp: _Comparison, scope: _Scope) -> None:
    """Structured-merge-diff's Compare (leaves: added/removed/modified; inner nodes: added/removed)."""
    if path and not scope.includes(path):
        return
    left = "leaf" if lhs is MISSING else _shape(lhs, node)
    right = "leaf" if rhs is MISSING else _shape(rhs, node)
    container = left if lhs is not MISSING else right
    if rhs is not MISSING and lhs is not MISSING and left != right:
        container = "leaf"
    if container == "map" and _empty(lhs) and _empty(rhs):
        container = "leaf"
    if container == "list" and _empty(lhs) and _empty(rhs):
        container = "leaf"

    if container == "leaf":
        if lhs is MISSING:
            _mark(cmp.added, path)
        elif rhs is MISSING:
            _mark(cmp.removed, path)
        elif not json_equal(lhs, rhs):
            _mark(cmp.modified, path)
        return

    if container == "map":
        lmap: Mapping[str, Any] = lhs if isinstance(lhs, dict) else {}
        rmap: Mapping[str, Any] = rhs if isinstance(rhs, dict) else {}
        for key in _ordered_union(lmap, rmap):
            _compare(
                lmap.get(key, MISSING),
                rmap.get(key, MISSING),
                node.child(key),
                (*path, f"f:{key}"),
                cmp,
                scope,
            )
    else:
        llist: list[Any] = lhs if isinstance(lhs, list) else []
        rlist: list[Any] = rhs if isinstance(rhs, list) else []
        litems = _group(llist, node)
        ritems = _group(rlist, node)
        elem = node.elem()
        for element in _ordered_union(litems, ritems):
            lvals, rvals = litems.get(element, []), ritems.get(element, [])
            child_path = (*path, element)
            if len(lvals) <= 1 and len(rvals) <= 1:
                _compare(
                    lvals[0] if lvals else MISSING,
                    rvals[0] if rvals else MISSING,
                    elem,
                    child_path,
                    cmp,
                    scope,
                )
            elif len(lvals) >= 2 and len(rvals) >= 2:
                if not json_equal(lvals, rvals):
                    cmp.modified.add(child_path)
            elif len(lvals) >= 2:
                if rvals:
                    _compare(MISSING, rvals[0], elem, child_path, cmp, scope)
                cmp.removed.add(child_path)
            else:
                if lvals:
                    _compare(lvals[0], MISSING, elem, child_path, cmp, scope)
                cmp.added.add(child_path)
    if lhs is MISSING:
        _mark(cmp.added, path)
    elif rhs is MISSING:
        _mark(cmp.removed, path)


def _mark(target: set[FieldPath], path: FieldPath) -> None:
    if path:
        target.add(path)


def _empty(value: Any) -> bool:
    return value is MISSING or value is None or (isinstance(value, (dict, list)) and not value)


def _group(items: list[Any], node: TypeNode) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for element, item in zip(_index_items(items, node, strict=False), items, strict=True):
        out.setdefault(element, []).append(item)
    return out


def _ordered_union(left: Mapping[str, Any], right: Mapping[str, Any]) -> Iterator[str]:
    yield from left
    for key in right:
        if key not in left:
            yield key


def _merge(lhs: Any, rhs: Any, node: TypeNode) -> Any:
    """Structured-merge-diff's Merge: ``rhs`` (the applied config) wins, granular where the schema says so."""
    if rhs is MISSING:
        return copy.deepcopy(lhs)
    if lhs is MISSING:
        return copy.deepcopy(rhs)
    left, right = _shape(lhs, node), _shape(rhs, node)
    if left != right or left == "leaf" or (_empty(lhs) and _empty(rhs)):
        return copy.deepcopy(rhs)
    if left == "map":
        out: dict[str, Any] = {}
        for key in _ordered_union(lhs, rhs):
            merged = _merge(lhs.get(key, MISSING), rhs.get(key, MISSING), node.child(key))
            if merged is not MISSING:
                out[key] = merged
        return out
    return _merge_list(lhs, rhs, node)


_DUPLICATE: Final = object()


def _merge_list(lhs: list[Any], rhs: list[Any], node: TypeNode) -> list[Any]:
    """Merge granular lists keeping the applied order for shared items and the live order around them."""
    elem = node.elem()
    r_elements = _index_items(rhs, node, strict=False)
    l_elements = _index_items(lhs, node, strict=False)
    r_observed: dict[str, Any] = {}
    for element, item in zip(r_elements, rhs, strict=True):
        r_observed.setdefault(element, item)
    l_observed: dict[str, Any] = {}
    for element, item in zip(l_elements, lhs, strict=True):
        l_observed[element] = _DUPLICATE if element in l_observed else item

    shared = [e for e in r_elements if e in l_observed]
    next_shared: str | None = shared.pop(0) if shared else None
    merged_rhs: set[str] = set()
    out: list[Any] = []

    def merged_item(element: str) -> Any:
        left = l_observed.get(element, MISSING)
        return _merge(MISSING if left is _DUPLICATE else left, r_observed[element], elem)

    li = ri = 0
    while li < len(l_elements) or ri < len(r_elements):
        if li < len(l_elements) and ri < len(r_elements):
            element = l_elements[li]
            if element == r_elements[ri]:
                if element not in merged_rhs:
                    merged_rhs.add(element)
                    out.append(merged_item(element))
                li += 1
                ri += 1
                next_shared = shared.pop(0) if shared else None
                continue
            if element in r_observed and next_shared is not None and next_shared != element:
                li += 1
                continue
        if li < len(l_elements):
            element = l_elements[li]
            if element not in r_observed:
                out.append(copy.deepcopy(lhs[li]))
                li += 1
                continue
            if element in merged_rhs:
                li += 1
        if ri < len(r_elements):
            element = r_elements[ri]
            if element not in merged_rhs:
                merged_rhs.add(element)
                out.append(merged_item(element))
            ri += 1
            if next_shared is not None and next_shared == element:
                next_shared = shared.pop(0) if shared else None
    return out


def _remove(value: Any, trie: _Trie, node: TypeNode, path: FieldPath, owned: frozenset[FieldPath]) -> Any:
    """Remove the paths in ``trie`` from ``value``.

    A map or list emptied by the removal disappears too, unless someone owns it (e.g. an empty map).
    """
    shape = _shape(value, node)
    if shape == "map":
        out: dict[str, Any] = {}
        for key, child_value in value.items():
            element = f"f:{key}"
            sub = trie.children.get(element)
            if sub is None:
                out[key] = child_value
            elif sub.member:
                continue
            else:
                kept = _remove(child_value, sub, node.child(key), (*path, element), owned)
                if kept is not MISSING:
                    out[key] = kept
        return MISSING if value and not out and path not in owned else out
    if shape == "list":
        items: list[Any] = []
        for element, item in zip(_index_items(value, node, strict=False), value, strict=True):
            sub = trie.children.get(element)
            if sub is None:
                items.append(item)
            elif sub.member:
                continue
            else:
                kept = _remove(item, sub, node.elem(), (*path, element), owned)
                if kept is not MISSING:
                    items.append(kept)
        return MISSING if value and not items and path not in owned else items
    return value


# ============================================================================================ JSON helpers
