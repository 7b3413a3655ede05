"""Day-2 operations under a continuous writer: zkop's procedure against the naive StatefulSet strategy,
both measured in the same run on the local control plane with real ZooKeeper.

Per operation (rolling restart, upgrade, scale-up, scale-down) and ensemble size, three figures, each taken
the same way for both strategies, and the writes checked afterwards (`verify_no_loss`, expected 0 lost):

- duration: from the change (patch or apply) until "done", excluded: waiting for the writer before it;
- longest write stall: `ContinuousWriter.max_stall` over the writer's window (one writer per operation);
- leader elections: `ElectionCounter` (zxid epochs) from just before the change until done.

zkop: a ZookeeperCluster on a LocalCluster running the operator (resync 2 s, backoff base 1 s); "done" means
the e2e harness's settled (Ready, not Progressing, exactly N voting members serving and synced), for a roll
or an upgrade after every pod was replaced.

Naive (what other operators do), on a LocalCluster without the operator: zkop's rendered objects applied with
lightkube (server-side apply, field manager "naive"), but the StatefulSet rolls itself (`RollingUpdate`:
highest ordinal first, one pod at a time, waiting for Ready, regardless of who leads) and membership is
static: the ConfigMap's membership for N members (version 0) is what every member starts from (zkop's start
script prefers the membership the member itself last saw on its volume; the naive variant skips that), and
`reconfigEnabled=false`, as static-membership charts run ZooKeeper (with it on, a restarted member adopts
the higher-versioned membership of the members still running, so a static change never takes). A roll
changes a template annotation, an upgrade the image; a scale re-renders the membership for the new size, sets
replicas and rolls every pod onto it. "Done" means every pod Ready on the new revision and, observed on the
pod IPs, a leader with all N members serving and synced and a membership of exactly members 1..N.

Figures are ratios zkop/naive (elections as counts side by side); nothing here passes or fails on time. An
operation that does not finish within its time-out is reported as such, with what it did to the writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

from lightkube import AsyncClient
from lightkube.codecs import from_dict
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from tests.support.ensemble import zookeeper_available
from tests.support.writer import ContinuousWriter, ElectionCounter, QuorumMonitor, verify_no_loss
from zkop.api.cluster import ZookeeperCluster
from zkop.kube.client import ZookeeperClusterResource
from zkop.render import RenderOptions, render
from zkop.render.config import initial_membership
from zkop.render.identity import new_password
from zkop.render.names import ANNOTATION_RESTART_AT, ANNOTATION_RESTART_HASH, ClusterNames, member_id_of_pod
from zkop.zookeeper.observe import observe_ensemble
from zkop_local.cluster import LocalCluster

NAME = "zk"
IMAGE = "zookeeper:3.9.3"
UPGRADE_IMAGE = "zookeeper:3.9.4"
# Per ensemble size, the operations measured, in this order (roll and upgrade first: a naive scale that
# does not finish leaves its ensemble in a state the later operations would measure too).
PLAN: tuple[tuple[int, tuple[str, ...]], ...] = (
    (3, ("roll", "upgrade", "scale-up", "scale-down")),
    (5, ("roll", "upgrade", "scale-up", "scale-down")),
)
SCALE_BY = 2  # scale-up N -> N + 2, scale-down back to N
SETUP_TIMEOUT = 180.0  # the ensemble's creation (not measured)
OPERATION_TIMEOUT = 90.0  # each measured operation, either strategy (naive ones that finish take < 30 s)
RECOVERY_TIMEOUT = 15.0  # after done: the writer acknowledging again, the election count, the read-back
POLL = 0.25
ROLL_ANNOTATION = "bench.zkop.io/roll"  # the naive strategy's pod template annotation for a roll

# zkop's start script, with the branch that prefers the member's own on-disk membership cut out.
_DISK_MEMBERSHIP = (
    'if compgen -G "$data_dir/version-2/snapshot.*" > /dev/null || '
    'compgen -G "$data_dir/version-2/log.*" > /dev/null; then'
)


# The e2e tests' check for anything a LocalCluster left on the machine. Imported by name so that mypy does not
# follow it into tests/e2e/conftest.py (pytest fixtures, not held to --strict).
leftovers = cast(Callable[[Path], list[str]], importlib.import_module("tests.e2e.conftest").leftovers)


def _body(replicas: int) -> dict[str, Any]:
    """The e2e harness's cluster (tests/e2e/day2.py): 96Mi heap, serial GC, C1 only; claims deleted.
    Plain text and an open root for both strategies, so the comparison is about the procedure (TLS has
    its own bench)."""
    return {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperCluster",
        "metadata": {"name": NAME, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "image": IMAGE,
            "storage": {"size": "1Gi", "reclaimPolicy": "Delete"},
            "jvm": {"heap": "96Mi", "extraFlags": ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]},
            "tls": {"enabled": False},
            "rootAcl": "open",  # the writer writes at the top level, as the naive baseline lets it
        },
    }


@dataclass(frozen=True)
class Outcome:
    done: bool
    duration: float  # seconds from the change to done (or to the time-out)
    stall: float  # the writer's longest gap between acknowledgements, seconds
    elections: int | None  # None: no leader to read the epoch from
    acknowledged: int
    lost: int | None  # acknowledged writes missing or altered; None: the tree could not be read back
    leaderless: float  # the longest time the quorum monitor (0.2 s polls) saw no leader, seconds
    two_leaders: bool  # the quorum monitor saw two members lead at once (a reconfig can show it briefly)
    notes: tuple[str, ...] = ()


Probe = Callable[[], Awaitable[bool]]


async def _until(probe: Probe, timeout: float) -> bool:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        with contextlib.suppress(Exception):  # a transient API or ZooKeeper error is "not yet"
            if await probe():
                return True
        await asyncio.sleep(POLL)
    return False


class Members:
    """The pods' addresses as they change (pods are recreated with new IPs), for the writer and observers."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.by_id: dict[int, str] = {}
        self._task: asyncio.Task[None] | None = None

    async def pods(self) -> list[Pod]:
        return [
            p
            async for p in self.client.list(
                Pod, namespace="default", labels={"app.kubernetes.io/instance": NAME}
            )
        ]

    async def refresh(self) -> None:
        fresh: dict[int, str] = {}
        for pod in await self.pods():
            assert pod.metadata is not None and pod.metadata.name is not None
            member = member_id_of_pod(pod.metadata.name)
            ip = pod.status.podIP if pod.status else None
            if member and ip and not pod.metadata.deletionTimestamp:
                fresh[member] = ip
        self.by_id = fresh

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(Exception):
                await self.refresh()
            await asyncio.sleep(0.3)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def hosts(self) -> list[str]:
        return [f"{ip}:2181" for ip in self.by_id.values()]

    def addresses(self) -> dict[int, str | None]:
        return dict(self.by_id)


