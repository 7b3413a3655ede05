"""ZooKeeper's quota text (StatsTrack), read and written the way the server and zkCli do."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from zkop.zookeeper.quota import (
    UNLIMITED,
    QuotaFormatError,
    QuotaLimits,
    Usage,
    limits_node,
    parse_stats_track,
    stats_node,
)

limit = st.one_of(st.just(UNLIMITED), st.integers(min_value=0, max_value=2**62))


def test_quota_nodes_live_under_zookeeper_quota_at_the_same_path() -> None:
    assert limits_node("/apps/ns/app-1") == "/zookeeper/quota/apps/ns/app-1/zookeeper_limits"
    assert stats_node("/apps/ns/app-1") == "/zookeeper/quota/apps/ns/app-1/zookeeper_stats"


def test_soft_limits_are_written_as_setquota_writes_them() -> None:
    assert QuotaLimits(count=100, bytes=UNLIMITED).text() == "count=100,bytes=-1"


def test_hard_limits_follow_after_an_extra_equals_sign_for_old_parsers() -> None:
    # ZooKeeper's own StatsTrack.toString(): count and bytes first, then the sorted extra keys.
    text = QuotaLimits(count=10, bytes=2048, hard=True).text()
    assert text == "count=10,bytes=2048=;byteHardLimit=2048;countHardLimit=10"
    # A pre-3.7 reader splits "bytes=2048=" on '=' and takes the second field.
    assert text.split(",")[1].split("=")[1] == "2048"


def test_what_the_server_writes_into_the_stats_node_parses_as_usage() -> None:
    assert Usage.parse("count=3,bytes=15") == Usage(3, 15)
    assert parse_stats_track("count=,bytes=7") == {"count": UNLIMITED, "bytes": 7}


@pytest.mark.parametrize("text", ["count", "count=x", "=5"])
def test_malformed_quota_text_is_refused(text: str) -> None:
    with pytest.raises(QuotaFormatError):
        parse_stats_track(text)


@given(limit, limit, st.booleans())
def test_written_limits_read_back_as_the_same_limits(count: int, bytes_: int, hard: bool) -> None:
    limits = QuotaLimits(count, bytes_, hard)
    assert limits.same_as(limits.text())
    fields = parse_stats_track(limits.text())
    assert fields["count"] == count and fields["bytes"] == bytes_
    assert ("countHardLimit" in fields) == hard


@given(limit, limit)
def test_different_limits_are_never_taken_for_the_written_ones(count: int, bytes_: int) -> None:
    assume(count != UNLIMITED or bytes_ != UNLIMITED)  # hard "no limit" is the same as no hard limit
    written = QuotaLimits(count, bytes_).text()
    assert not QuotaLimits(count + 1, bytes_).same_as(written)
    assert not QuotaLimits(count, bytes_, hard=True).same_as(written)


def test_usage_over_a_limit_is_named_and_unlimited_is_never_exceeded() -> None:
    assert Usage(11, 5).exceeds(QuotaLimits(count=10)) == ["11 znodes > 10"]
    assert Usage(10**9, 10**12).exceeds(QuotaLimits()) == []
