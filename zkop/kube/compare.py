"""Deciding, without writing, whether applying a manifest would change the live object. Pure.

A server fills in defaults (clusterIP, probe timeouts, protocol, ...), so the live object is a superset
of what zkop applies. zkop writes only when something it applies is missing or different, which makes a
steady-state pass write nothing at all. Quantities compare by value (a server may print 1Gi as 1024Mi).
"""

from __future__ import annotations

from decimal import InvalidOperation
from typing import Any

from zkop.render.quantity import to_decimal

_QUANTITY_PARENTS = {"requests", "limits", "capacity"}


def _scalar_equal(desired: Any, live: Any, parent: str) -> bool:
    if desired == live:
        return True
    if parent in _QUANTITY_PARENTS and isinstance(desired, str | int) and isinstance(live, str | int):
        try:
            return to_decimal(str(desired)) == to_decimal(str(live))
        except (InvalidOperation, ValueError):
            return False
    return False


def covers(live: Any, desired: Any, key: str = "", parent: str = "") -> bool:
    """True when every field of `desired` is present in `live` with an equal value."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return not desired and live is None
        return all(
            covers(live.get(child), value, child, key)
            for child, value in desired.items()
            if not (value in ({}, []) and live.get(child) is None)
        )
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return False
        return all(covers(lv, dv, key, parent) for lv, dv in zip(live, desired, strict=True))
    return _scalar_equal(desired, live, parent)