async def measure(members: Members, root: str, change: Callable[[], Awaitable[None]], done: Probe) -> Outcome:
    """One operation under its own writer: change, wait until done (bounded), count, read everything back."""
    notes: list[str] = []
    await members.refresh()
    writer = ContinuousWriter(members.hosts, root=root, interval=0.05)
    await asyncio.to_thread(writer.start)
    monitor = QuorumMonitor(members.addresses, interval=0.2)
    elections: int | None = None
    try:
        await asyncio.to_thread(writer.wait_for_acks, 20, RECOVERY_TIMEOUT)
        counter = ElectionCounter(timeout=RECOVERY_TIMEOUT)
        await asyncio.to_thread(counter.begin, members.addresses)
        monitor.start()
        started = time.perf_counter()
        await change()
        finished = await _until(done, OPERATION_TIMEOUT)
        duration = time.perf_counter() - started
        await asyncio.to_thread(monitor.stop)
        if not finished:
            notes.append(f"not done within {OPERATION_TIMEOUT:.0f} s")
        try:  # the writer's stall ends with its next acknowledgement, not with stop()
            await asyncio.to_thread(writer.wait_for_acks, 5, RECOVERY_TIMEOUT)
        except (AssertionError, RuntimeError):
            notes.append(f"writer not acknowledging {RECOVERY_TIMEOUT:.0f} s after the end")
        try:
            await asyncio.to_thread(counter.end, members.addresses)
            elections = counter.elections
        except AssertionError:
            notes.append("no serving leader to count elections")
    finally:
        with contextlib.suppress(RuntimeError):
            await asyncio.to_thread(monitor.stop)
        await asyncio.to_thread(writer.stop)
    if writer.failed:
        last = next(a.error for a in reversed(writer.attempts) if a.outcome == "failed")
        notes.append(f"{len(writer.failed)} creates refused, last: {last}")
    lost: int | None = None
    try:
        verification = await asyncio.to_thread(verify_no_loss, writer, members.hosts, RECOVERY_TIMEOUT)
        lost = len(verification.missing) + len(verification.corrupted) + len(verification.replaced)
        if verification.invented:
            notes.append(f"{len(verification.invented)} writes present that were never acknowledged")
    except Exception as exc:
        notes.append(f"read-back failed: {type(exc).__name__}")
    return Outcome(
        finished,
        duration,
        writer.max_stall,
        elections,
        len(writer.acknowledged),
        lost,
        monitor.longest_leaderless,
        any(len(sample.leaders) > 1 for sample in monitor.samples),
        tuple(notes),
    )


