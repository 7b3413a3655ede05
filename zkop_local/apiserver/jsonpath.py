"""The JSONPath subset that ``additionalPrinterColumns`` use, evaluated as client-go's ``jsonpath`` does.

Supported: ``.field`` (``\\.`` escapes a dot in a key), ``['key']`` and ``["key"]``, ``[n]`` (negative
from the end), ``[start:end:step]``, ``[*]`` and ``.*``, unions ``[0,2]`` / ``['a','b']``, recursive
descent ``..field`` and filters ``[?(@.path)]`` / ``[?(@.path <op> literal-or-@path)]`` with
``== != < > <= >=``. An optional ``{...}`` around the expression is accepted. Missing keys give no results
(``AllowMissingKeys(true)``), as for printer columns on a real server; evaluation always returns the list
of matched values in document order.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">")


class JsonPathError(ValueError):
    """The expression is outside the supported subset or malformed."""


@dataclass(frozen=True)
class _Step:
    kind: str  # field | index | slice | wild | recursive | union | filter
    name: str = ""
    indices: tuple[int | None, ...] = ()
    names: tuple[str, ...] = ()
    filter: _Filter | None = None


@dataclass(frozen=True)
class _Filter:
    left: tuple[_Step, ...]
    operator: str = ""  # "" means "exists"
    right_path: tuple[_Step, ...] | None = None
    right_value: Any = None


_CACHE: dict[str, tuple[_Step, ...]] = {}


def compile_path(expression: str) -> tuple[_Step, ...]:
    """Parse once; parsed paths are cached (printer columns are evaluated for every row)."""
    steps = _CACHE.get(expression)
    if steps is None:
        text = expression.strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1].strip()
        if text.startswith("$") or text.startswith("@"):
            text = text[1:]
        steps = _Parser(text).parse()
        if len(_CACHE) > 1024:
            _CACHE.clear()
        _CACHE[expression] = steps
    return steps


def find(expression: str, document: Any) -> list[Any]:
    """Every value the expression selects in ``document`` (empty when nothing matches)."""
    return _evaluate(compile_path(expression), document)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> tuple[_Step, ...]:
        steps: list[_Step] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == ".":
                if text.startswith("..", self.pos):
                    self.pos += 2
                    if self.pos < len(text) and text[self.pos] == "[":
                        steps.append(_Step("recursive"))
                        continue
                    name = self._name()
                    steps.append(_Step("recursive", name=name))
                    continue
                self.pos += 1
                if self.pos >= len(text):
                    break  # a lone trailing dot (".") is the current node
                if text[self.pos] == "*":
                    self.pos += 1
                    steps.append(_Step("wild"))
                    continue
                if text[self.pos] == "[":
                    continue
                steps.append(_Step("field", name=self._name()))
            elif char == "[":
                steps.append(self._bracket())
            elif not steps and self.pos == 0:
                steps.append(_Step("field", name=self._name()))
            else:
                raise JsonPathError(f"unexpected {char!r} at {self.pos} in {text!r}")
        return tuple(steps)

    def _name(self) -> str:
        text = self.text
        out: list[str] = []
        while self.pos < len(text) and text[self.pos] not in ".[":
            if text[self.pos] == "\\" and self.pos + 1 < len(text):
                out.append(text[self.pos + 1])
                self.pos += 2
                continue
            out.append(text[self.pos])
            self.pos += 1
        if not out:
            raise JsonPathError(f"empty field name at {self.pos} in {text!r}")
        return "".join(out)

    def _bracket(self) -> _Step:
        text = self.text
        start = self.pos + 1
        depth, quote, index = 0, "", start
        while index < len(text):
            char = text[index]
            if quote:
                if char == "\\":
                    index += 2
                    continue
                if char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            elif char == "]" and depth == 0:
                break
            index += 1
        else:
            raise JsonPathError(f"unterminated [ in {text!r}")
        inner = text[start:index].strip()
        self.pos = index + 1
        if inner == "*":
            return _Step("wild")
        if inner.startswith("?"):
            body = inner[1:].strip()
            if not (body.startswith("(") and body.endswith(")")):
                raise JsonPathError(f"malformed filter [{inner}]")
            return _Step("filter", filter=_parse_filter(body[1:-1].strip()))
        if inner[:1] in ("'", '"'):
            return _Step("union", names=tuple(_literal(part) for part in _split_top(inner, ",")))
        if ":" in inner:
            parts = [p.strip() for p in inner.split(":")]
            if len(parts) > 3:
                raise JsonPathError(f"malformed slice [{inner}]")
            values = tuple(int(p) if p else None for p in parts)
            return _Step("slice", indices=values + (None,) * (3 - len(values)))
        try:
            numbers = tuple(int(p) for p in inner.split(","))
        except ValueError:
            raise JsonPathError(f"unsupported subscript [{inner}]") from None
        if len(numbers) == 1:
            return _Step("index", indices=numbers)
        return _Step("union", indices=numbers)


def _split_top(text: str, separator: str) -> list[str]:
    parts, current, quote = [], [], ""
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            current.append(char)
            if char == "\\" and index + 1 < len(text):
                current.append(text[index + 1])
                index += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            current.append(char)
        elif char == separator:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current).strip())
    return parts


def _literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        body = text[1:-1]
        return re.sub(r"\\(.)", r"\1", body)
    if _NUMBER.match(text):
        return float(text) if any(c in text for c in ".eE") else int(text)
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    raise JsonPathError(f"unsupported literal {text!r}")


def _parse_filter(body: str) -> _Filter:
    quote = ""
    for index, char in enumerate(body):
        if quote:
            if char == quote:
                quote = ""
            continue
        if char in "'\"":
            quote = char
            continue
        for operator in _OPERATORS:
            if body.startswith(operator, index):
                left, right = body[:index].strip(), body[index + len(operator) :].strip()
                return _Filter(
                    left=_relative(left),
                    operator=operator,
                    right_path=_relative(right) if right.startswith("@") else None,
                    right_value=None if right.startswith("@") else _literal(right),
                )
    return _Filter(left=_relative(body))


def _relative(text: str) -> tuple[_Step, ...]:
    if not text.startswith("@"):
        raise JsonPathError(f"filter operands must start with @: {text!r}")
    return _Parser(text[1:]).parse()


# -- evaluation ---------------------------------------------------------------------------------------------


def _evaluate(steps: tuple[_Step, ...], document: Any) -> list[Any]:
    nodes = [document]
    for step in steps:
        nodes = [found for node in nodes if node is not None for found in _apply(step, node)]
    return nodes


def _apply(step: _Step, node: Any) -> list[Any]:
    if step.kind == "field":
        return [node[step.name]] if isinstance(node, dict) and step.name in node else []
    if step.kind == "wild":
        if isinstance(node, dict):
            return [node[k] for k in sorted(node)]
        return list(node) if isinstance(node, list) else []
    if step.kind == "index":
        if not isinstance(node, list):
            return []
        index: int = step.indices[0] or 0
        if index < 0:
            index += len(node)
        return [node[index]] if 0 <= index < len(node) else []
    if step.kind == "slice":
        if not isinstance(node, list):
            return []
        begin, end, stride = step.indices
        return list(node[slice(begin, end, stride or None)])
    if step.kind == "union":
        if step.names:
            return [node[n] for n in step.names if isinstance(node, dict) and n in node]
        out = []
        for wanted in step.indices:
            if isinstance(node, list) and wanted is not None and -len(node) <= wanted < len(node):
                out.append(node[wanted])
        return out
    if step.kind == "recursive":
        descendants = _descendants(node)
        if not step.name:
            return descendants
        return [d[step.name] for d in descendants if isinstance(d, dict) and step.name in d]
    if step.kind == "filter":
        assert step.filter is not None
        if not isinstance(node, list):
            return []
        return [item for item in node if _matches(step.filter, item)]
    raise JsonPathError(f"unknown step {step.kind}")


def _descendants(node: Any) -> list[Any]:
    out = [node]
    children = (
        [node[k] for k in sorted(node)] if isinstance(node, dict) else node if isinstance(node, list) else []
    )
    for child in children:
        out.extend(_descendants(child))
    return out


def _matches(flt: _Filter, item: Any) -> bool:
    lefts = _evaluate(flt.left, item)
    if not flt.operator:
        return bool(lefts)
    if len(lefts) != 1:
        return False
    if flt.right_path is not None:
        rights = _evaluate(flt.right_path, item)
        if len(rights) != 1:
            return False
        right = rights[0]
    else:
        right = flt.right_value
    return _compare(lefts[0], flt.operator, right)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(left: Any, operator: str, right: Any) -> bool:
    comparable = (_is_number(left) and _is_number(right)) or type(left) is type(right)
    if not comparable:
        return False  # client-go: "incompatible types for comparison" (no match)
    try:
        if operator == "==":
            return bool(left == right)
        if operator == "!=":
            return bool(left != right)
        if operator == "<":
            return bool(left < right)
        if operator == ">":
            return bool(left > right)
        if operator == "<=":
            return bool(left <= right)
        return bool(left >= right)
    except TypeError:
        return False


def to_text(value: Any) -> str:
    """How client-go's ``PrintResults`` writes one value: JSON for maps and lists, ``%v`` for scalars."""
    if isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float(value)
    if value is None:
        return "<nil>"
    return str(value)


def go_float(value: float) -> str:
    """Go's ``%v`` for a float64: shortest representation, exponent form below 1e-4 or from 1e21."""
    if value != value or value in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "+Inf", "-inf": "-Inf"}[repr(value)]
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text
    exp = int(exponent)
    if -4 <= exp < 21:
        return format(value, "f").rstrip("0").rstrip(".")
    return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
