"""Strategic merge patch (``application/strategic-merge-patch+json``) for built-in kinds.

Follows ``k8s.io/apimachinery/pkg/util/strategicpatch`` (``StrategicMergeMapPatch``) as the API server
applies it:

* maps are merged key by key; ``null`` deletes a key;
* lists are replaced unless the field's ``patchStrategy`` is ``merge``: then lists of maps are merged by the
  ``patchMergeKey`` and lists of scalars are merged as sets (union);
* the resulting order of a merged list: items named in the patch in patch order, interleaved with the
  server-only items in their original order (new items therefore come *first*, as in Kubernetes);
* directives: ``$patch: replace|delete`` in maps, ``$patch: replace|delete`` in list items,
  ``$setElementOrder/<list>``, ``$deleteFromPrimitiveList/<list>``, ``$retainKeys``.

Patch strategies and merge keys come from the generated table of Kubernetes' own OpenAPI (``schema_info``).
Pure functions on JSON-like values; inputs are never modified.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Final

from zkop_local.apiserver.merge.jsonvalues import drop_nulls, json_equal

from .schema_info import GVK, TypeNode, root_node

__all__ = ["StrategicMergeError", "strategic_merge"]

DIRECTIVE: Final = "$patch"
RETAIN_KEYS: Final = "$retainKeys"
SET_ELEMENT_ORDER: Final = "$setElementOrder/"
DELETE_FROM_PRIMITIVE_LIST: Final = "$deleteFromPrimitiveList/"


class StrategicMergeError(ValueError):
    """The patch is not a valid strategic merge patch for this object (the server answers 422)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Absent:
    """Marker: the value is dropped (a map carrying ``$patch: delete`` where nothing was to delete)."""


_ABSENT: Final = _Absent()


def strategic_merge(original: dict[str, Any], patch: dict[str, Any], gvk: GVK) -> dict[str, Any]:
    """Apply the strategic merge ``patch`` to ``original`` (an object of kind ``gvk``); a new object."""
    if not isinstance(patch, dict):
        raise StrategicMergeError(f"expected a map, but received a {_type_name(patch)}")
    if not isinstance(original, dict):
        raise StrategicMergeError(f"expected a map, but received a {_type_name(original)}")
    result = _merge_map(copy.deepcopy(original), copy.deepcopy(patch), root_node(gvk))
    return result


# ----------------------------------------------------------------------------------------------- maps


def _merge_map(original: dict[str, Any], patch: dict[str, Any], node: TypeNode) -> dict[str, Any]:
    """Merge ``patch`` into ``original`` (both owned by the caller, ``original`` is modified)."""
    if DIRECTIVE in patch:
        directive = patch.pop(DIRECTIVE)
        if directive == "replace":
            return _merge_map({}, patch, node)
        if directive == "delete":
            return {}
        if directive != "merge":
            raise StrategicMergeError(f"unknown patch type: {directive} in map: {_show(patch)}")
    _check_directives(patch)

    if RETAIN_KEYS in patch:
        _apply_retain_keys(original, patch)

    for key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        _merge_with_element_order(original, patch, key, node)

    delete_lists: list[tuple[str, Any]] = []
    for key, value in patch.items():
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            delete_lists.append((key[len(DELETE_FROM_PRIMITIVE_LIST) :], value))
            continue
        if value is None:
            original.pop(key, None)
            continue
        child = node.child(key)
        if key not in original:
            new = _from_patch(value, child)
            if new is not _ABSENT:
                original[key] = new
            continue
        current = original[key]
        if isinstance(current, dict) and isinstance(value, dict):
            if "replace" in child.patch_strategies:
                new = _from_patch(value, child)
                if new is _ABSENT:
                    del original[key]
                else:
                    original[key] = new
            else:
                original[key] = _merge_map(current, value, child)
        elif isinstance(current, list) and isinstance(value, list):
            original[key] = _merge_list_field(current, value, child)
        else:
            new = _from_patch(value, child)
            if new is _ABSENT:
                del original[key]
            else:
                original[key] = new

    for key, value in delete_lists:
        if not isinstance(value, list):
            raise StrategicMergeError("invalid patch format of primitive list")
        if key not in original:
            continue
        current = original[key]
        if not isinstance(current, list):
            raise StrategicMergeError(f"expected a slice, but received a {_type_name(current)}")
        if any(isinstance(item, (dict, list)) for item in current):
            raise StrategicMergeError(
                f"{DELETE_FROM_PRIMITIVE_LIST}{key} applies only to lists of primitives"
            )
        original[key] = [item for item in current if not _contains(value, item)]
    return original


