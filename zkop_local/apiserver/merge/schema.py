"""Structural-schema handling of custom resources: pruning, defaulting and validation.

Mirrors what the API server does with a CRD version's ``openAPIV3Schema`` (apiextensions-apiserver's
``pruning``, ``defaulting`` and ``validation`` packages with kube-openapi's validator):

1. **Pruning**: fields not declared in the schema are dropped, except below
   ``x-kubernetes-preserve-unknown-fields: true``. At the root (and in ``x-kubernetes-embedded-resource``
   objects) ``apiVersion``, ``kind`` and ``metadata`` are always kept.
2. **Defaulting**: absent fields (and ``null`` in non-nullable fields) get their ``default``, top-down, so
   defaults inside a freshly defaulted object apply too. Remaining ``null`` values of non-nullable fields
   without a default are dropped.
3. **Validation**: type (``x-kubernetes-int-or-string``, ``nullable``), ``required``, ``enum``, numeric
   bounds, ``multipleOf``, string length and ``pattern``, ``format`` (``date-time``/``date``, loosely), item
   and property counts, ``uniqueItems``, ``allOf``/``anyOf``/``oneOf``/``not``, ``additionalProperties``
   schemas.

Errors come back as (field path, message) pairs in Kubernetes' wording, for example
``("spec.replicas", "Invalid value: 0: spec.replicas in body should be greater than or equal to 1")``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any, Final

from zkop_local.apiserver.merge.jsonvalues import json_equal

__all__ = ["reason_for", "validate_default_prune"]

_META_FIELDS: Final = ("apiVersion", "kind", "metadata")

_DATE_TIME: Final = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# Error types by the start of the message, as field.ErrorType → StatusCause.reason.
_REASONS: Final = (
    ("Required value", "FieldValueRequired"),
    ("Unsupported value", "FieldValueNotSupported"),
    ("Too long", "FieldValueTooLong"),
    ("Too many", "FieldValueTooMany"),
    ("Forbidden", "FieldValueForbidden"),
    ("Duplicate value", "FieldValueDuplicate"),
)


def reason_for(message: str) -> str:
    """The ``StatusCause`` reason of an error message produced here (``FieldValueInvalid`` by default)."""
    for prefix, reason in _REASONS:
        if message.startswith(prefix):
            return reason
    return "FieldValueInvalid"


def validate_default_prune(
    obj: dict[str, Any],
    openapi_v3_schema: dict[str, Any],
    *,
    unknown_fields: list[str] | None = None,
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Prune, default and validate a custom resource against its CRD version's ``openAPIV3Schema``.

    Returns the pruned and defaulted copy of ``obj`` and the validation errors (empty when valid).
    ``unknown_fields``, when given, receives the paths of pruned fields (for ``fieldValidation=Strict``:
    ``unknown field "spec.foo"``).
    """
    result = copy.deepcopy(obj)
    schema = openapi_v3_schema or {}
    _prune(result, schema, "", unknown_fields, root=True)
    _default(result, schema, root=True)
    _prune_nulls(result, schema)
    errors: list[tuple[str, str]] = []
    _validate(result, schema, "", errors, root=True)
    return result, errors


# ================================================================================================ pruning


