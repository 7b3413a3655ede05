"""The day-2 safety harness itself, on real members: it must see what happens, and it must be able to fail."""

from __future__ import annotations

import time

import pytest
from kazoo.client import KazooClient

from tests.support.ensemble import LocalEnsemble, wait_for
from tests.support.writer import (
    Attempt,
    ContinuousWriter,
    ElectionCounter,
    QuorumMonitor,
    assert_no_acknowledged_write_lost,
    observe_now,
    verify_no_loss,
)
from zkop.zookeeper.observe import EnsembleState

pytestmark = pytest.mark.zookeeper


def formed(ensemble: LocalEnsemble) -> EnsembleState:
    def check() -> EnsembleState | None:
        state = observe_now(ensemble.addresses())
        return state if state.leader and all(m.synced for m in state.members) else None

    state: EnsembleState = wait_for(check, timeout=60, what="a formed ensemble")
    return state


def running_hosts(ensemble: LocalEnsemble) -> list[str]:
    """What a pod-IP lookup gives: the addresses of the members that are running now."""
    return [f"{ensemble.address(i)}:2181" for i in sorted(ensemble.processes)]


def test_the_writer_acknowledges_writes_and_they_verify(ensemble: LocalEnsemble) -> None:
    formed(ensemble)
    writer = ContinuousWriter(lambda: running_hosts(ensemble), root="/steady")
    with writer:
        writer.wait_for_acks(60, timeout=20)
    assert writer.acknowledged == list(range(len(writer.acknowledged)))
    assert writer.uncertain == [] and writer.failed == []
    assert len(writer.attempts) == len(writer.acknowledged)
    assert 0 < writer.max_stall < 2.0, writer.summary()
    verification = assert_no_acknowledged_write_lost(writer, running_hosts(ensemble))
    assert verification.ok
    assert verification.present == verification.acknowledged == len(writer.acknowledged)
    assert not verification.invented and not verification.missing


def test_killing_the_leader_under_the_writer_loses_no_acknowledged_write(ensemble: LocalEnsemble) -> None:
    leader = formed(ensemble).leader
    assert leader is not None
    writer = ContinuousWriter(lambda: running_hosts(ensemble), root="/leader-kill")
    monitor = QuorumMonitor(ensemble.addresses, interval=0.1)
    counter = ElectionCounter()
    with writer, monitor:
        writer.wait_for_acks(30)
        counter.begin(ensemble.addresses())
        killed_at = time.monotonic()
        ensemble.kill(leader.id)
        acked_before_kill = [n for n, a in writer.acks.items() if a.at < killed_at]
        writer.wait_for_acks(60, timeout=30)  # well past the failover, and past a host-list refresh
        counter.end(ensemble.addresses())
    print(writer.summary(), "| stalls:", [f"{s.duration:.2f}" for s in writer.stalls])
    print("leaders:", monitor.leaders, "| leaderless:", [f"{g.duration:.2f}" for g in monitor.leaderless])

    verification = assert_no_acknowledged_write_lost(writer, running_hosts(ensemble))
    assert set(acked_before_kill) <= set(writer.acknowledged)
    assert verification.acknowledged >= 90
    assert counter.elections == 1, (counter.begin_epoch, counter.end_epoch)
    assert monitor.leaderless, "the monitor saw no leaderless gap around the leader's death"
    assert all(not g.open for g in monitor.leaderless) and monitor.longest_leaderless < 10
    assert monitor.leaders[0] == leader.id and monitor.leaders[-1] != leader.id and len(monitor.leaders) == 2
    assert writer.max_stall > 0.1, writer.summary()
    assert writer.host_lists[-1] == running_hosts(ensemble)  # the killed member left the client's list


