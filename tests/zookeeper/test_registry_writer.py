"""The registry writer on real ZooKeeper members: batched transactions, ownership, foreign nodes,
session expiry, and a real Curator reader (Debian's curator-x-discovery, compiled here with javac)."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

from tests.registry.test_core import endpoint_slice, export, service
from tests.support.ensemble import LocalEnsemble, formed, wait_for
from zkop.registry import ledger
from zkop.registry.desired import desired_registry
from zkop.registry.diff import diff
from zkop.zookeeper import registry as writer

pytestmark = pytest.mark.zookeeper

UID = "6f1c9a8e-0000-4000-8000-000000000001"  # the uid tests.registry.test_core's export carries


def connect(ensemble: LocalEnsemble, **kwargs: Any) -> KazooClient:
    hosts = ",".join(f"{a}:2181" for a in ensemble.addresses().values())
    client = KazooClient(hosts=hosts, auth_data=ensemble.credential.auth_data(), timeout=10, **kwargs)
    client.start(timeout=30)
    return client


@pytest.fixture
def zk(ensemble: LocalEnsemble) -> Iterator[KazooClient]:
    wait_for(lambda: formed(ensemble), timeout=60, what="a formed ensemble")
    client = connect(ensemble)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def sync(client: KazooClient, desired: dict[str, bytes], **limits: int) -> writer.WriteReport:
    return writer.write(client, UID, diff(desired, writer.read_owned(client, UID)), **limits)


def registry(
    addresses: list[str], not_ready: tuple[str, ...] = (), name: str = "web", **spec: Any
) -> dict[str, bytes]:
    desired = desired_registry(export(**spec), [service(name)], [endpoint_slice(name, addresses, not_ready)])
    return dict(desired.nodes)


def test_a_sync_writes_minimal_changes_and_never_touches_foreign_nodes(zk: KazooClient) -> None:
    # Someone else's instances in the very parents zkop writes into.
    zk.create("/services/web/someone-elses-instance", b'{"theirs":true}', makepath=True)
    zk.create("/services/other/theirs", b"x", makepath=True)
    first = registry(["10.0.0.1", "10.0.0.2", "10.0.0.3"])
    report = sync(zk, first)
    assert report.operations == 6 and report.transactions == 1 and not report.failed
    assert writer.read_owned(zk, UID) == first
    assert sync(zk, first).operations == 0  # idempotent: the same listing writes nothing

    # One endpoint replaced: exactly one delete and one create (each with its ledger entry).
    second = registry(["10.0.0.1", "10.0.0.2", "10.0.0.4"])
    assert sync(zk, second).operations == 4
    assert writer.read_owned(zk, UID) == second
    assert sorted(zk.get_children("/services/web")) == sorted(
        [ledger.split(p)[1] for p in second] + ["someone-elses-instance"]
    )

    # Everything the export owns removed: only its own nodes and ledger go.
    assert sync(zk, {}).operations == 6
    writer.forget_export(zk, UID)
    assert zk.get_children("/services/web") == ["someone-elses-instance"]
    assert zk.get("/services/other/theirs")[0] == b"x"
    assert zk.exists(ledger.ledger_root(UID)) is None


def test_a_foreign_node_at_a_desired_path_is_reported_and_never_adopted(zk: KazooClient) -> None:
    desired = registry(["10.0.0.1", "10.0.0.2"])
    squatted = sorted(desired)[0]
    zk.create(squatted, b"not zkop's", makepath=True)
    report = sync(zk, desired)
    assert report.conflicts == [squatted]
    assert set(writer.read_owned(zk, UID)) == set(desired) - {squatted}
    sync(zk, {})
    assert zk.get(squatted)[0] == b"not zkop's"


def test_large_syncs_are_split_into_transactions_within_the_batch_limit(zk: KazooClient) -> None:
    # 4,000 instances of ~250 bytes with ledger entries: about 1.6 MB, more than one request may carry.
    addresses = [f"10.1.{i // 250}.{i % 250}" for i in range(4000)]
    desired = registry(addresses)
    planned = list(writer.batches(writer._units(UID, diff(desired, {}))))
    assert len(planned) > 1
    for batch in planned:
        assert sum(op.size for unit in batch for op in unit) <= writer.BATCH_BYTES
    report = sync(zk, desired)
    assert report.transactions == len(planned) and not report.failed
    assert report.operations == 2 * len(desired)
    assert writer.read_owned(zk, UID) == desired
    # A tighter limit only means more transactions, never a different result.
    report = sync(zk, {}, max_bytes=64 * 1024)
    assert report.transactions > 10 and report.operations == 2 * len(desired)
    assert writer.read_owned(zk, UID) == {}


def test_session_expiry_and_a_new_session_deregister_nothing(
    ensemble: LocalEnsemble, zk: KazooClient
) -> None:
    desired = registry(["10.0.0.1", "10.0.0.2"], formats=[{"type": "curator"}, {"type": "serverset"}])
    sync(zk, desired)
    lost = threading.Event()
    zk.add_listener(lambda state: lost.set() if state == KazooState.LOST else None)
    # Expire zkop's session the way a long partition would: another client takes it over and closes it.
    thief = connect(ensemble, client_id=zk.client_id)
    thief.stop()
    thief.close()
    assert lost.wait(30), "the session did not expire"
    observer = connect(ensemble)
    try:
        assert writer.read_owned(observer, UID) == desired  # persistent: still registered
    finally:
        observer.stop()
        observer.close()
    # kazoo reconnects with a new session; the next sync finds nothing to do.
    wait_for(lambda: zk.connected, timeout=30, what="a new session")
    assert diff(desired, writer.read_owned(zk, UID)).empty


def test_a_whole_ensemble_outage_under_the_writer_loses_no_registration(
    ensemble: LocalEnsemble, zk: KazooClient
) -> None:
    desired = registry(["10.0.0.1", "10.0.0.2", "10.0.0.3"])
    sync(zk, desired)
    ensemble.stop_all()  # every member down: the writer is disconnected, its session may expire
    wait_for(lambda: not zk.connected, timeout=30, what="the writer disconnected")
    ensemble.start_all()
    wait_for(lambda: formed(ensemble), timeout=120, what="the ensemble formed again")
    wait_for(lambda: zk.connected, timeout=60, what="reconnected")
    assert writer.read_owned(zk, UID) == desired
    assert sync(zk, desired).operations == 0


CURATOR_READER = """
import java.util.Collection;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;

