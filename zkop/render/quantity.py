"""Kubernetes quantities, for the few places rendering needs a number out of one."""

from __future__ import annotations

import math
from decimal import Decimal

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}


def to_decimal(quantity: str) -> Decimal:
    """The quantity's value in base units (bytes for memory)."""
    text = quantity.strip()
    for suffix, factor in _BINARY.items():
        if text.endswith(suffix):
            return Decimal(text[: -len(suffix)]) * factor
    if text and text[-1] in _DECIMAL and not text[-1].isdigit():
        return Decimal(text[:-1]) * _DECIMAL[text[-1]]
    return Decimal(text)


def mebibytes(quantity: str) -> int:
    """A memory quantity in whole MiB, rounded up (a JVM heap flag takes whole megabytes)."""
    return max(1, math.ceil(to_decimal(quantity) / 2**20))