async def _ensemble_complete(members: Members, replicas: int) -> bool:
    """A leader, members 1..replicas all serving and synced, and the membership exactly 1..replicas."""
    wanted = list(range(1, replicas + 1))
    addresses = members.addresses()
    if sorted(addresses) != wanted:
        return False
    state = await observe_ensemble(addresses, timeout=1.0)
    if state.leader is None or state.membership is None:
        return False
    synced = [m for m in state.members if m.synced and m.role in ("leader", "follower")]
    voters = sorted(m.id for m in state.membership.voters)
    return len(synced) == replicas and voters == wanted and len(state.membership.members) == replicas


# -- zkop ----------------------------------------------------------------------------------------------------


async def _zkop_status(client: AsyncClient) -> dict[str, Any]:
    obj = await client.get(ZookeeperClusterResource, NAME, namespace="default")
    status: dict[str, Any] = obj.to_dict().get("status") or {}  # type: ignore[no-untyped-call]
    return status


async def _zkop_settled(client: AsyncClient, replicas: int) -> bool:
    """tests/e2e/day2.py's Scenario.settled."""
    status = await _zkop_status(client)
    conditions = {c["type"]: c for c in status.get("conditions", [])}
    ready = conditions.get("Ready", {}).get("status") == "True"
    idle = conditions.get("Progressing", {}).get("status") == "False"
    members = status.get("members", [])
    synced = [m for m in members if m["synced"] and m["role"] in ("leader", "follower")]
    return ready and idle and len(members) == replicas and len(synced) == replicas


async def _pod_hashes(members: Members) -> dict[str, tuple[str, str]]:
    """Pod name -> (restart hash, uid) of the pods not being deleted."""
    found = {}
    for pod in await members.pods():
        meta = pod.metadata
        assert meta is not None and meta.name is not None
        if not meta.deletionTimestamp:
            found[meta.name] = ((meta.annotations or {}).get(ANNOTATION_RESTART_HASH, ""), meta.uid or "")
    return found


async def _zkop_operation(
    client: AsyncClient, members: Members, operation: str, replicas: int, patch: dict[str, Any]
) -> Outcome:
    before = await _pod_hashes(members)
    target = replicas + SCALE_BY if operation == "scale-up" else replicas

    async def change() -> None:
        await client.patch(
            ZookeeperClusterResource, NAME, patch, namespace="default", patch_type=PatchType.MERGE
        )

    async def done() -> bool:
        if operation in ("roll", "upgrade"):
            after = await _pod_hashes(members)
            replaced = len(after) == len(before) and all(
                after[n][0] != before[n][0] and after[n][1] != before[n][1] for n in before if n in after
            )
            if not replaced:
                return False
        elif len(await _pod_hashes(members)) != target:  # a scale-down ends with the StatefulSet shrunk
            return False
        return await _zkop_settled(client, target)

    return await measure(members, f"/bench-zkop-{operation}", change, done)


def _zkop_patch(operation: str, replicas: int) -> dict[str, Any]:
    if operation == "roll":
        return {"metadata": {"annotations": {ANNOTATION_RESTART_AT: "bench-day2"}}}
    if operation == "upgrade":
        return {"spec": {"image": UPGRADE_IMAGE}}
    if operation == "scale-up":
        return {"spec": {"replicas": replicas + SCALE_BY}}
    return {"spec": {"replicas": replicas}}


async def run_zkop(state_dir: Path, replicas: int, operations: tuple[str, ...]) -> dict[str, Outcome]:
    plane = LocalCluster(state_dir, operator_env={"ZKOP_RESYNC_SECONDS": "2"}, backoff_base=1.0)
    results: dict[str, Outcome] = {}
    try:
        await plane.start()
        client = plane.client
        assert client is not None
        members = Members(client)
        members.start()
        try:
            await client.create(ZookeeperClusterResource.from_dict(_body(replicas)))
            if not await _until(lambda: _zkop_settled(client, replicas), SETUP_TIMEOUT):
                raise TimeoutError(f"zkop: {replicas} members not settled within {SETUP_TIMEOUT:.0f} s")
            for operation in operations:
                patch = _zkop_patch(operation, replicas)
                results[operation] = await _zkop_operation(client, members, operation, replicas, patch)
        finally:
            await members.stop()
    finally:
        await plane.stop()
    return results


