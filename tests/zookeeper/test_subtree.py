"""Owned subtrees on real ZooKeeper members: claim, minimal writes, ownership, batching, removal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient

from tests.support.ensemble import LocalEnsemble, wait_for
from tests.zookeeper.test_observe import formed
from zkop.api.configsync import DEFAULT_MAX_VALUE_BYTES
from zkop.zookeeper.subtree import NotOwned, read_subtree, remove_subtree, sync_subtree

pytestmark = pytest.mark.zookeeper

OWNER = "uid-1"
ROOT = "/config/app"


@pytest.fixture
def zk(ensemble: LocalEnsemble) -> Iterator[KazooClient]:
    wait_for(lambda: formed(ensemble), timeout=60, what="a formed ensemble")
    hosts = ",".join(f"{a}:2181" for a in ensemble.addresses().values())
    client = KazooClient(hosts=hosts, auth_data=ensemble.credential.auth_data(), timeout=10)
    client.start(timeout=30)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def sync(client: KazooClient, desired: dict[str, bytes], owner: str = OWNER, **kwargs: Any) -> list[Any]:
    kwargs.setdefault("budget", DEFAULT_MAX_VALUE_BYTES)
    return sync_subtree(client, ROOT, owner, "test", desired, **kwargs)


def test_a_sync_claims_the_path_writes_values_and_then_writes_only_differences(zk: KazooClient) -> None:
    first = sync(zk, {"cm/a": b"1", "cm/b": b"2", "k8s/nodes/n1": b"{}"})
    assert len(first) == 6  # cm, k8s, k8s/nodes and three values
    assert zk.get(f"{ROOT}/cm/a")[0] == b"1"
    assert read_subtree(zk, ROOT).owner == OWNER
    version_of_a = zk.exists(f"{ROOT}/cm/a").version
    second = sync(zk, {"cm/a": b"1", "cm/b": b"3"})
    assert [(c.kind, c.path) for c in second] == [
        ("set", "cm/b"),
        ("delete", "k8s/nodes/n1"),
        ("delete", "k8s/nodes"),
        ("delete", "k8s"),
    ]
    assert zk.exists(f"{ROOT}/cm/a").version == version_of_a  # unchanged value: not rewritten
    assert sync(zk, {"cm/a": b"1", "cm/b": b"3"}) == []


def test_a_path_owned_by_another_sync_or_holding_foreign_data_is_never_touched(zk: KazooClient) -> None:
    sync(zk, {"cm/a": b"1"})
    with pytest.raises(NotOwned):
        sync(zk, {}, owner="uid-2")
    assert zk.get(f"{ROOT}/cm/a")[0] == b"1"
    assert remove_subtree(zk, ROOT, "uid-2", budget=DEFAULT_MAX_VALUE_BYTES) is False
    assert zk.exists(ROOT) is not None
    zk.create("/foreign/data", b"keep", makepath=True)
    with pytest.raises(NotOwned):
        sync_subtree(zk, "/foreign", OWNER, "test", {}, budget=DEFAULT_MAX_VALUE_BYTES)
    assert zk.get("/foreign/data")[0] == b"keep"


def test_large_values_go_in_several_transactions_within_the_limit(zk: KazooClient) -> None:
    big = {f"cm/k{i}": bytes([i]) * 400_000 for i in range(5)}  # 2 MB: more than one multi can carry
    changes = sync(zk, big)
    assert len(changes) == 6
    for i in range(5):
        assert zk.get(f"{ROOT}/cm/k{i}")[0] == bytes([i]) * 400_000


def test_a_kept_value_survives_while_the_rest_is_reaped(zk: KazooClient) -> None:
    sync(zk, {"cm/big": b"old", "cm/other": b"x"})
    sync(zk, {}, keep=frozenset({"cm/big"}))
    assert zk.get(f"{ROOT}/cm/big")[0] == b"old"
    assert zk.exists(f"{ROOT}/cm/other") is None


def test_removal_deletes_the_whole_owned_subtree_but_not_its_parent(zk: KazooClient) -> None:
    sync(zk, {"cm/a": b"1", "k8s/pods/ns/p": b"{}"})
    assert remove_subtree(zk, ROOT, OWNER, budget=DEFAULT_MAX_VALUE_BYTES) is True
    assert zk.exists(ROOT) is None
    assert zk.exists("/config") is not None
