"""The cost of TLS: the same writer against the same 3-member ensemble configuration, once in plain text
and once with zkop's default TLS (mutual TLS for clients, TLS quorum), in the same run.

Both ensembles are LocalEnsembles started from zkop's rendered configuration (the TLS one with the
certificates zkop's plan issues), one after the other on this machine. Measured on each:
- connect: a new session (TCP, and with TLS the handshake with a client certificate), median of 20;
- latency: sequential creates of 100-byte nodes, each waiting for its answer (p50, p99 of 1,000);
- throughput: 5,000 creates pipelined (kazoo's async API, at most 200 in flight), creates per second.
Every write goes through the quorum (leader to followers over 2888), so the quorum's TLS is paid too.
With TLS the members also run Netty (`serverCnxnFactory`, which TLS needs) instead of ZooKeeper's default
NIO connection factory: the figures compare zkop's two configurations as they are, not TLS alone.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from kazoo.client import KazooClient

from tests.support.ensemble import LocalEnsemble, wait_for, zookeeper_available
from zkop.zookeeper.observe import observe_ensemble

CONNECTS = 20
SEQUENTIAL = 1000
PIPELINED = 5000
IN_FLIGHT = 200
PAYLOAD = b"x" * 100


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _client(ensemble: LocalEnsemble) -> KazooClient:
    tls = ensemble.client_tls if ensemble.cluster.spec.tls.enabled else None
    port = 2281 if tls else 2181
    hosts = ",".join(f"{a}:{port}" for a in ensemble.addresses().values())
    return KazooClient(hosts=hosts, timeout=10, **(tls.kazoo_args() if tls else {}))


def _formed(ensemble: LocalEnsemble) -> bool:
    state = asyncio.run(observe_ensemble(ensemble.addresses(), timeout=2.0, dial=ensemble.connection.dial()))
    return bool(state.leader and all(m.synced for m in state.members))


def _measure(ensemble: LocalEnsemble) -> dict[str, float]:
    connects = []
    for _ in range(CONNECTS):
        client = _client(ensemble)
        started = time.perf_counter()
        client.start(timeout=15)
        connects.append(time.perf_counter() - started)
        client.stop()
        client.close()
    client = _client(ensemble)
    client.start(timeout=15)
    try:
        client.ensure_path("/bench")
        latencies = []
        for i in range(SEQUENTIAL):
            started = time.perf_counter()
            client.create(f"/bench/s-{i}", PAYLOAD)
            latencies.append(time.perf_counter() - started)
        slots = threading.Semaphore(IN_FLIGHT)
        done = threading.Event()
        remaining = [PIPELINED]
        lock = threading.Lock()

        def finished(_: Any) -> None:
            slots.release()
            with lock:
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()

        started = time.perf_counter()
        for i in range(PIPELINED):
            slots.acquire()
            client.create_async(f"/bench/p-{i}", PAYLOAD).rawlink(finished)
        done.wait(120)
        throughput = PIPELINED / (time.perf_counter() - started)
    finally:
        client.stop()
        client.close()
    return {
        "connect": statistics.median(connects),
        "p50": _percentile(latencies, 0.50),
        "p99": _percentile(latencies, 0.99),
        "throughput": throughput,
    }


def _run_one(root: Path, tls: bool) -> dict[str, float]:
    ensemble = LocalEnsemble(root, name="tls" if tls else "plain", tls=tls)
    ensemble.start_all()
    try:
        wait_for(lambda: _formed(ensemble), timeout=90, what=f"{'TLS' if tls else 'plain'} ensemble formed")
        return _measure(ensemble)
    finally:
        ensemble.stop_all()


def run() -> list[str]:
    if not zookeeper_available():
        return ["tls: skipped, Debian's zookeeper package is not installed (make setup)"]
    # Two rounds in the order plain, TLS, TLS, plain, so neither side always runs on a colder machine;
    # each figure is the mean of its two rounds.
    runs: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory(prefix="zkop-bench-tls-") as tmp:
        for i, tls in enumerate((False, True, True, False)):
            runs[tls].append(_run_one(Path(tmp) / f"run-{i}", tls=tls))
    plain, secure = ({k: statistics.mean(r[k] for r in runs[t]) for k in runs[t][0]} for t in (False, True))
    ms = 1000.0
    return [
        "TLS cost: the same writer against a 3-member ensemble, plain text (NIO) vs zkop's default TLS "
        "(Netty, mTLS clients, TLS quorum), same run, mean of 2 rounds each (order plain, TLS, TLS, plain)",
        f"  connect (new session), median of {CONNECTS}: plain {plain['connect'] * ms:.1f} ms, "
        f"TLS {secure['connect'] * ms:.1f} ms, ratio TLS/plain {secure['connect'] / plain['connect']:.2f}",
        f"  sequential create latency ({SEQUENTIAL}): p50 plain {plain['p50'] * ms:.2f} ms, "
        f"TLS {secure['p50'] * ms:.2f} ms, ratio {secure['p50'] / plain['p50']:.2f}; "
        f"p99 plain {plain['p99'] * ms:.2f} ms, TLS {secure['p99'] * ms:.2f} ms, "
        f"ratio {secure['p99'] / plain['p99']:.2f}",
        f"  pipelined creates ({PIPELINED}, {IN_FLIGHT} in flight): plain {plain['throughput']:.0f}/s, "
        f"TLS {secure['throughput']:.0f}/s, ratio TLS/plain {secure['throughput'] / plain['throughput']:.2f}",
    ]


if __name__ == "__main__":
    for line in run():
        print(line)