# -- naive ---------------------------------------------------------------------------------------------------


@dataclass
class NaiveState:
    replicas: int
    image: str = IMAGE
    roll: int = 0  # the template annotation's value: bumped for every roll of all pods
    generation: int = 0  # the StatefulSet's generation after the last apply


def naive_objects(state: NaiveState) -> list[dict[str, Any]]:
    """zkop's objects for `state`, turned into the naive strategy (see the module docstring)."""
    body = _body(state.replicas)
    body["spec"]["image"] = state.image
    cluster = ZookeeperCluster.model_validate(body)
    names = ClusterNames.of(cluster, RenderOptions())
    rendered = render(cluster, membership=initial_membership(cluster, names, state.replicas))
    for obj in rendered.objects:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == names.config_map:
            data = obj["data"]
            if _DISK_MEMBERSHIP not in data["start.sh"]:
                raise RuntimeError("zkop's start script changed: update the naive variant")
            data["start.sh"] = data["start.sh"].replace(_DISK_MEMBERSHIP, "if false; then")
            if "reconfigEnabled=true" not in data["zoo.cfg"]:
                raise RuntimeError("zkop's zoo.cfg changed: update the naive variant")
            data["zoo.cfg"] = data["zoo.cfg"].replace("reconfigEnabled=true", "reconfigEnabled=false")
        if obj["kind"] == "StatefulSet":
            obj["spec"]["updateStrategy"] = {"type": "RollingUpdate"}
            obj["spec"]["template"]["metadata"]["annotations"][ROLL_ANNOTATION] = str(state.roll)
    return rendered.objects


async def naive_apply(client: AsyncClient, state: NaiveState) -> None:
    for obj in naive_objects(state):  # ConfigMap before StatefulSet: pods start from the new membership
        applied = await client.apply(from_dict(obj), field_manager="naive", force=True)
        if obj["kind"] == "StatefulSet":
            assert applied.metadata is not None
            state.generation = applied.metadata.generation or 0


async def _naive_done(client: AsyncClient, members: Members, state: NaiveState) -> bool:
    replicas = state.replicas
    sts = await client.get(StatefulSet, NAME, namespace="default")
    if sts.status is None or (sts.status.observedGeneration or 0) < state.generation:
        return False  # the controller has not seen the change yet: its revisions are the old ones
    revision = sts.status.updateRevision
    pods = await members.pods()
    if revision is None or len(pods) != replicas:
        return False
    for pod in pods:
        meta = pod.metadata
        assert meta is not None
        if meta.deletionTimestamp or (meta.labels or {}).get("controller-revision-hash") != revision:
            return False
        conditions = (pod.status.conditions if pod.status else None) or []
        if not any(c.type == "Ready" and c.status == "True" for c in conditions):
            return False
    await members.refresh()
    return await _ensemble_complete(members, replicas)


async def run_naive(state_dir: Path, replicas: int, operations: tuple[str, ...]) -> dict[str, Outcome]:
    plane = LocalCluster(state_dir, run_operator=False, backoff_base=1.0)
    results: dict[str, Outcome] = {}
    try:
        await plane.start()
        client = plane.client
        assert client is not None
        members = Members(client)
        members.start()
        try:
            state = NaiveState(replicas)
            cluster = ZookeeperCluster.model_validate(_body(replicas))
            secret = render(cluster, superuser_password=new_password()).superuser_secret
            await client.create(from_dict(secret))
            await naive_apply(client, state)
            if not await _until(lambda: _naive_done(client, members, state), SETUP_TIMEOUT):
                raise TimeoutError(f"naive: {replicas} members not formed within {SETUP_TIMEOUT:.0f} s")
            for operation in operations:
                if operation == "upgrade":
                    state.image = UPGRADE_IMAGE
                else:
                    state.roll += 1
                    if operation == "scale-up":
                        state.replicas = replicas + SCALE_BY
                    elif operation == "scale-down":
                        state.replicas = replicas
                outcome = await measure(
                    members,
                    f"/bench-naive-{operation}",
                    lambda: naive_apply(client, state),
                    lambda: _naive_done(client, members, state),
                )
                broken = [op for op, o in results.items() if not o.done or o.lost != 0]
                if broken:
                    note = f"measured on the ensemble the failed {', '.join(broken)} left"
                    outcome = replace(outcome, notes=(note, *outcome.notes))
                results[operation] = outcome
        finally:
            await members.stop()
    finally:
        await plane.stop()
    return results


