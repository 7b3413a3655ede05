"""ZooKeeper's quota records, as the server and `zkCli setquota` read and write them. Pure.

A quota on PATH lives in two nodes the server watches: `/zookeeper/quota<PATH>/zookeeper_limits` (the
limits) and `/zookeeper/quota<PATH>/zookeeper_stats` (the usage, kept current by the server itself once the
node exists). Both hold ZooKeeper's StatsTrack text: `count=N,bytes=M`, -1 meaning "no limit". Since 3.7
hard limits follow as `;byteHardLimit=..;countHardLimit=..`, with an extra `=` after the bytes value so
that pre-3.7 parsers (which split on `=` and read the second field) still read `bytes` correctly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

QUOTA_ROOT = "/zookeeper/quota"
LIMITS_NODE = "zookeeper_limits"
STATS_NODE = "zookeeper_stats"
UNLIMITED = -1

_SEPARATORS = re.compile(r"[,;]+")


class QuotaFormatError(ValueError):
    """A quota node whose data is not StatsTrack text."""


def quota_node(path: str) -> str:
    return QUOTA_ROOT + path


def limits_node(path: str) -> str:
    return f"{QUOTA_ROOT}{path}/{LIMITS_NODE}"


def stats_node(path: str) -> str:
    return f"{QUOTA_ROOT}{path}/{STATS_NODE}"


def parse_stats_track(text: str) -> dict[str, int]:
    """StatsTrack text to its fields; an empty value reads as -1, as ZooKeeper reads it."""
    fields: dict[str, int] = {}
    for pair in _SEPARATORS.split(text.strip()):
        if not pair:
            continue
        key, sep, rest = pair.partition("=")
        if not sep or not key:
            raise QuotaFormatError(f"{pair!r} is not key=value")
        value = rest.split("=", 1)[0]
        try:
            fields[key] = int(value) if value else UNLIMITED
        except ValueError:
            raise QuotaFormatError(f"{pair!r}: {value!r} is not a number") from None
    return fields


@dataclass(frozen=True)
class QuotaLimits:
    """Soft limits (-1: none) and, when `hard`, the same values as hard limits."""

    count: int = UNLIMITED
    bytes: int = UNLIMITED
    hard: bool = False

    def fields(self) -> dict[str, int]:
        fields = {"count": self.count, "bytes": self.bytes}
        if self.hard:
            fields |= {"countHardLimit": self.count, "byteHardLimit": self.bytes}
        return fields

    def text(self) -> str:
        """The limits node's data, in the order and shape ZooKeeper's own StatsTrack writes."""
        text = f"count={self.count},bytes={self.bytes}"
        extra = {k: v for k, v in self.fields().items() if k not in ("count", "bytes")}
        if extra:
            text += "=" + "".join(f";{k}={v}" for k, v in sorted(extra.items()))
        return text

    def same_as(self, text: str) -> bool:
        """Whether a limits node's data already says exactly this (absent fields read as -1)."""
        try:
            existing = parse_stats_track(text)
        except QuotaFormatError:
            return False
        wanted = self.fields()
        keys = set(existing) | set(wanted)
        return all(existing.get(k, UNLIMITED) == wanted.get(k, UNLIMITED) for k in keys)


@dataclass(frozen=True)
class Usage:
    """How many znodes (the root included) and bytes of data the subtree holds."""

    count: int
    bytes: int

    @classmethod
    def parse(cls, text: str) -> Usage:
        fields = parse_stats_track(text)
        return cls(fields.get("count", 0), fields.get("bytes", 0))

    def exceeds(self, limits: QuotaLimits) -> list[str]:
        """Which limits the usage is over, for a status message."""
        over = []
        if limits.count != UNLIMITED and self.count > limits.count:
            over.append(f"{self.count} znodes > {limits.count}")
        if limits.bytes != UNLIMITED and self.bytes > limits.bytes:
            over.append(f"{self.bytes} bytes > {limits.bytes}")
        return over
