"""Object metadata rules shared by the handlers: timestamps, names, uids, generation."""

from __future__ import annotations

import copy
import datetime as dt
import random
import re
import uuid
from typing import Any

Obj = dict[str, Any]

# The alphabet the real server draws generateName suffixes from (no vowels, so no accidental words).
GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def rfc3339(moment: dt.datetime | None = None) -> str:
    """Seconds precision with ``Z``, the format of ``creationTimestamp`` and friends."""
    return (moment or now()).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> dt.datetime:
    """Parse RFC 3339 with ``Z`` or an offset, with or without fractions (kopf sends ``+00:00``)."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


def new_uid() -> str:
    return str(uuid.uuid4())


def generated_name(prefix: str) -> str:
    return prefix + "".join(random.choice(GENERATE_NAME_ALPHABET) for _ in range(5))


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid DNS subdomain (most kinds), or None."""
    if len(name) > 253:
        return "must be no more than 253 characters"
    if not _DNS_SUBDOMAIN.match(name):
        return (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return None


def deep(obj: Obj) -> Obj:
    return copy.deepcopy(obj)


def metadata(obj: Obj) -> Obj:
    """The object's metadata dict, created if absent."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = {}
        obj["metadata"] = meta
    return meta


def without(obj: Obj, *keys: str) -> Obj:
    return {k: v for k, v in obj.items() if k not in keys}


def spec_changed(old: Obj, new: Obj, *, status_is_subresource: bool) -> bool:
    """Whether a write changes what generation counts: everything outside metadata (and status if it is a
    subresource). Comparing whole remainders also catches top-level fields like ConfigMap ``data``."""
    ignored = ("metadata", "status") if status_is_subresource else ("metadata",)
    return without(old, *ignored, "apiVersion", "kind") != without(new, *ignored, "apiVersion", "kind")


def get_path(obj: Any, dotted: str) -> Any:
    """Look up ``.spec.replicas``-style paths; None when any step is missing."""
    node = obj
    for segment in [s for s in dotted.split(".") if s]:
        if not isinstance(node, dict):
            return None
        node = node.get(segment)
    return node


def set_path(obj: Obj, dotted: str, value: Any) -> None:
    segments = [s for s in dotted.split(".") if s]
    node = obj
    for segment in segments[:-1]:
        child = node.get(segment)
        if not isinstance(child, dict):
            child = {}
            node[segment] = child
        node = child
    node[segments[-1]] = value
