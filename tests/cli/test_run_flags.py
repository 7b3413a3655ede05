"""`zkop run` leader-election flags: durations that would break the election's safety are refused."""

from __future__ import annotations

from click.testing import CliRunner

from zkop.cli import main


def test_a_renew_deadline_not_shorter_than_the_lease_is_refused_before_anything_starts() -> None:
    result = CliRunner().invoke(
        main,
        ["run", "--all-namespaces", "--leader-election", "--lease-duration", "10", "--renew-deadline", "10"],
    )
    assert result.exit_code == 2
    assert "lease_duration > renew_deadline > retry_period" in result.output


def test_the_leader_election_flags_are_documented() -> None:
    result = CliRunner().invoke(main, ["run", "--help"])
    for flag in ("--leader-election", "--leader-election-namespace", "--leader-election-id"):
        assert flag in result.output