def _check_directives(patch: dict[str, Any]) -> None:
    for key in patch:
        if not key.startswith("$"):
            continue
        if key == RETAIN_KEYS:
            continue
        if key.startswith((SET_ELEMENT_ORDER, DELETE_FROM_PRIMITIVE_LIST)):
            if key in (SET_ELEMENT_ORDER, DELETE_FROM_PRIMITIVE_LIST):
                raise StrategicMergeError(f"invalid patch directive {key!r}: no list named")
            continue
        if key.startswith("$setElementOrder"):
            raise StrategicMergeError("invalid patch format of setElementOrder list")
        if key.startswith("$deleteFromPrimitiveList"):
            raise StrategicMergeError("invalid patch format of primitive list")
        raise StrategicMergeError(f"unknown patch directive {key!r}")


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    retain = patch.pop(RETAIN_KEYS)
    if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
        raise StrategicMergeError("invalid patch format of retainKeys")
    allowed = set(retain)
    for key, value in patch.items():
        if value is None or key.startswith((SET_ELEMENT_ORDER, DELETE_FROM_PRIMITIVE_LIST)):
            continue
        if key not in allowed:
            raise StrategicMergeError(
                f"invalid patch format of retainKeys: field {key!r} is not in $retainKeys {retain}"
            )
    for key in [k for k in original if k not in allowed]:
        del original[key]


def _from_patch(value: Any, node: TypeNode) -> Any:
    """The value a patch contributes where the original has nothing to merge with (directives resolved)."""
    if isinstance(value, dict):
        if value.get(DIRECTIVE) == "delete":
            return _ABSENT
        return _merge_map({}, value, node)
    if isinstance(value, list):
        if "merge" in node.patch_strategies:
            return _merge_list([], value, node)
        return [drop_nulls(item) for item in value]
    return value


# ---------------------------------------------------------------------------------------------- lists


def _merge_list_field(original: list[Any], patch: list[Any], node: TypeNode) -> list[Any]:
    if "merge" in node.patch_strategies:
        return _merge_list(original, patch, node)
    return [drop_nulls(item) for item in patch]


def _element_kind(*lists: list[Any]) -> str | None:
    """ "map" or "scalar" for the items of ``lists`` (which must agree); None if all are empty."""
    seen: str | None = None
    for items in lists:
        for item in items:
            if isinstance(item, list):
                raise StrategicMergeError("lists of lists are not supported")
            kind = _type_name(item)
            if seen is None:
                seen = kind
            elif seen != kind:
                raise StrategicMergeError(f"list element types are not identical: {_show(lists)}")
    if seen is None:
        return None
    return "map" if seen == "map" else "scalar"


