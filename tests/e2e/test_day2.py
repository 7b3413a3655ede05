"""Day-2 operations on the local control plane with real ZooKeeper, each under a continuous writer:
no acknowledged write is lost, the operation completes, status says so."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import PersistentVolumeClaim, Pod

from tests.e2e.day2 import Scenario, scenario
from tests.support.waiting import eventually
from zkop_local.cluster import LocalCluster

pytestmark = [pytest.mark.netns, pytest.mark.zookeeper]


async def pod_hashes(s: Scenario) -> dict[str, str]:
    pods = [
        p
        async for p in s.client.list(Pod, namespace="default", labels={"app.kubernetes.io/instance": s.name})
    ]
    return {p.metadata.name: (p.metadata.annotations or {}).get("zkop.io/restart-hash", "") for p in pods}


async def claims(s: Scenario) -> list[str]:
    return sorted(
        [
            c.metadata.name
            async for c in s.client.list(PersistentVolumeClaim, namespace="default")
            if c.metadata.name.startswith(f"data-{s.name}-")
        ]
    )


async def rolled(s: Scenario, before: dict[str, str]) -> bool:
    after = await pod_hashes(s)
    return len(after) == len(before) and all(after[n] != before[n] for n in before)


async def test_rolling_restart_by_annotation_restarts_leader_last_with_one_election(
    local_cluster: LocalCluster,
) -> None:
    async with scenario(local_cluster, "roll", 3) as s:
        before = await pod_hashes(s)
        leader_before = (await s.status())["leader"]

        async def roll() -> None:
            await s.patch({"metadata": {"annotations": {"zkop.io/restart-at": "2026-11-22T01:00:00Z"}}})
            await eventually(lambda: rolled(s, before), timeout=240, what="every member restarted")
            await s.wait_settled(3)

        elections = await s.elections_during(roll())
        verification = await s.verify()
    assert elections == 1, f"a leader-last roll elects exactly once, saw {elections}"
    assert verification.acknowledged > 20
    restarted = [e for e in s.monitor.leaders] if s.monitor else []
    assert restarted[0] == int(leader_before.split("-")[-1]) + 1  # the old leader led until the end
    progressing = await s.condition("Progressing")
    assert progressing["status"] == "False" and progressing["reason"] == "Stable"


async def test_config_and_image_changes_roll_the_members(local_cluster: LocalCluster) -> None:
    async with scenario(local_cluster, "cfg", 3) as s:
        before = await pod_hashes(s)
        await s.patch({"spec": {"config": {"maxClientCnxns": 100}}})
        await eventually(lambda: rolled(s, before), timeout=240, what="a roll for the config change")
        await s.wait_settled(3)
        sts = await s.client.get(StatefulSet, "cfg", namespace="default")
        assert "maxClientCnxns" not in str(sts.spec.template)  # config lives in the ConfigMap
        before = await pod_hashes(s)

        async def upgrade() -> None:
            await s.patch({"spec": {"image": "zookeeper:3.9.4"}})
            await eventually(lambda: rolled(s, before), timeout=240, what="a roll for the upgrade")
            await s.wait_settled(3)

        elections = await s.elections_during(upgrade())
        verification = await s.verify()
    assert elections == 1
    assert verification.acknowledged > 20
    pods = [
        p async for p in s.client.list(Pod, namespace="default", labels={"app.kubernetes.io/instance": "cfg"})
    ]
    assert {p.spec.containers[0].image for p in pods} == {"zookeeper:3.9.4"}


async def test_a_downgrade_across_minor_versions_is_refused_and_nothing_restarts(
    local_cluster: LocalCluster,
) -> None:
    async with scenario(local_cluster, "down", 3) as s:
        before = await pod_hashes(s)
        await s.patch({"spec": {"image": "zookeeper:3.8.4"}})

        async def refused() -> dict[str, Any] | None:
            ready = await s.condition("Ready")
            return ready if ready.get("reason") == "InvalidSpec" else None

        ready = await eventually(refused, timeout=60, what="the downgrade refused")
        assert "spec.image" in ready["message"] and "downgrade" in ready["message"]
        await asyncio.sleep(4)
        assert await pod_hashes(s) == before
        await s.verify()


async def test_scaling_3_5_3_1_3_keeps_every_write_and_reuses_retained_claims(
    local_cluster: LocalCluster,
) -> None:
    async with scenario(local_cluster, "sc", 3, reclaim="Retain") as s:
        current = 3
        for replicas in (5, 3, 1, 3):

            async def resize(replicas: int = replicas) -> dict[str, Any]:
                await s.patch({"spec": {"replicas": replicas}})
                return await s.wait_settled(replicas, timeout=240)

            if replicas > current:
                # Voting members in never moves leadership: no election at all.
                assert await s.elections_during(resize()) == 0
            else:
                await resize()
            current = replicas
            status = await s.status()
            assert sorted(m["id"] for m in status["members"]) == list(range(1, replicas + 1))
            sts = await s.client.get(StatefulSet, "sc", namespace="default")
            assert sts.spec.replicas == replicas
        # Retain: claims of removed members stayed, and members 2 and 3 came back on them.
        assert await claims(s) == [f"data-sc-{i}" for i in range(5)]
        verification = await s.verify()
        assert verification.acknowledged > 50
        assert s.monitor is not None


async def test_scaling_down_with_delete_removes_claims_and_scaling_up_starts_fresh(
    local_cluster: LocalCluster,
) -> None:
    async with scenario(local_cluster, "del", 3, reclaim="Delete") as s:
        await s.patch({"spec": {"replicas": 1}})
        await s.wait_settled(1, timeout=240)
        await eventually(lambda: _equal(claims(s), ["data-del-0"]), timeout=60, what="claims deleted")
        await s.patch({"spec": {"replicas": 3}})
        await s.wait_settled(3, timeout=240)
        assert await claims(s) == ["data-del-0", "data-del-1", "data-del-2"]
        await s.verify()


async def test_kill_leader_kill_follower_and_lose_a_claim_heal_without_losing_writes(
    local_cluster: LocalCluster,
) -> None:
    runtime = local_cluster.runtime
    assert runtime is not None
    async with scenario(local_cluster, "heal", 3) as s:
        for victim_role in ("leader", "follower"):
            status = await s.status()
            victim = next(m["pod"] for m in status["members"] if m["role"] == victim_role)
            pod = await s.client.get(Pod, victim, namespace="default")
            runtime.kill_processes(pod.metadata.uid, sig=signal.SIGKILL)  # kill -9 the member
            await asyncio.sleep(1)
            await s.wait_settled(3, timeout=120)
        # Lose one member's disk: wipe its claim and restart it; it rejoins empty and syncs.
        status = await s.status()
        victim = next(m["pod"] for m in status["members"] if m["role"] == "follower")
        await runtime.wipe_claim("default", f"data-{victim}")
        await s.client.delete(Pod, victim, namespace="default")
        await asyncio.sleep(1)
        await s.wait_settled(3, timeout=180)
        # Lose a member's PVC object itself: a new claim (a new, empty volume) comes with the new pod.
        status = await s.status()
        victim = next(m["pod"] for m in status["members"] if m["role"] == "follower")
        old_claim = await s.client.get(PersistentVolumeClaim, f"data-{victim}", namespace="default")
        await s.client.delete(PersistentVolumeClaim, f"data-{victim}", namespace="default")
        await s.client.delete(Pod, victim, namespace="default")

        async def new_claim() -> bool:
            try:
                claim = await s.client.get(PersistentVolumeClaim, f"data-{victim}", namespace="default")
            except Exception:
                return False
            return bool(claim.metadata.uid != old_claim.metadata.uid)

        await eventually(new_claim, timeout=60, what="a new claim for the member")
        await s.wait_settled(3, timeout=180)
        await s.verify()


async def test_the_operator_killed_mid_scale_down_and_mid_roll_finishes_after_restart(
    local_cluster: LocalCluster,
) -> None:
    async with scenario(local_cluster, "crash", 5) as s:
        # Scale-down: kill -9 the operator right after every step it reports, then start it again.
        await s.patch({"spec": {"replicas": 3}})
        steps = await kill_operator_at_every_step(s, local_cluster, lambda: s.settled(3))
        assert any("removing member 5" in m for m in steps) and any("removing member 4" in m for m in steps)
        before = await pod_hashes(s)
        await s.patch({"metadata": {"annotations": {"zkop.io/restart-at": "crash-roll"}}})
        steps = await kill_operator_at_every_step(s, local_cluster, lambda: rolled_and_settled(s, before))
        assert any("restarting" in m for m in steps)
        await s.wait_settled(3, timeout=120)
        await s.verify()


async def rolled_and_settled(s: Scenario, before: dict[str, str]) -> bool:
    return await rolled(s, before) and bool(await s.settled(3))


async def kill_operator_at_every_step(
    s: Scenario, plane: LocalCluster, done: Any, timeout: float = 300
) -> list[str]:
    """Each time Progressing reports a new step, SIGKILL the operator and start a new one."""
    seen: list[str] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while not await done():
        assert asyncio.get_running_loop().time() < deadline, f"did not finish; steps seen: {seen}"
        message = (await s.condition("Progressing")).get("message", "")
        if message and message not in seen and (await s.condition("Progressing")).get("status") == "True":
            seen.append(message)
            plane.stop_operator(signal.SIGKILL)
            plane.start_operator()
        await asyncio.sleep(0.3)
    return seen


async def test_dropped_and_delayed_watch_events_and_stale_reads_do_not_derail_scaling(
    local_cluster: LocalCluster,
) -> None:
    server = local_cluster.server
    async with scenario(local_cluster, "flaky", 3) as s:
        server.add_fault("drop_watch", resource="pods", count=20)
        server.add_fault("delay_watch", resource="statefulsets", seconds=2.0)
        server.add_fault("stale", verb="get", resource="statefulsets", count=10)
        server.add_fault("stale", verb="get", resource="configmaps", count=10)
        await s.patch({"spec": {"replicas": 5}})
        await s.wait_settled(5, timeout=240)
        await s.patch({"spec": {"replicas": 3}})
        await s.wait_settled(3, timeout=240)
        server.clear_faults()
        await s.verify()


async def _equal(probe: Any, expected: Any) -> bool:
    return bool(await probe == expected)
