"""Turning a resource as read from the API into models, with errors that name the field and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from zkop.api.cluster import ZookeeperCluster


@dataclass(frozen=True)
class FieldError:
    """One problem in a resource: the dotted field path and what to do about it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidSpec(ValueError):
    """The resource cannot be acted on; `errors` says where and why."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def _field_path(location: tuple[int | str, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _friendly(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    if kind == "extra_forbidden":
        return "unknown field: remove it or check its spelling"
    if kind == "missing":
        return "required field is missing"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {
            "greater_than_equal": ">=",
            "less_than_equal": "<=",
            "greater_than": ">",
            "less_than": "<",
        }[kind]
        limit = next(iter(ctx.values()), "?")
        return f"must be {bound} {limit} (got {given!r})"
    if kind == "string_pattern_mismatch":
        return f"{given!r} is not a valid quantity or value (expected a form like 10Gi or 512Mi)"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        return f"{error['msg']} (got {given!r})"
    return f"{error['msg']} (got {given!r})"


def parse_cluster(obj: dict[str, Any]) -> ZookeeperCluster:
    """Parse a ZookeeperCluster; raise InvalidSpec naming every bad field (paths like `spec.replicas`)."""
    try:
        return ZookeeperCluster.model_validate(obj)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            # Union branches add their type name to the location (`int`, `str`): drop them from the path.
            loc = tuple(p for p in loc if p not in ("int", "str", "function-after[_config_is_safe()]"))
            errors.append(FieldError(_field_path(loc), _friendly(err)))
        # One field can fail once per union branch; report it once.
        unique = list(dict.fromkeys(errors))
        raise InvalidSpec(unique) from None