def _merge_list(original: list[Any], patch: list[Any], node: TypeNode) -> list[Any]:
    """Merge two lists of a field with ``patchStrategy: merge``."""
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    merge_key = node.patch_merge_key
    if kind == "scalar":
        merged = _dedup([*original, *patch])
        patch_items = [item for item in merged if _contains(patch, item)]
        server_only = [item for item in merged if not _contains(patch, item)]
        return _normalize_order(patch_items, server_only, patch, original, _identity)

    if not merge_key:
        raise StrategicMergeError("cannot merge lists without merge key")
    key_of = _key_getter(merge_key)
    elem = node.elem()
    # Special elements: {"$patch": "delete", key: v} removes, {"$patch": "replace"} replaces the list.
    plain: list[dict[str, Any]] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise StrategicMergeError(
                    f"map: {_show(item)} does not contain declared merge key: {merge_key}"
                )
            original = [o for o in original if not (merge_key in o and o[merge_key] == item[merge_key])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise StrategicMergeError("merging lists cannot yet be specified in the patch")
        else:
            raise StrategicMergeError(f"unknown patch type: {directive} in map: {_show(item)}")
    if replace:
        return [_merge_map({}, item, elem) for item in plain]

    merged = list(original)
    for item in plain:
        if merge_key not in item:
            raise StrategicMergeError(f"map: {_show(item)} does not contain declared merge key: {merge_key}")
        for index, existing in enumerate(merged):
            if merge_key not in existing:
                raise StrategicMergeError(
                    f"map: {_show(existing)} does not contain declared merge key: {merge_key}"
                )
            if existing[merge_key] == item[merge_key]:
                merged[index] = _merge_map(existing, item, elem)
                break
        else:
            merged.append(_merge_map({}, item, elem))
    patch_keys = [key_of(item) for item in plain]
    patch_items = [item for item in merged if _contains(patch_keys, key_of(item))]
    server_only = [item for item in merged if not _contains(patch_keys, key_of(item))]
    return _normalize_order(patch_items, server_only, patch, original, key_of)


def _merge_with_element_order(
    original: dict[str, Any], patch: dict[str, Any], key: str, node: TypeNode
) -> None:
    """Process ``$setElementOrder/<name>`` together with the patch's ``<name>`` list."""
    order = patch.pop(key)
    name = key[len(SET_ELEMENT_ORDER) :]
    if not isinstance(order, list):
        raise StrategicMergeError("invalid patch format of setElementOrder list")
    child = node.child(name)
    merge_key = child.patch_merge_key
    has_original, has_patch = name in original, name in patch
    original_list = original.get(name)
    patch_list = patch.get(name)
    if has_original and not isinstance(original_list, list):
        raise StrategicMergeError(f"expected a slice, but received a {_type_name(original_list)}")
    if has_patch and not isinstance(patch_list, list):
        raise StrategicMergeError("invalid patch format of setElementOrder list")
    original_items: list[Any] = original_list if isinstance(original_list, list) else []
    patch_items: list[Any] = patch_list if isinstance(patch_list, list) else []
    _validate_order(patch_items, order, merge_key)
    if has_original and not has_patch:
        merged = original_items
    elif has_patch and not has_original:
        merged = _from_patch(patch_items, child)
    elif has_original and has_patch:
        merged = _merge_list_field(original_items, patch_items, child)
    else:
        return
    kind = _element_kind(original_items, patch_items)
    if kind is None:
        original[name] = merged
        patch.pop(name, None)
        return
    if kind == "map":
        if not merge_key:
            raise StrategicMergeError("cannot merge lists without merge key")
        key_of = _key_getter(merge_key)
        for item in [*merged, *order]:
            if not isinstance(item, dict) or merge_key not in item:
                raise StrategicMergeError(
                    f"map: {_show(item)} does not contain declared merge key: {merge_key}"
                )
    else:
        key_of = _identity
    order_keys = [key_of(item) for item in order]
    in_order = [item for item in merged if _contains(order_keys, key_of(item))]
    server_only = [item for item in merged if not _contains(order_keys, key_of(item))]
    original[name] = _normalize_order(in_order, server_only, order, original_items, key_of)
    patch.pop(name, None)


def _validate_order(patch_list: list[Any], order: list[Any], merge_key: str | None) -> None:
    """The patch list's items must appear in ``order``, in the same relative order."""
    if not patch_list or not order:
        return
    items = (
        [item for item in patch_list if not (isinstance(item, dict) and DIRECTIVE in item)]
        if merge_key
        else list(patch_list)
    )

    def same(left: Any, right: Any) -> bool:
        if not merge_key:
            return bool(left == right and type(left) is type(right))
        if not isinstance(left, dict) or not isinstance(right, dict):
            raise StrategicMergeError("invalid patch format of setElementOrder list")
        if merge_key not in left or merge_key not in right:
            raise StrategicMergeError(
                f"map: {_show(left if merge_key not in left else right)} "
                f"does not contain declared merge key: {merge_key}"
            )
        return bool(left[merge_key] == right[merge_key])

    position = 0
    for item in items:
        while position < len(order) and not same(item, order[position]):
            position += 1
        if position >= len(order):
            raise StrategicMergeError(
                f"The order in patch list:\n{_show(patch_list)}\n"
                f" doesn't match $setElementOrder list:\n{_show(order)}"
            )
        position += 1


def _normalize_order(
    patch_items: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    key_of: Callable[[Any], Any],
) -> list[Any]:
    """Kubernetes' normalizeElementOrder: sort both parts, then interleave them by the server order."""
    patch_keys = [key_of(item) for item in patch_order if not (isinstance(item, dict) and DIRECTIVE in item)]
    server_keys = [key_of(item) for item in server_order]
    patch_sorted = _sort_by(patch_items, patch_keys, key_of)
    server_sorted = _sort_by(server_only, server_keys, key_of)

    result: list[Any] = []
    i = j = 0
    while i < len(server_sorted) or j < len(patch_sorted):
        if i >= len(server_sorted):
            result.append(patch_sorted[j])
            j += 1
        elif j >= len(patch_sorted):
            result.append(server_sorted[i])
            i += 1
        else:
            left = _index(server_keys, key_of(server_sorted[i]))
            right = _index(server_keys, key_of(patch_sorted[j]))
            if left >= 0 and right >= 0 and left < right:
                result.append(server_sorted[i])
                i += 1
            else:
                result.append(patch_sorted[j])
                j += 1
    return result


def _sort_by(items: list[Any], order_keys: list[Any], key_of: Callable[[Any], Any]) -> list[Any]:
    def position(item: Any) -> int:
        index = _index(order_keys, key_of(item))
        return index if index >= 0 else len(order_keys)

    return sorted(items, key=position)


# -------------------------------------------------------------------------------------------- helpers


def _identity(item: Any) -> Any:
    return _Key(item)


def _key_getter(merge_key: str) -> Callable[[Any], Any]:
    def key_of(item: Any) -> Any:
        return _Key(item.get(merge_key) if isinstance(item, dict) else None)

    return key_of


class _Key:
    """A JSON value compared by JSON equality (so that ``1 != True`` as in Go)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Key) and json_equal(self.value, other.value)

    def __hash__(self) -> int:
        return 0


def _index(keys: list[Any], key: Any) -> int:
    for index, candidate in enumerate(keys):
        if candidate == key:
            return index
    return -1


def _contains(items: list[Any], item: Any) -> bool:
    wrapped = item if isinstance(item, _Key) else _Key(item)
    return any((c if isinstance(c, _Key) else _Key(c)) == wrapped for c in items)


def _dedup(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if not _contains(out, item):
            out.append(item)
    return out


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return type(value).__name__


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."