def _child_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _properties(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    props = schema.get("properties")
    return props if isinstance(props, Mapping) else {}


def _additional(schema: Mapping[str, Any]) -> Mapping[str, Any] | bool | None:
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        return extra
    if extra is True:
        return True
    return None


def _prune(
    value: Any, schema: Mapping[str, Any] | None, path: str, unknown: list[str] | None, *, root: bool = False
) -> None:
    if schema is None:
        return
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    keep_meta = root or bool(schema.get("x-kubernetes-embedded-resource"))
    if isinstance(value, dict):
        props = _properties(schema)
        extra = _additional(schema)
        for key in list(value):
            if keep_meta and key in _META_FIELDS:
                continue
            child = _child_path(path, key)
            if key in props:
                _prune(value[key], props[key], child, unknown)
            elif isinstance(extra, Mapping):
                _prune(value[key], extra, child, unknown)
            elif extra is True or preserve:
                continue
            else:
                if unknown is not None:
                    unknown.append(child)
                del value[key]
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                _prune(item, items, f"{path}[{index}]", unknown)


# ============================================================================================== defaulting


def _nullable(schema: Mapping[str, Any]) -> bool:
    return bool(schema.get("nullable"))


def _default(value: Any, schema: Mapping[str, Any] | None, *, root: bool = False) -> None:
    if schema is None:
        return
    if isinstance(value, dict):
        props = _properties(schema)
        for key, prop in props.items():
            if not isinstance(prop, Mapping) or "default" not in prop:
                continue
            if root and key in _META_FIELDS:
                continue
            if key not in value or (value[key] is None and not _nullable(prop)):
                value[key] = copy.deepcopy(prop["default"])
        extra = _additional(schema)
        for key, child in value.items():
            if root and key == "metadata":
                continue
            if key in props:
                _default(child, props[key])
            elif isinstance(extra, Mapping):
                if child is None and not _nullable(extra) and "default" in extra:
                    value[key] = child = copy.deepcopy(extra["default"])
                _default(child, extra)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, Mapping):
            for index, item in enumerate(value):
                if item is None and not _nullable(items) and "default" in items:
                    value[index] = item = copy.deepcopy(items["default"])
                _default(item, items)


def _prune_nulls(value: Any, schema: Mapping[str, Any] | None) -> None:
    if isinstance(value, dict):
        for key in list(value):
            sub = _field_schema(schema, key)
            if value[key] is None and sub is not None and not _nullable(sub) and "default" not in sub:
                del value[key]
            else:
                _prune_nulls(value[key], sub)
    elif isinstance(value, list):
        items = schema.get("items") if schema is not None else None
        for item in value:
            _prune_nulls(item, items if isinstance(items, Mapping) else None)


def _field_schema(schema: Mapping[str, Any] | None, key: str) -> Mapping[str, Any] | None:
    if schema is None:
        return None
    props = _properties(schema)
    if key in props and isinstance(props[key], Mapping):
        return props[key]  # type: ignore[no-any-return]
    extra = _additional(schema)
    return extra if isinstance(extra, Mapping) else None


# ============================================================================================== validation


def _format_number(number: Any) -> str:
    if isinstance(number, bool):
        return "true" if number else "false"
    if isinstance(number, float) and number.is_integer():
        return str(int(number))
    return str(number)