def test_killing_a_follower_causes_no_election_and_the_writer_follows_new_addresses(
    ensemble: LocalEnsemble,
) -> None:
    state = formed(ensemble)
    assert state.leader is not None
    follower = next(m.id for m in state.members if m.role == "follower")
    others = [i for i in (1, 2, 3) if i != follower]
    # The writer starts connected to the follower only; the only way it can reach the others after the
    # follower dies is the refreshed host list ("pods were recreated with new IPs").
    hosts = [f"{ensemble.address(follower)}:2181"]
    writer = ContinuousWriter(lambda: list(hosts), root="/follower-kill")
    monitor = QuorumMonitor(ensemble.addresses, interval=0.1)
    counter = ElectionCounter()
    with writer, monitor:
        writer.wait_for_acks(30)
        counter.begin(ensemble.addresses())
        hosts[:] = [f"{ensemble.address(i)}:2181" for i in others]
        wait_for(lambda: writer.host_lists[-1] == hosts, timeout=5, what="the writer to take the new hosts")
        ensemble.kill(follower)
        writer.wait_for_acks(40, timeout=30)
        counter.end(ensemble.addresses())
    print(writer.summary(), "| leaders:", monitor.leaders, "| leaderless:", monitor.leaderless)

    assert_no_acknowledged_write_lost(writer, hosts)
    assert counter.elections == 0
    assert monitor.leaders == [state.leader.id]
    assert monitor.leaderless == []
    assert writer.host_lists == [[f"{ensemble.address(follower)}:2181"], hosts]


def test_the_verifier_fails_when_acknowledged_writes_are_lost_altered_or_invented(
    ensemble: LocalEnsemble,
) -> None:
    formed(ensemble)
    hosts = running_hosts(ensemble)
    writer = ContinuousWriter(lambda: hosts, root="/tampered")
    with writer:
        writer.wait_for_acks(20)
    assert verify_no_loss(writer, hosts).ok
    last = writer.acknowledged[-1]

    tamper = KazooClient(hosts=",".join(hosts))
    tamper.start(timeout=15)
    try:
        tamper.delete("/tampered/w-5")  # lost
        tamper.set("/tampered/w-7", b"not 7")  # corrupted
        tamper.delete("/tampered/w-9")
        tamper.create("/tampered/w-9", b"9")  # same data, but not the write that was acknowledged
        tamper.create(f"/tampered/w-{last + 10}", str(last + 10).encode())  # never written by the writer
    finally:
        tamper.stop()
        tamper.close()

    verification = verify_no_loss(writer, hosts)
    assert not verification.ok
    assert verification.missing == (5,)
    assert verification.corrupted == ((7, b"not 7"),)
    assert [n for n, _, _ in verification.replaced] == [9]
    assert verification.invented == (last + 10,)
    with pytest.raises(AssertionError, match=r"LOST 1 acknowledged writes: w-5\b") as caught:
        assert_no_acknowledged_write_lost(writer, hosts)
    assert "w-7" in str(caught.value) and "w-9" in str(caught.value) and f"w-{last + 10}" in str(caught.value)


def test_a_retry_that_finds_its_own_earlier_write_counts_it_as_acknowledged_late(
    ensemble: LocalEnsemble,
) -> None:
    """The retry path, made deterministic by driving the writer's attempt logic by hand (no thread)."""
    formed(ensemble)
    hosts = running_hosts(ensemble)
    writer = ContinuousWriter(lambda: hosts, root="/late")
    client = KazooClient(hosts=",".join(hosts))
    client.start(timeout=15)
    try:
        client.ensure_path("/late")
        # An attempt of 0 lost its answer, not its write:
        landed = client.create("/late/w-0", b"0", include_data=True)[1]
        client.create("/late/w-1", b"1")  # there before the writer ever tried 1
        writer._record(Attempt(0, "uncertain", 0.0, 0.0, "ConnectionLoss()"))
        attempts = [writer._attempt(client, n) for n in (0, 1, 2)]
        for attempt in attempts:
            writer._record(attempt)
    finally:
        client.stop()
        client.close()
    assert [a.outcome for a in attempts] == ["acknowledged-late", "failed", "acknowledged"]
    assert attempts[0].czxid == landed.czxid
    assert writer.acknowledged == [0, 2] and writer.acknowledged_late == [0]
    assert writer.failed == [1] and writer.uncertain == []
    verification = verify_no_loss(writer, hosts)
    assert verification.missing == () and verification.invented == (1,)
