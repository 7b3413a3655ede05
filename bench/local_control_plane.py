"""The local control plane's own speed, each figure against a baseline measured in the same run:

1. API requests per second (get, list of 100 ConfigMaps, merge patch, server-side apply) with one lightkube
   AsyncClient against the in-process API server, as a ratio to the same client's GET /version (the
   cheapest endpoint: what HTTP and the client cost on their own).
2. Watch latency: from starting a ConfigMap patch to the watcher holding its MODIFIED event, as a ratio to
   the round trip of that patch request itself.
3. A 3-member ZookeeperCluster from creation to Ready=True on a LocalCluster (API server, controllers,
   process kubelet, the operator as a subprocess), as a ratio to starting the same three ZooKeeper servers
   directly from the rendered configuration (LocalEnsemble) until all serve with a leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap, Namespace
from lightkube.types import PatchType

from tests.support.ensemble import LocalEnsemble, zookeeper_available
from zkop.kube.client import ZookeeperClusterResource
from zkop.zookeeper.observe import observe_ensemble
from zkop_local.apiserver.server import ApiServer
from zkop_local.cluster import LocalCluster
from zkop_local.kubelet.runtime import markers
from zkop_local.kubelet.runtime.cleanup import list_links, list_netns

REQUESTS = 300  # per verb and round, at most
ROUNDS = 3  # of all verbs in turn, so drift hits every verb alike; the median round counts
VERB_BUDGET = 1.0  # seconds per verb and round, at most
WARMUP = 20
LISTED = 100  # ConfigMaps in the listed namespace
WRITES = 200  # watched writes
STARTS = 2  # runs of each of the two ZooKeeper start-ups
READY_TIMEOUT = 150.0
POLL = 0.2

# The e2e tests' cluster (tests/e2e/test_local_ensemble.py), with the JVM LocalEnsemble's zkServer.sh shim
# runs (heap, stack, GC, C1 only), so the two start-ups differ in the control plane, not in the JVM;
# plain text on both sides (LocalEnsemble's default), so they do not differ in TLS either.
CLUSTER_BODY: dict[str, Any] = {
    "apiVersion": "zkop.io/v1alpha1",
    "kind": "ZookeeperCluster",
    "metadata": {"name": "zk", "namespace": "default"},
    "spec": {
        "replicas": 3,
        "storage": {"size": "1Gi", "reclaimPolicy": "Delete"},
        "jvm": {"heap": "96Mi", "extraFlags": ["-Xss512k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]},
        "tls": {"enabled": False},
    },
}


# -- 1 and 2: requests and watch events against the in-process API server ----------------------------------


def _version(obj: ConfigMap) -> str:
    assert obj.metadata is not None and obj.metadata.resourceVersion is not None
    return obj.metadata.resourceVersion


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def _rate(call: Callable[[int], Awaitable[object]], first: int) -> tuple[float, int]:
    """Sequential requests per second (one in flight): (rate, requests timed)."""
    done = 0
    started = time.perf_counter()
    while done < REQUESTS and time.perf_counter() - started < VERB_BUDGET:
        await call(first + done)
        done += 1
    return done / (time.perf_counter() - started), done


async def _requests(client: AsyncClient) -> dict[str, tuple[float, int]]:
    http = client._client._client  # lightkube's own HTTP client: same connection pool, no decoding
    for namespace in ("bench-list", "bench-watch"):
        await client.create(Namespace(metadata=ObjectMeta(name=namespace)))
    for i in range(LISTED):
        await client.create(
            ConfigMap(metadata=ObjectMeta(name=f"cm-{i:03}", namespace="bench-list"), data={"i": str(i)})
        )
    await client.create(
        ConfigMap(metadata=ObjectMeta(name="target", namespace="default"), data={"n": "initial"})
    )

    async def version(_: int) -> object:
        response = await http.get("/version")
        response.raise_for_status()
        return response.json()

    async def get(_: int) -> object:
        return await client.get(ConfigMap, "target", namespace="default")

    async def list_(_: int) -> object:
        items = [cm async for cm in client.list(ConfigMap, namespace="bench-list")]
        assert len(items) >= LISTED
        return items

    async def patch(i: int) -> object:
        return await client.patch(
            ConfigMap, "target", {"data": {"n": str(i)}}, namespace="default", patch_type=PatchType.MERGE
        )

    async def apply(i: int) -> object:
        desired = ConfigMap(metadata=ObjectMeta(name="applied", namespace="default"), data={"n": str(i)})
        return await client.apply(desired, field_manager="bench", force=True)

    calls = {"version": version, "get": get, "list": list_, "patch": patch, "apply": apply}
    for call in calls.values():
        for i in range(WARMUP):
            await call(i)
    rounds: dict[str, list[tuple[float, int]]] = {name: [] for name in calls}
    for round_ in range(ROUNDS):
        for name, call in calls.items():
            rounds[name].append(await _rate(call, WARMUP + round_ * REQUESTS))
    return {
        name: (statistics.median(r for r, _ in results), sum(n for _, n in results))
        for name, results in rounds.items()
    }


async def _watch_latency(client: AsyncClient) -> tuple[list[float], list[float]]:
    """Per write: (start of patch -> MODIFIED event in the watcher, start of patch -> patch response)."""
    seen: dict[str, float] = {}
    arrived = asyncio.Event()
    created = await client.create(
        ConfigMap(metadata=ObjectMeta(name="watched", namespace="bench-watch"), data={"n": "initial"})
    )

    async def watcher() -> None:
        events = client.watch(ConfigMap, namespace="bench-watch", resource_version=_version(created))
        async for kind, obj in events:
            if kind == "MODIFIED" and obj.metadata is not None and obj.metadata.name == "watched":
                seen[_version(obj)] = time.perf_counter()
                arrived.set()

    async def write(i: int) -> tuple[float, float]:
        started = time.perf_counter()
        written = await client.patch(
            ConfigMap, "watched", {"data": {"n": str(i)}}, namespace="bench-watch", patch_type=PatchType.MERGE
        )
        answered = time.perf_counter()
        version = _version(written)
        async with asyncio.timeout(10):
            while version not in seen:
                arrived.clear()
                await arrived.wait()
        return seen.pop(version) - started, answered - started

    task = asyncio.create_task(watcher())
    try:
        for i in range(WARMUP):  # also proves the watch is established before timing starts
            await write(i)
        latencies, round_trips = [], []
        for i in range(WRITES):
            latency, round_trip = await write(WARMUP + i)
            latencies.append(latency)
            round_trips.append(round_trip)
        return latencies, round_trips
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _api() -> tuple[dict[str, tuple[float, int]], list[float], list[float]]:
    server = ApiServer()
    await server.start()
    with tempfile.TemporaryDirectory() as tmp:
        client = AsyncClient(KubeConfig.from_file(str(server.kubeconfig(Path(tmp) / "kubeconfig"))))
        try:
            rates = await _requests(client)
            latencies, round_trips = await _watch_latency(client)
            return rates, latencies, round_trips
        finally:
            await client.close()
            await server.stop()


def _api_lines() -> list[str]:
    rates, latencies, round_trips = asyncio.run(_api())
    floor, floor_count = rates.pop("version")
    lines = [
        f"local API server, one lightkube AsyncClient, sequential requests (one in flight), "
        f"median of {ROUNDS} interleaved rounds",
        f"  floor GET /version: {floor:.0f} req/s ({floor_count} requests)",
    ]
    labels = {
        "get": "get ConfigMap",
        "list": f"list {LISTED} ConfigMaps",
        "patch": "merge patch ConfigMap",
        "apply": "server-side apply ConfigMap",
    }
    for name, label in labels.items():
        rate, count = rates[name]
        lines.append(f"  {label}: {rate:.0f} req/s ({count} requests), ratio to floor {rate / floor:.2f}")
    p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    rtt50, rtt99 = _percentile(round_trips, 0.5), _percentile(round_trips, 0.99)
    lines += [
        f"watch latency, patch start -> MODIFIED event in a lightkube watch ({WRITES} writes)",
        f"  event latency p50 {1000 * p50:.2f} ms, p99 {1000 * p99:.2f} ms; "
        f"patch round trip p50 {1000 * rtt50:.2f} ms, p99 {1000 * rtt99:.2f} ms",
        f"  ratio latency/write RTT: p50 {p50 / rtt50:.2f}, p99 {p99 / rtt99:.2f}",
    ]
    return lines


# -- 3: a ZooKeeper ensemble through the whole local control plane, against starting it directly ------------


def _leftovers(state_dir: Path) -> list[str]:
    """What a LocalCluster of this state dir left on the machine (as tests/e2e checks it)."""
    instance = markers.default_instance(state_dir)
    found = [f"file {f}" for f in (state_dir / "kubelet").glob("instance.json")]
    found += [f"netns {n}" for n in list_netns() if n.startswith(f"zkop-{instance}-")]
    found += [f"link {n}" for n, _ in list_links() if n == markers.bridge_name(instance)]
    with open("/proc/self/mounts") as mounts:
        found += [f"mount {line.split()[1]}" for line in mounts if str(state_dir) in line.split()[1]]
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    found += [f"process {line.strip()}" for line in ps.splitlines() if str(state_dir) in line]
    return found


def _ensemble_leftovers(root: Path) -> list[str]:
    """Processes still carrying this LocalEnsemble's marker in their environment."""
    needle = f"ZKOP_TEST_ENSEMBLE={root}".encode()
    found = []
    for pid in markers.all_pids():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(f"process {pid}")
    return found


