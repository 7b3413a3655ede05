"""Label and field selectors as they arrive in ``labelSelector=`` and ``fieldSelector=`` query parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import ApiError, bad_request

_LABEL_KEY = re.compile(
    r"^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$"
)


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!exists"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op == "=":
            return value == self.values[0]
        if self.op == "!=":
            # Like the real server: "k!=v" also matches objects without the label.
            return value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return value not in self.values
        raise AssertionError(self.op)


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses ("a in (x,y),b" -> two parts)."""
    parts: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


_SET_EXPR = re.compile(r"^(\S+)\s+(in|notin)\s*\(([^)]*)\)$")


def parse_label_selector(text: str) -> list[Requirement]:
    """Parse ``labelSelector`` (comma = AND). Raises 400 BadRequest on nonsense."""
    requirements: list[Requirement] = []
    for part in _split_top_level(text or ""):
        requirement = _parse_label_requirement(part)
        if not _LABEL_KEY.match(requirement.key):
            raise bad_request(f'unable to parse requirement: invalid label key "{requirement.key}"')
        requirements.append(requirement)
    return requirements


def _parse_label_requirement(part: str) -> Requirement:
    set_match = _SET_EXPR.match(part)
    if set_match:
        values = tuple(v.strip() for v in set_match.group(3).split(",") if v.strip())
        return Requirement(set_match.group(1), set_match.group(2), values)
    for op_text, op in (("==", "="), ("!=", "!="), ("=", "=")):
        if op_text in part:
            key, _, value = part.partition(op_text)
            return Requirement(key.strip(), op, (value.strip(),))
    if part.startswith("!"):
        return Requirement(part[1:].strip(), "!exists")
    if " " in part or "(" in part:
        raise bad_request(f"unable to parse requirement: {part!r}")
    return Requirement(part, "exists")


def labels_match(requirements: list[Requirement], obj: dict[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(r.matches(labels) for r in requirements)


@dataclass(frozen=True)
class FieldRequirement:
    path: str
    equal: bool
    value: str


def parse_field_selector(text: str, supported: tuple[str, ...]) -> list[FieldRequirement]:
    """Parse ``fieldSelector``; a field outside ``supported`` and metadata.* is a 400 BadRequest."""
    allowed = ("metadata.name", "metadata.namespace", *supported)
    requirements: list[FieldRequirement] = []
    for part in _split_top_level(text or ""):
        operator = next((op for op in ("==", "!=", "=") if op in part), None)
        if operator is None:
            raise bad_request(f"invalid selector: '{part}'; can't understand '{part}'")
        path, _, value = part.partition(operator)
        path = path.strip()
        equal = operator != "!="
        if path not in allowed:
            only = ", ".join(f'"{a}"' for a in allowed)
            raise ApiError(400, "BadRequest", f'"{path}" is not a known field selector: only {only}')
        requirements.append(FieldRequirement(path, equal, value.strip()))
    return requirements


def field_value(obj: dict[str, Any], path: str) -> str:
    """The selector value of a field: nested lookup rendered as the server's string form."""
    node: Any = obj
    if path == "source":  # Event "source" selects on source.component
        node = (obj.get("source") or {}).get("component", "")
        return str(node)
    for segment in path.split("."):
        if not isinstance(node, dict):
            node = None
            break
        node = node.get(segment)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, list):
        # status.podIPs: match against the first IP like the real pod field set does.
        first = node[0] if node else {}
        return str(first.get("ip", "")) if isinstance(first, dict) else str(first)
    return str(node)


def fields_match(requirements: list[FieldRequirement], obj: dict[str, Any]) -> bool:
    for requirement in requirements:
        actual = field_value(obj, requirement.path)
        if (actual == requirement.value) != requirement.equal:
            return False
    return True


@dataclass(frozen=True)
class Selector:
    """Both selectors of one request."""

    labels: tuple[Requirement, ...] = ()
    fields: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: dict[str, Any]) -> bool:
        return labels_match(list(self.labels), obj) and fields_match(list(self.fields), obj)

    @classmethod
    def parse(cls, label_text: str, field_text: str, supported_fields: tuple[str, ...]) -> Selector:
        return cls(
            tuple(parse_label_selector(label_text)),
            tuple(parse_field_selector(field_text, supported_fields)),
        )


def selector_string(selector: dict[str, Any]) -> str:
    """Render a LabelSelector struct (matchLabels/matchExpressions) as the string form used by /scale."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expression in selector.get("matchExpressions") or []:
        key = expression.get("key", "")
        operator = expression.get("operator", "")
        values = ",".join(sorted(expression.get("values") or []))
        if operator == "In":
            parts.append(f"{key} in ({values})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({values})")
        elif operator == "Exists":
            parts.append(key)
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)
