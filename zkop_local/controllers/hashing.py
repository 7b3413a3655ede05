"""Template hashes for ControllerRevision names and ``pod-template-hash`` labels."""

from __future__ import annotations

import json
from typing import Any

# Kubernetes' rand.SafeEncodeString alphabet: no vowels (no words) and no look-alike characters.
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in text)


def template_hash(data: Any, collision_count: int = 0) -> str:
    """A stable short hash of ``data`` (canonical JSON), salted by the collision counter.

    Kubernetes hashes Go's debug print of the object, which Python cannot reproduce, so names differ
    from a real cluster's while having the same shape and the same collision handling.
    """
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        raw += str(collision_count).encode()
    return safe_encode(str(fnv32a(raw)))
