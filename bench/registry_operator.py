"""Registry sync through the operator: an EndpointSlice change written through the API server until the
changed znode is visible to a ZooKeeper client, against the core + writer alone (`bench.registry`,
measured in the same run on the same listing).

Set-up (not timed): a LocalCluster (API server, controllers, process kubelet, `zkop run` as a subprocess
with its default settings except ZKOP_EXPORT_DEBOUNCE_SECONDS / ZKOP_EXPORT_RESYNC_SECONDS passed
explicitly), a 3-member ZookeeperCluster (TLS off: the baseline's LocalEnsemble is plain text), and
`bench.registry`'s listing created through the API: 100 selectorless Services (the local endpoints
controller, like Kubernetes', leaves those alone) and one hand-written EndpointSlice each
(`kubernetes.io/service-name`), 100 ready endpoints per slice, 10,000 in all. A ZookeeperServiceExport
selects them (curator layout); the operator watches Services and EndpointSlices (kopf `on.event`) exactly
as it does for slices the endpoints controller writes.

Measured:
- cold publish: from the export's create being acknowledged until all 10,000 instances are visible
  (polled every 0.25 s), against `bench.registry`'s cold publish (core + writer);
- propagation: one endpoint's address replaced by a JSON patch of its EndpointSlice; from the patch being
  acknowledged until a kazoo ChildrenWatch on the Service's znode (in this process, on the ensemble's
  pods) sees the old instance gone and the new one present. Each change waits for the previous one to be
  visible and then 2 x debounce plus a random 0-0.5 s, so the debounce never merges two changes and the
  changes do not fall in step with the operator's timers. The figure includes the operator's whole path:
  watch event, debounce, the locate of the ensemble, the LIST of every Service and EndpointSlice of the
  namespace, desired registry, diff, multi-op write, and the watch notification back;
- the operator's own log: syncs that wrote, and ZooKeeper operations per change.
Ratios are operator/core; the share of the debounce is the configured debounce over the operator's p50.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import random
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from kazoo.client import KazooClient
from lightkube import AsyncClient
from lightkube.codecs import from_dict
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace
from lightkube.resources.discovery_v1 import EndpointSlice
from lightkube.types import PatchType

from bench import registry
from tests.support.ensemble import zookeeper_available
from zkop.kube.client import ZookeeperClusterResource
from zkop.operator.exports import DEBOUNCE_SECONDS, RESYNC_SECONDS, ExportResource
from zkop.registry.formats import instance_id
from zkop_local.cluster import LocalCluster

NAMESPACE = "bench"  # the listing's namespace (bench.registry.listing)
BASE_PATH = "/bench-operator"
CHANGES = 50
WARMUP = 3  # changes before the measured ones, not counted
SETUP_TIMEOUT = 240.0  # the ensemble Ready
PUBLISH_TIMEOUT = 300.0  # 10,000 endpoints from cold through the operator
CHANGE_TIMEOUT = 30.0
POLL = 0.25
SPACING_JITTER = 0.5
PORT = 8080  # the slices' port (bench.registry.listing)

# The e2e tests' cluster (tests/e2e/day2.py cluster_body), with TLS off: the baseline's LocalEnsemble runs
# plain text (its default), so the ratio compares the paths to ZooKeeper, not the transports.
CLUSTER_BODY: dict[str, Any] = {
    "apiVersion": "zkop.io/v1alpha1",
    "kind": "ZookeeperCluster",
    "metadata": {"name": "zk", "namespace": "default"},
    "spec": {
        "replicas": 3,
        "storage": {"size": "1Gi", "reclaimPolicy": "Delete"},
        "jvm": {"heap": "96Mi", "extraFlags": ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"]},
        "tls": {"enabled": False},
    },
}
EXPORT_BODY: dict[str, Any] = {
    "apiVersion": "zkop.io/v1alpha1",
    "kind": "ZookeeperServiceExport",
    "metadata": {"name": "bench", "namespace": "default"},
    "spec": {
        "clusterRef": {"name": "zk"},
        "namespaces": [NAMESPACE],
        "labelSelector": {},
        "formats": [{"type": "curator", "basePath": BASE_PATH}],
    },
}

# The e2e tests' check for anything a LocalCluster left on the machine (as bench/day2.py imports it).
leftovers = cast(Callable[[Path], list[str]], importlib.import_module("tests.e2e.conftest").leftovers)


@dataclass
class Figures:
    cold_s: float | None = None
    latencies: list[float] = field(default_factory=list)  # patch acknowledged -> change seen, seconds
    round_trips: list[float] = field(default_factory=list)  # the patch request itself, seconds
    offsets: list[float] = field(default_factory=list)  # each patch, seconds after the export's creation
    writing_syncs: int | None = None  # operator log: syncs that wrote something
    operations: list[int] = field(default_factory=list)  # operator log: ZooKeeper operations per sync
    error: str | None = None
    left: list[str] = field(default_factory=list)


class Children:
    """A kazoo ChildrenWatch: every children list it delivers, with the time it arrived."""

    def __init__(self, client: KazooClient, path: str) -> None:
        self._lock = threading.Lock()
        self.seen: list[tuple[float, frozenset[str]]] = []
        client.ChildrenWatch(path, self._on_children)

    def _on_children(self, children: list[str]) -> None:
        arrived = time.perf_counter()
        with self._lock:
            self.seen.append((arrived, frozenset(children)))

    def mark(self) -> int:
        with self._lock:
            return len(self.seen)

    def first(self, since: int, present: str, gone: str) -> float | None:
        with self._lock:
            return next((t for t, c in self.seen[since:] if present in c and gone not in c), None)


async def _until(probe: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        with contextlib.suppress(Exception):  # a transient API or ZooKeeper error is "not yet"
            if found := await probe():
                return found
        await asyncio.sleep(POLL)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def _manifests() -> list[dict[str, Any]]:
    """bench.registry's listing as API objects: selectorless Services and their EndpointSlices."""
    services, slices = registry.listing()
    manifests: list[dict[str, Any]] = []
    for service in services:
        manifests.append({"apiVersion": "v1", "kind": "Service", **service})
    for piece in slices:
        manifest: dict[str, Any] = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "addressType": "IPv4",
        }
        manifest.update(piece)
        manifest["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] = "bench.zkop.io"
        manifests.append(manifest)
    for manifest in manifests:
        assert manifest["metadata"]["namespace"] == NAMESPACE
    return manifests


async def _hosts(client: AsyncClient) -> str:
    obj = await client.get(ZookeeperClusterResource, "zk", namespace="default")
    status: dict[str, Any] = obj.to_dict().get("status") or {}  # type: ignore[no-untyped-call]
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
    addresses = [m["address"] for m in status.get("members", []) if m.get("address")]
    return ",".join(f"{a}:2181" for a in addresses) if ready and len(addresses) == 3 else ""


def _published(zk: KazooClient, services: list[str]) -> int:
    """Instances visible under the export's base path, all Services read in one pipelined round."""
    pending = [zk.get_children_async(f"{BASE_PATH}/{name}") for name in services]
    count = 0
    for result in pending:
        with contextlib.suppress(Exception):  # not created yet
            count += len(result.get())
    return count


async def _measure(plane: LocalCluster, figures: Figures) -> None:
    client = plane.client
    assert client is not None
    await client.create(ZookeeperClusterResource.from_dict(CLUSTER_BODY))
    await client.create(Namespace(metadata=ObjectMeta(name=NAMESPACE)))
    manifests = _manifests()
    for manifest in manifests:
        await client.create(from_dict(manifest))
    hosts = await _until(lambda: _hosts(client), SETUP_TIMEOUT, "ZookeeperCluster zk Ready with 3 members")

    zk = KazooClient(
        hosts=hosts, timeout=10, connection_retry={"max_tries": -1, "delay": 0.2, "max_delay": 1.0}
    )
    try:
        try:
            await asyncio.to_thread(zk.start, 90)
        except Exception as exc:
            raise RuntimeError(f"no ZooKeeper session with the ensemble at {hosts}: {exc!r}") from exc
        names = [m["metadata"]["name"] for m in manifests if m["kind"] == "Service"]
        expected = registry.SERVICES * registry.PER_SERVICE
        started = time.perf_counter()
        export = await client.create(ExportResource.from_dict(EXPORT_BODY))
        uid = export.metadata.uid

        async def complete() -> bool:
            return await asyncio.to_thread(_published, zk, names) == expected

        await _until(complete, PUBLISH_TIMEOUT, f"{expected} instances published")
        figures.cold_s = time.perf_counter() - started

        # Endpoint 0 of the first Service moves to a new address on every change (as in bench.registry).
        service, slice_name = names[0], f"{names[0]}-1"
        piece = next(m for m in manifests if m["metadata"]["name"] == slice_name)
        address = piece["endpoints"][0]["addresses"][0]
        watch = await asyncio.to_thread(Children, zk, f"{BASE_PATH}/{service}")
        rng = random.Random(5)
        for change in range(1, WARMUP + CHANGES + 1):
            new = f"10.0.0.{200 + change % 50}"
            old_id, new_id = (instance_id(uid, NAMESPACE, service, a, PORT) for a in (address, new))
            mark = watch.mark()
            patch = [{"op": "replace", "path": "/endpoints/0/addresses/0", "value": new}]
            sent = time.perf_counter()
            await client.patch(
                EndpointSlice, slice_name, patch, namespace=NAMESPACE, patch_type=PatchType.JSON
            )
            acknowledged = time.perf_counter()

            async def seen(mark: int = mark, new_id: str = new_id, old_id: str = old_id) -> float | None:
                return watch.first(mark, new_id, old_id)

            visible = await _until(seen, CHANGE_TIMEOUT, f"change {change} ({address} -> {new}) visible")
            address = new
            if change > WARMUP:
                figures.latencies.append(visible - acknowledged)
                figures.round_trips.append(acknowledged - sent)
                figures.offsets.append(acknowledged - started)
            await asyncio.sleep(2 * DEBOUNCE_SECONDS + rng.uniform(0, SPACING_JITTER))
    finally:
        await asyncio.to_thread(zk.stop)
        await asyncio.to_thread(zk.close)


def _operator_log(state_dir: Path, figures: Figures) -> None:
    """The syncs that wrote, from the operator's log (it logs each sync that changed something)."""
    with contextlib.suppress(OSError):
        text = (state_dir / "operator.log").read_text(errors="replace")
        wrote = [int(n) for n in re.findall(r"registry sync wrote (\d+) operations", text)]
        figures.writing_syncs = len(wrote)
        figures.operations = wrote


async def _run(state_dir: Path) -> Figures:
    """The whole run on a LocalCluster in `state_dir` (resolved), stopped and checked for leftovers."""
    figures = Figures()
    env = {
        "ZKOP_EXPORT_DEBOUNCE_SECONDS": str(DEBOUNCE_SECONDS),
        "ZKOP_EXPORT_RESYNC_SECONDS": str(RESYNC_SECONDS),
    }
    plane = LocalCluster(state_dir, operator_env=env, backoff_base=1.0)
    try:
        await plane.start()
        await _measure(plane, figures)
    except Exception as exc:
        figures.error = f"{type(exc).__name__}: {exc}"
    finally:
        await plane.stop()
        _operator_log(state_dir, figures)
        figures.left = leftovers(state_dir)
    return figures


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.0f} ms"