# -- report --------------------------------------------------------------------------------------------------


def _figures(outcome: Outcome) -> str:
    elections = "?" if outcome.elections is None else str(outcome.elections)
    lost = "unverified" if outcome.lost is None else str(outcome.lost)
    state = "" if outcome.done else "NOT DONE, "
    two = ", two leaders at once" if outcome.two_leaders else ""
    text = (
        f"{state}{outcome.duration:.1f} s, max stall {outcome.stall:.2f} s, {elections} elections, "
        f"{outcome.acknowledged} writes acknowledged, {lost} lost; "
        f"longest leaderless {outcome.leaderless:.1f} s{two}"
    )
    return text + (f" ({'; '.join(outcome.notes)})" if outcome.notes else "")


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "n/a"


def _label(operation: str, replicas: int) -> str:
    if operation == "scale-up":
        return f"scale-up {replicas} -> {replicas + SCALE_BY}"
    if operation == "scale-down":
        return f"scale-down {replicas + SCALE_BY} -> {replicas}"
    if operation == "upgrade":
        return f"upgrade {IMAGE} -> {UPGRADE_IMAGE}, {replicas} members"
    return f"rolling restart, {replicas} members"


def report(replicas: int, operation: str, zkop: Outcome, naive: Outcome) -> list[str]:
    lines = [
        f"  {_label(operation, replicas)}",
        f"    zkop:  {_figures(zkop)}",
        f"    naive: {_figures(naive)}",
    ]
    findings: list[str] = []
    for strategy, outcome in (("zkop", zkop), ("naive", naive)):
        if not outcome.done:
            findings.append(f"{strategy} did not finish")
        if outcome.lost is None:
            findings.append(f"{strategy}'s writes could not be read back")
        elif outcome.lost:
            findings.append(f"{strategy} lost {outcome.lost} acknowledged writes")
    if findings:
        lines.append(f"    FINDING: {'; '.join(findings)}: no ratio")
    else:
        lines.append(
            f"    ratio zkop/naive: duration {_ratio(zkop.duration, naive.duration)}, "
            f"max stall {_ratio(zkop.stall, naive.stall)}; elections {zkop.elections} vs {naive.elections}"
        )
    return lines


async def _run_all() -> list[str]:
    lines: list[str] = []
    left: list[str] = []
    for replicas, operations in PLAN:
        outcomes: dict[str, dict[str, Outcome]] = {}
        for strategy, runner in (("zkop", run_zkop), ("naive", run_naive)):
            with tempfile.TemporaryDirectory(prefix="zkop-bench-day2-") as tmp:
                state_dir = Path(tmp) / "local"
                started = time.perf_counter()
                try:
                    outcomes[strategy] = await runner(state_dir, replicas, operations)
                except Exception as exc:
                    lines.append(f"  {strategy}, {replicas} members: aborted: {type(exc).__name__}: {exc}")
                    outcomes[strategy] = {}
                lines.append(
                    f"  ({strategy}, {replicas} members: whole run incl. set-up "
                    f"{time.perf_counter() - started:.0f} s)"
                )
                left += leftovers(state_dir.resolve())
        for operation in operations:
            zkop, naive = outcomes["zkop"].get(operation), outcomes["naive"].get(operation)
            if zkop is not None and naive is not None:
                lines += report(replicas, operation, zkop, naive)
    lines.append(f"  left behind after cleanup: {', '.join(left) if left else 'nothing'}")
    return lines


def run() -> list[str]:
    title = (
        "day-2 operations under a continuous writer: zkop (reconfig one member at a time, leader last) "
        "vs naive StatefulSet RollingUpdate with static membership, on LocalCluster"
    )
    if not zookeeper_available() or os.geteuid() != 0:
        return [title, "  skipped: needs root and Debian's zookeeper package (make setup)"]
    # kazoo warns on every dropped connection (Python's last-resort handler prints it): expected here.
    kazoo = logging.getLogger("kazoo")
    level = kazoo.level
    kazoo.setLevel(logging.ERROR)
    try:
        return [title, *asyncio.run(_run_all())]
    finally:
        kazoo.setLevel(level)
