"""Kubernetes timestamps: RFC 3339 in UTC with seconds precision (metav1.Time)."""

from __future__ import annotations

import datetime as dt


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