def report(figures: Figures, core: dict[str, float]) -> list[str]:
    n = registry.SERVICES * registry.PER_SERVICE
    lines = [
        f"registry sync through the operator ({n} endpoints in {registry.SERVICES} selectorless Services "
        "with hand-written EndpointSlices, curator layout, 3-member ZookeeperCluster on LocalCluster, "
        "TLS off as in the baseline; "
        f"debounce {DEBOUNCE_SECONDS:g} s, export resync {RESYNC_SECONDS:g} s), against core + writer "
        "(bench.registry, same run)",
    ]
    if figures.cold_s is not None:
        cold, core_cold = figures.cold_s, core["zkop_cold_s"]
        lines.append(
            f"  cold publish (export created -> all {n} visible): operator {cold:.2f} s, "
            f"core {core_cold:.2f} s, ratio operator/core {cold / core_cold:.2f}"
        )
    if figures.latencies:
        latencies = figures.latencies
        p50, p99 = statistics.median(latencies), registry.percentile(latencies, 0.99)
        core50, core99 = core["zkop_p50_ms"] / 1000, core["zkop_p99_ms"] / 1000
        rtt = statistics.median(figures.round_trips)
        spacing = f"{2 * DEBOUNCE_SECONDS:g}-{2 * DEBOUNCE_SECONDS + SPACING_JITTER:g} s"
        slowest = sorted(zip(latencies, figures.offsets, strict=True), reverse=True)[:3]
        lines += [
            f"  EndpointSlice patch acknowledged -> znode change seen by a kazoo watch: p50 {_ms(p50)} "
            f"p99 {_ms(p99)}, min {_ms(min(latencies))} max {_ms(max(latencies))} ({len(latencies)} changes "
            f"after {WARMUP} warm-up, each {spacing} after the previous one was visible; "
            f"patch round trip p50 {1000 * rtt:.1f} ms)",
            f"  p90 {_ms(registry.percentile(latencies, 0.9))}; slowest "
            + ", ".join(f"{_ms(latency)} (at +{offset:.0f} s)" for latency, offset in slowest)
            + f" (+: after the export's creation; full resync every {RESYNC_SECONDS:g} s)",
            f"  core change -> committed (same run): p50 {_ms(core50)} p99 {_ms(core99)}; "
            f"ratio operator/core: p50 {p50 / core50:.2f}, p99 {p99 / core99:.2f}",
            f"  the configured debounce ({_ms(DEBOUNCE_SECONDS)}) is {100 * DEBOUNCE_SECONDS / p50:.0f}% of "
            f"the operator's p50; the rest ({_ms(p50 - DEBOUNCE_SECONDS)}: watch, tick, locate, LIST, "
            f"desired, diff, write, notification) is {(p50 - DEBOUNCE_SECONDS) / core50:.2f} x the core p50",
        ]
    if figures.writing_syncs is not None and figures.cold_s is not None:
        per_change = figures.operations[1:]  # the first sync that wrote is the cold publish
        expected = 1 + WARMUP + CHANGES
        verdict = "one per change" if figures.writing_syncs == expected else f"expected {expected}"
        operations = f"{statistics.mean(per_change):.1f}" if per_change else "n/a"
        lines.append(
            f"  operator log: {figures.writing_syncs} syncs wrote (cold publish + changes: {verdict}), "
            f"ZooKeeper operations per endpoint change {operations} "
            f"(core {core['zkop_writes_per_change']:.1f})"
        )
    if figures.error is not None:
        lines.append(f"  FAILED: {figures.error}")
    lines.append(f"  left behind after cleanup: {', '.join(figures.left) if figures.left else 'nothing'}")
    return lines


def run() -> list[str]:
    title = "registry sync through the operator (EndpointSlice change -> znode change)"
    if not zookeeper_available() or os.geteuid() != 0:
        return [title, "  skipped: needs root and Debian's zookeeper package (make setup)"]
    core = registry.figures()  # the baseline: measured once per run, before the control plane starts
    assert core is not None
    kazoo = logging.getLogger("kazoo")
    level = kazoo.level
    kazoo.setLevel(logging.ERROR)  # dropped connections while the ensemble forms are expected
    try:
        with tempfile.TemporaryDirectory(prefix="zkop-bench-registry-") as tmp:
            figures = asyncio.run(_run((Path(tmp) / "local").resolve()))
    finally:
        kazoo.setLevel(level)
    return report(figures, core)