def _bad_value(value: Any) -> str:
    """field.Error's rendering of a bad value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _format_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "integer" if value.is_integer() else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [str(k) for k in kind]
    return []


def _type_matches(value: Any, expected: list[str]) -> bool:
    actual = _json_type(value)
    if actual in expected:
        return True
    return actual == "integer" and "number" in expected


def _invalid(errors: list[tuple[str, str]], path: str, value: Any, detail: str) -> None:
    errors.append((path, f"Invalid value: {_bad_value(value)}: {detail}"))


def _validate(
    value: Any, schema: Mapping[str, Any], path: str, errors: list[tuple[str, str]], *, root: bool = False
) -> None:
    if not isinstance(schema, Mapping):
        return
    name = path or "."
    # Type.
    if value is None:
        if schema.get("nullable") or (not _types(schema) and not schema.get("x-kubernetes-int-or-string")):
            return
        expected = "integer,string" if schema.get("x-kubernetes-int-or-string") else ",".join(_types(schema))
        _invalid(errors, path, "null", f'{name} in body must be of type {expected}: "null"')
        return
    if schema.get("x-kubernetes-int-or-string"):
        if _json_type(value) not in ("integer", "string"):
            actual = _json_type(value)
            _invalid(errors, path, actual, f'{name} in body must be of type integer,string: "{actual}"')
            return
    elif _types(schema) and not _type_matches(value, _types(schema)):
        actual = _json_type(value)
        expected = ",".join(_types(schema))
        _invalid(errors, path, actual, f'{name} in body must be of type {expected}: "{actual}"')
        return

    _validate_combinators(value, schema, path, errors)

    if isinstance(value, str):
        _validate_string(value, schema, path, errors)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        _validate_number(value, schema, path, errors)
    elif isinstance(value, list):
        _validate_array(value, schema, path, errors)
    elif isinstance(value, dict):
        _validate_object(value, schema, path, errors, root=root)

    enum = schema.get("enum")
    if isinstance(enum, list) and enum and not any(json_equal(value, allowed) for allowed in enum):
        supported = ", ".join(
            json.dumps(a if isinstance(a, str) else json.dumps(a, separators=(",", ":")), ensure_ascii=False)
            for a in enum
        )
        errors.append((path, f"Unsupported value: {_bad_value(value)}: supported values: {supported}"))

    if schema.get("x-kubernetes-embedded-resource") and isinstance(value, dict):
        for key in ("apiVersion", "kind"):
            if not value.get(key):
                errors.append((_child_path(path, key), "Required value: must not be empty"))


def _validate_combinators(
    value: Any, schema: Mapping[str, Any], path: str, errors: list[tuple[str, str]]
) -> None:
    quoted = json.dumps(path or ".")
    for sub in schema.get("allOf") or []:
        if isinstance(sub, Mapping):
            _validate(value, sub, path, errors)
    any_of = [s for s in schema.get("anyOf") or [] if isinstance(s, Mapping)]
    if any_of:
        results = [_errors_of(value, sub, path) for sub in any_of]
        if all(results):
            _invalid(errors, path, value, f"{quoted} must validate at least one schema (anyOf)")
            errors.extend(_fewest(results))
    one_of = [s for s in schema.get("oneOf") or [] if isinstance(s, Mapping)]
    if one_of:
        results = [_errors_of(value, sub, path) for sub in one_of]
        valid = sum(1 for r in results if not r)
        if valid != 1:
            detail = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
            _invalid(errors, path, value, f"{quoted} must validate one and only one schema (oneOf). {detail}")
            if valid == 0:
                errors.extend(_fewest(results))
    not_schema = schema.get("not")
    if isinstance(not_schema, Mapping) and not _errors_of(value, not_schema, path):
        _invalid(errors, path, value, f"{quoted} must not validate the schema (not)")


def _fewest(results: list[list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """The errors of the alternative that came closest to validating."""
    best = results[0]
    for result in results[1:]:
        if len(result) < len(best):
            best = result
    return best


def _errors_of(value: Any, schema: Mapping[str, Any], path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    _validate(value, schema, path, found)
    return found


def _validate_string(value: str, schema: Mapping[str, Any], path: str, errors: list[tuple[str, str]]) -> None:
    max_length = schema.get("maxLength")
    if isinstance(max_length, int) and len(value) > max_length:
        unit = "byte" if max_length == 1 else "bytes"
        errors.append((path, f"Too long: may not be more than {max_length} {unit}"))
    min_length = schema.get("minLength")
    if isinstance(min_length, int) and len(value) < min_length:
        _invalid(errors, path, value, f"{path} in body should be at least {min_length} chars long")
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            matched = re.search(pattern, value) is not None
        except re.error:
            matched = True
        if not matched:
            _invalid(errors, path, value, f"{path} in body should match '{pattern}'")
    fmt = schema.get("format")
    if fmt == "date-time" and not _DATE_TIME.match(value):
        _invalid(errors, path, value, f"{path} in body must be of type date-time: {json.dumps(value)}")
    elif fmt == "date" and not _DATE.match(value):
        _invalid(errors, path, value, f"{path} in body must be of type date: {json.dumps(value)}")


def _validate_number(
    value: float, schema: Mapping[str, Any], path: str, errors: list[tuple[str, str]]
) -> None:
    multiple = schema.get("multipleOf")
    if isinstance(multiple, (int, float)) and multiple > 0:
        quotient = value / multiple
        if abs(quotient - round(quotient)) > 1e-9:
            _invalid(
                errors, path, value, f"{path} in body should be a multiple of {_format_number(multiple)}"
            )
    maximum = schema.get("maximum")
    if isinstance(maximum, (int, float)) and not isinstance(maximum, bool):
        if schema.get("exclusiveMaximum") is True:
            if value >= maximum:
                _invalid(errors, path, value, f"{path} in body should be less than {_format_number(maximum)}")
        elif value > maximum:
            _invalid(
                errors,
                path,
                value,
                f"{path} in body should be less than or equal to {_format_number(maximum)}",
            )
    minimum = schema.get("minimum")
    if isinstance(minimum, (int, float)) and not isinstance(minimum, bool):
        if schema.get("exclusiveMinimum") is True:
            if value <= minimum:
                _invalid(
                    errors, path, value, f"{path} in body should be greater than {_format_number(minimum)}"
                )
        elif value < minimum:
            _invalid(
                errors,
                path,
                value,
                f"{path} in body should be greater than or equal to {_format_number(minimum)}",
            )


def _validate_array(
    value: list[Any], schema: Mapping[str, Any], path: str, errors: list[tuple[str, str]]
) -> None:
    min_items = schema.get("minItems")
    if isinstance(min_items, int) and len(value) < min_items:
        _invalid(errors, path, len(value), f"{path} in body should have at least {min_items} items")
    max_items = schema.get("maxItems")
    if isinstance(max_items, int) and len(value) > max_items:
        unit = "item" if max_items == 1 else "items"
        errors.append((path, f"Too many: {len(value)}: must have at most {max_items} {unit}"))
    if schema.get("uniqueItems") is True:
        for index, item in enumerate(value):
            if any(json_equal(item, other) for other in value[:index]):
                _invalid(errors, path, "", f"{path} in body shouldn't contain duplicates")
                break
    items = schema.get("items")
    if isinstance(items, Mapping):
        for index, item in enumerate(value):
            _validate(item, items, f"{path}[{index}]", errors)


def _validate_object(
    value: dict[str, Any], schema: Mapping[str, Any], path: str, errors: list[tuple[str, str]], *, root: bool
) -> None:
    min_props = schema.get("minProperties")
    if isinstance(min_props, int) and len(value) < min_props:
        _invalid(errors, path, len(value), f"{path} in body should have at least {min_props} properties")
    max_props = schema.get("maxProperties")
    if isinstance(max_props, int) and len(value) > max_props:
        unit = "item" if max_props == 1 else "items"
        errors.append((path, f"Too many: {len(value)}: must have at most {max_props} {unit}"))
    for key in schema.get("required") or []:
        if isinstance(key, str) and key not in value:
            errors.append((_child_path(path, key), "Required value"))
    props = _properties(schema)
    extra = _additional(schema)
    for key, child in value.items():
        child_path = _child_path(path, key)
        if root and key == "metadata":
            _validate_metadata(child, props.get("metadata"), child_path, errors)
            continue
        if key in props and isinstance(props[key], Mapping):
            _validate(child, props[key], child_path, errors)
        elif isinstance(extra, Mapping):
            _validate(child, extra, child_path, errors)


def _validate_metadata(value: Any, schema: Any, path: str, errors: list[tuple[str, str]]) -> None:
    """At the root only ``metadata.name`` and ``metadata.generateName`` may be constrained by a CRD."""
    if not isinstance(value, dict) or not isinstance(schema, Mapping):
        return
    props = _properties(schema)
    for key in ("name", "generateName"):
        if key in value and isinstance(props.get(key), Mapping):
            _validate(value[key], props[key], _child_path(path, key), errors)
