"""Turning a resource as read from the API into models, with errors that name the field and the fix."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

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


def field_errors(exc: ValidationError, prefix: tuple[str, ...] = ()) -> list[FieldError]:
    """pydantic's errors as field paths (`spec.replicas`) and fixes, each field once."""
    errors = []
    for err in exc.errors():
        # Union branches and validators add their own names to the location (`int`, `str`,
        # `function-after[...]`): they are not fields, so they leave the path.
        loc = tuple(p for p in err["loc"] if p not in ("int", "str") and not str(p).startswith("function-"))
        errors.append(FieldError(_field_path(prefix + loc), _friendly(err)))
    return list(dict.fromkeys(errors))


R = TypeVar("R", bound=BaseModel)


def parse_resource(model: type[R], obj: dict[str, Any]) -> R:
    """Parse a whole resource; raise InvalidSpec naming every bad field. A status zkop cannot read is
    no reason to refuse the spec: it is dropped, and zkop's next status write replaces it."""
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        errors = [e for e in field_errors(exc) if e.field != "status" and not e.field.startswith("status.")]
        if not errors:
            return model.model_validate({**obj, "status": None})
        raise InvalidSpec(errors) from None


S = TypeVar("S", bound=BaseModel)


def read_status(model: type[S], body: Mapping[str, Any]) -> S | None:
    """The status a resource carries, or None when it has none or one zkop cannot read (written by
    something else: zkop's next status write replaces it)."""
    raw = body.get("status")
    if not raw:
        return None
    try:
        return model.model_validate(raw)
    except ValueError:
        return None


def parse_cluster(obj: dict[str, Any]) -> ZookeeperCluster:
    """Parse a ZookeeperCluster; raise InvalidSpec naming every bad field (paths like `spec.replicas`)."""
    return parse_resource(ZookeeperCluster, obj)