public class CuratorReader {
    public static void main(String[] args) throws Exception {
        CuratorFramework client =
            CuratorFrameworkFactory.newClient(args[0], new ExponentialBackoffRetry(200, 5));
        client.start();
        client.blockUntilConnected();
        ServiceDiscovery<Void> discovery =
            ServiceDiscoveryBuilder.builder(Void.class).basePath(args[1]).client(client).build();
        discovery.start();
        Collection<ServiceInstance<Void>> instances = discovery.queryForInstances(args[2]);
        for (ServiceInstance<Void> instance : instances) {
            System.out.println(instance.getAddress() + ":" + instance.getPort() + " " + instance.getId());
        }
        discovery.close();
        client.close();
    }
}
"""
CURATOR_JARS = [
    "curator-x-discovery",
    "curator-framework",
    "curator-client",
    "zookeeper",
    "zookeeper-jute",
    "guava",
    "failureaccess",
    "jackson-databind",
    "jackson-core",
    "jackson-annotations",
    "slf4j-api",
    "slf4j-nop",
]


def curator_classpath() -> str:
    jars = [Path(f"/usr/share/java/{name}.jar") for name in CURATOR_JARS]
    return ":".join(str(j) for j in jars if j.exists())


def test_curator_service_discovery_reads_exactly_the_published_instances(
    ensemble: LocalEnsemble, zk: KazooClient, tmp_path: Path
) -> None:
    if shutil.which("javac") is None or not Path("/usr/share/java/curator-x-discovery.jar").exists():
        pytest.fail("javac or libcurator-discovery-java missing: run `make setup`")
    source = tmp_path / "CuratorReader.java"
    source.write_text(CURATOR_READER)
    classpath = curator_classpath()
    subprocess.run(["javac", "-cp", classpath, "-d", str(tmp_path), str(source)], check=True, timeout=120)

    # An instance some Java service registered itself: zkop's instances sit beside it, untouched.
    theirs = {
        "name": "web",
        "id": "theirs",
        "address": "10.9.9.9",
        "port": 1,
        "sslPort": None,
        "payload": None,
        "registrationTimeUTC": 1,
        "serviceType": "DYNAMIC",
        "uriSpec": None,
    }
    zk.create("/services/web/theirs", json.dumps(theirs).encode(), makepath=True)
    desired = registry(["10.0.0.1", "10.0.0.2"], ("10.0.0.9",))
    sync(zk, desired)
    hosts = ",".join(f"{a}:2181" for a in ensemble.addresses().values())
    result = subprocess.run(
        ["java", "-cp", f"{classpath}:{tmp_path}", "CuratorReader", hosts, "/services", "web"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = sorted(line.split() for line in result.stdout.splitlines() if line.strip())
    expected = sorted(
        [f"{json.loads(d)['address']}:{json.loads(d)['port']}", ledger.split(p)[1]]
        for p, d in desired.items()
    )
    assert found == sorted([*expected, ["10.9.9.9:1", "theirs"]])
    assert [f[0] for f in found if f[1] != "theirs"] == ["10.0.0.1:8080", "10.0.0.2:8080"]
