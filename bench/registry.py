"""Publishing Services into ZooKeeper: zkop's minimal-diff sync against a naive full-rewrite sync,
both against the same real 3-member ensemble in the same run.

Runs the pure core (`zkop.registry`) and the writer (`zkop.zookeeper.registry`) directly against a
LocalEnsemble, without the API server, kubelet and kopf: 10,000 endpoints as pods would take the local
control plane many minutes to run, and the part measured here (listing -> desired -> diff -> write)
is the same code the operator runs. The operator adds its debounce (0.5 s by default) and one
Kubernetes LIST per namespace to every change, which this benchmark does not include:
`bench/registry_operator.py` measures that path, the same listing through the operator on the local
control plane, against this benchmark's figures (`figures()`, measured once per run).

Measured:
- cold publish of 10,000 endpoints (100 Services x 100 endpoints) into an empty registry;
- propagation latency p50/p99 from an EndpointSlice change (an endpoint replaced) to the change being
  committed in ZooKeeper, the whole listing recomputed each time as the operator does;
- ZooKeeper write operations per endpoint change.
The naive sync rewrites every node on every change (set, or create when missing), pipelined.
"""

from __future__ import annotations

import functools
import logging
import statistics
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

from tests.support.ensemble import LocalEnsemble, zookeeper_available
from zkop.api.export import ZookeeperServiceExport
from zkop.registry.desired import desired_registry
from zkop.registry.diff import apply, diff
from zkop.zookeeper.registry import read_owned, write

SERVICES = 100
PER_SERVICE = 100
ZKOP_CHANGES = 200
NAIVE_CHANGES = 10  # each naive change rewrites 10,000 nodes: a few are enough for its distribution


def _export(uid: str, base: str) -> ZookeeperServiceExport:
    return ZookeeperServiceExport.model_validate(
        {
            "metadata": {"name": "bench", "namespace": "bench", "uid": uid},
            "spec": {
                "clusterRef": {"name": "zk"},
                "labelSelector": {},
                "formats": [{"type": "curator", "basePath": base}],
            },
        }
    )