async def _ready(cluster: LocalCluster) -> bool:
    assert cluster.client is not None
    obj = await cluster.client.get(ZookeeperClusterResource, "zk", namespace="default")
    status: dict[str, Any] = obj.to_dict().get("status") or {}  # type: ignore[no-untyped-call]
    return any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))


async def _operator_watching(cluster: LocalCluster) -> bool:
    """The operator has a watch open on ZookeeperClusters (its start-up is not part of the figure)."""
    return any(
        r.method == "GET" and "zookeeperclusters" in r.path and r.query.get("watch") in ("true", "1")
        for r in cluster.server.requests
    )


async def _until(probe: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    deadline = time.perf_counter() + timeout
    while not await probe():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(POLL)


async def _through_control_plane(tmp: Path) -> tuple[float, list[str]]:
    state_dir = tmp / "local"
    cluster = LocalCluster(state_dir, operator_env={"ZKOP_RESYNC_SECONDS": "2"}, backoff_base=1.0)
    try:
        await cluster.start()
        await _until(lambda: _operator_watching(cluster), 60, "the operator to watch ZookeeperClusters")
        assert cluster.client is not None
        started = time.perf_counter()
        await cluster.client.create(ZookeeperClusterResource.from_dict(CLUSTER_BODY))
        await _until(lambda: _ready(cluster), READY_TIMEOUT, "ZookeeperCluster zk Ready=True")
        elapsed = time.perf_counter() - started
    finally:
        await cluster.stop()
    return elapsed, _leftovers(state_dir.resolve())


async def _directly(tmp: Path) -> tuple[float, list[str]]:
    ensemble = LocalEnsemble(tmp / "ensemble")  # renders the configuration: not timed

    async def formed() -> bool:
        state = await observe_ensemble(ensemble.addresses(), timeout=1.0)
        return state.leader is not None and all(m.serving for m in state.members)

    try:
        started = time.perf_counter()
        ensemble.start_all()
        await _until(formed, READY_TIMEOUT, "three serving members with a leader")
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.to_thread(ensemble.stop_all)
    return elapsed, _ensemble_leftovers(ensemble.root)


async def _startups() -> tuple[list[float], list[float], list[str]]:
    control_plane: list[float] = []
    direct: list[float] = []
    leftovers: list[str] = []
    for _ in range(STARTS):  # interleaved, so drift on the machine hits both alike
        for measure, times in ((_directly, direct), (_through_control_plane, control_plane)):
            with tempfile.TemporaryDirectory(prefix="zkop-bench-") as tmp:
                elapsed, left = await measure(Path(tmp))
                times.append(elapsed)
                leftovers += left
    return control_plane, direct, leftovers


def _startup_lines() -> list[str]:
    title = "3-member ZooKeeper: ZookeeperCluster created -> Ready=True on LocalCluster vs direct start"
    if not zookeeper_available() or os.geteuid() != 0:
        return [title, "  skipped: needs root and Debian's zookeeper package (make setup)"]
    control_plane, direct, leftovers = asyncio.run(_startups())
    cp_min, cp_med = min(control_plane), statistics.median(control_plane)
    d_min, d_med = min(direct), statistics.median(direct)
    runs = ", ".join(f"{t:.1f}" for t in control_plane)
    direct_runs = ", ".join(f"{t:.1f}" for t in direct)
    return [
        f"{title} ({STARTS} runs each)",
        f"  LocalCluster (operator resync 2 s, backoff base 1 s): min {cp_min:.1f} s, median {cp_med:.1f} s "
        f"[{runs}]",
        f"  LocalEnsemble until all serve with a leader: min {d_min:.1f} s, median {d_med:.1f} s "
        f"[{direct_runs}]",
        f"  ratio control plane/direct: min {cp_min / d_min:.2f}, median {cp_med / d_med:.2f}",
        f"  left behind after cleanup: {', '.join(leftovers) if leftovers else 'nothing'}",
    ]


def run() -> list[str]:
    return [*_api_lines(), *_startup_lines()]