def listing(generation: int = 0, changed: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """100 Services with 100 ready endpoints each; `changed` endpoints moved to new addresses."""
    services, slices = [], []
    for s in range(SERVICES):
        name = f"svc-{s:03d}"
        services.append(
            {
                "metadata": {"name": name, "namespace": "bench", "labels": {"app": name}},
                "spec": {"ports": [{"name": "http", "port": 80}]},
            }
        )
        endpoints = []
        for e in range(PER_SERVICE):
            index = s * PER_SERVICE + e
            octet = 200 + generation if index < changed else e
            endpoints.append(
                {"addresses": [f"10.{s // 250}.{s % 250}.{octet}"], "conditions": {"ready": True}}
            )
        slices.append(
            {
                "metadata": {
                    "name": f"{name}-1",
                    "namespace": "bench",
                    "labels": {"kubernetes.io/service-name": name},
                },
                "ports": [{"name": "http", "port": 8080}],
                "endpoints": endpoints,
            }
        )
    return services, slices


def _naive_sync(client: KazooClient, desired: Mapping[str, bytes], previous: set[str]) -> int:
    """Rewrite everything: set every node (create when missing), delete what is no longer listed."""
    pending = [(path, data, client.set_async(path, data)) for path, data in desired.items()]
    writes = len(pending)
    creates = []
    for path, data, result in pending:
        try:
            result.get()
        except NoNodeError:
            creates.append(client.create_async(path, data, makepath=True))
    for result in creates:
        result.get()
    deletes = [client.delete_async(p) for p in previous - set(desired)]
    for result in deletes:
        result.get()
    return writes + len(creates) + len(deletes)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(client: KazooClient) -> dict[str, float]:
    results: dict[str, float] = {}
    # zkop: cold publish, then endpoint changes through desired -> diff (against its cache) -> write.
    export = _export("bench-zkop", "/bench-zkop")
    started = time.perf_counter()
    desired = desired_registry(export, *listing()).nodes
    owned = read_owned(client, export.uid)
    changes = diff(desired, owned)
    report = write(client, export.uid, changes)
    results["zkop_cold_s"] = time.perf_counter() - started
    results["zkop_cold_transactions"] = report.transactions
    owned = apply(owned, changes)
    assert len(owned) == SERVICES * PER_SERVICE
    latencies, writes = [], 0
    for generation in range(1, ZKOP_CHANGES + 1):
        started = time.perf_counter()
        desired = desired_registry(export, *listing(generation % 50, changed=1)).nodes
        changes = diff(desired, owned)
        report = write(client, export.uid, changes)
        latencies.append(time.perf_counter() - started)
        owned = apply(owned, changes)
        writes += report.operations
    results["zkop_p50_ms"] = 1000 * statistics.median(latencies)
    results["zkop_p99_ms"] = 1000 * percentile(latencies, 0.99)
    results["zkop_writes_per_change"] = writes / ZKOP_CHANGES
    started = time.perf_counter()
    assert diff(desired, read_owned(client, export.uid)).empty
    results["zkop_full_resync_read_s"] = time.perf_counter() - started

    # naive: the same listings, every node rewritten on every change.
    naive = _export("bench-naive", "/bench-naive")
    started = time.perf_counter()
    desired = desired_registry(naive, *listing()).nodes
    _naive_sync(client, desired, set())
    results["naive_cold_s"] = time.perf_counter() - started
    present = set(desired)
    latencies, writes = [], 0
    for generation in range(1, NAIVE_CHANGES + 1):
        started = time.perf_counter()
        desired = desired_registry(naive, *listing(generation % 50, changed=1)).nodes
        writes += _naive_sync(client, desired, present)
        latencies.append(time.perf_counter() - started)
        present = set(desired)
    results["naive_p50_ms"] = 1000 * statistics.median(latencies)
    results["naive_p99_ms"] = 1000 * percentile(latencies, 0.99)
    results["naive_writes_per_change"] = writes / NAIVE_CHANGES
    return results


@functools.cache
def figures() -> dict[str, float] | None:
    """`measure` on a fresh LocalEnsemble, once per process (None without ZooKeeper): `run` reports it,
    `bench.registry_operator` takes its baseline from it, so `make bench` measures it once."""
    logging.getLogger("kazoo.client").setLevel(logging.CRITICAL)  # "connection refused" while forming
    if not zookeeper_available():
        return None
    with tempfile.TemporaryDirectory() as tmp:
        ensemble = LocalEnsemble(Path(tmp) / "ensemble")
        ensemble.start_all()
        client = KazooClient(
            hosts=",".join(f"{a}:2181" for a in ensemble.addresses().values()),
            auth_data=ensemble.credential.auth_data(),
            timeout=10,
            connection_retry={"max_tries": -1, "delay": 0.2, "max_delay": 1.0},
        )
        try:
            client.start(timeout=90)
            return measure(client)
        finally:
            client.stop()
            client.close()
            ensemble.stop_all()


def run() -> list[str]:
    r = figures()
    if r is None:
        return ["registry: skipped (Debian's zookeeper is not installed: make setup)"]
    n = SERVICES * PER_SERVICE
    return [
        f"registry sync ({n} endpoints in {SERVICES} Services, curator layout, 3-member LocalEnsemble; "
        "core + writer without the control plane, no debounce)",
        f"  cold publish: zkop {r['zkop_cold_s']:.2f} s in {r['zkop_cold_transactions']:.0f} transactions, "
        f"naive {r['naive_cold_s']:.2f} s, ratio zkop/naive {r['zkop_cold_s'] / r['naive_cold_s']:.2f}",
        f"  endpoint change -> committed: zkop p50 {r['zkop_p50_ms']:.1f} ms p99 {r['zkop_p99_ms']:.1f} ms "
        f"({ZKOP_CHANGES} changes); naive p50 {r['naive_p50_ms']:.1f} ms p99 {r['naive_p99_ms']:.1f} ms "
        f"({NAIVE_CHANGES} changes); p50 ratio zkop/naive {r['zkop_p50_ms'] / r['naive_p50_ms']:.3f}",
        f"  ZooKeeper writes per endpoint change: zkop {r['zkop_writes_per_change']:.1f} "
        f"(node + ledger entry, each way), naive {r['naive_writes_per_change']:.0f}, "
        f"ratio {r['zkop_writes_per_change'] / r['naive_writes_per_change']:.5f}",
        f"  full resync read of the {n} owned nodes (drift repair): {r['zkop_full_resync_read_s']:.2f} s",
    ]
