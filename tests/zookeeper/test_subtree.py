"""Owned subtrees on real ZooKeeper members: claim, minimal writes, ownership, batching, removal, and
the ACL every node gets (who can read a mirrored value, and drift put right)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import OPEN_ACL_UNSAFE, Permissions, make_digest_acl

from tests.support.ensemble import LocalEnsemble, formed, wait_for
from zkop.api.configsync import DEFAULT_MAX_VALUE_BYTES
from zkop.plan.configsync import WORLD_READ, admin_acl, sync_acl
from zkop.plan.znodes import same_acl
from zkop.zookeeper.subtree import NotOwned, read_subtree, remove_subtree, sync_subtree

pytestmark = pytest.mark.zookeeper

OWNER = "uid-1"
ROOT = "/config/app"


class ZkopSession(KazooClient):  # type: ignore[misc]
    """zkop's own session (the servers' superuser, as the operator connects), knowing its password."""

    password = ""


def connect(ensemble: LocalEnsemble, auth: list[tuple[str, str]] | None) -> KazooClient:
    hosts = ",".join(f"{a}:2181" for a in ensemble.addresses().values())
    client = KazooClient(hosts=hosts, auth_data=auth, timeout=10)
    client.start(timeout=30)
    return client


@pytest.fixture
def zk(ensemble: LocalEnsemble) -> Iterator[ZkopSession]:
    wait_for(lambda: formed(ensemble), timeout=60, what="a formed ensemble")
    hosts = ",".join(f"{a}:2181" for a in ensemble.addresses().values())
    client = ZkopSession(hosts=hosts, auth_data=ensemble.credential.auth_data(), timeout=10)
    client.password = ensemble.password
    client.start(timeout=30)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def sync(client: ZkopSession, desired: dict[str, bytes], owner: str = OWNER, **kwargs: Any) -> list[Any]:
    kwargs.setdefault("budget", DEFAULT_MAX_VALUE_BYTES)
    kwargs.setdefault("acl", sync_acl(client.password, []))  # zkop's admin identity only
    return sync_subtree(client, ROOT, owner, "test", desired, **kwargs)


def test_a_sync_claims_the_path_writes_values_and_then_writes_only_differences(zk: ZkopSession) -> None:
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


def test_a_path_owned_by_another_sync_or_holding_foreign_data_is_never_touched(zk: ZkopSession) -> None:
    sync(zk, {"cm/a": b"1"})
    with pytest.raises(NotOwned):
        sync(zk, {}, owner="uid-2")
    assert zk.get(f"{ROOT}/cm/a")[0] == b"1"
    assert remove_subtree(zk, ROOT, "uid-2", budget=DEFAULT_MAX_VALUE_BYTES) is False
    assert zk.exists(ROOT) is not None
    zk.create("/foreign/data", b"keep", makepath=True)
    with pytest.raises(NotOwned):
        sync_subtree(zk, "/foreign", OWNER, "test", {}, acl=OPEN_ACL_UNSAFE, budget=DEFAULT_MAX_VALUE_BYTES)
    assert zk.get("/foreign/data")[0] == b"keep"


def test_large_values_go_in_several_transactions_within_the_limit(zk: ZkopSession) -> None:
    big = {f"cm/k{i}": bytes([i]) * 400_000 for i in range(5)}  # 2 MB: more than one multi can carry
    changes = sync(zk, big)
    assert len(changes) == 6
    for i in range(5):
        assert zk.get(f"{ROOT}/cm/k{i}")[0] == bytes([i]) * 400_000


def test_a_kept_value_survives_while_the_rest_is_reaped(zk: ZkopSession) -> None:
    sync(zk, {"cm/big": b"old", "cm/other": b"x"})
    sync(zk, {}, keep=frozenset({"cm/big"}))
    assert zk.get(f"{ROOT}/cm/big")[0] == b"old"
    assert zk.exists(f"{ROOT}/cm/other") is None


def test_removal_deletes_the_whole_owned_subtree_but_not_its_parent(zk: ZkopSession) -> None:
    sync(zk, {"cm/a": b"1", "k8s/pods/ns/p": b"{}"})
    assert remove_subtree(zk, ROOT, OWNER, budget=DEFAULT_MAX_VALUE_BYTES) is True
    assert zk.exists(ROOT) is None
    assert zk.exists("/config") is not None


def refused(attempt: Any) -> bool:
    try:
        attempt()
    except NoAuthError:
        return True
    return False


def test_only_zkop_and_granted_readers_can_read_and_readers_cannot_write(
    ensemble: LocalEnsemble, zk: ZkopSession
) -> None:
    reader = ("default.orders", "reader-password")
    acl = sync_acl(zk.password, [make_digest_acl(*reader, read=True)])
    admin_only = sync_acl(zk.password, [])
    # As the operator calls it: ancestors it has to create above the root get the admin entry only.
    sync(zk, {"creds/token": b"s3cret", "k8s/nodes/n1": b"{}"}, acl=acl, parent_acl=admin_only)
    # Every node the sync created carries exactly that ACL: values, interior nodes, root, marker.
    for rel in ["", "/creds", "/creds/token", "/k8s", "/k8s/nodes", "/k8s/nodes/n1", "/.zkop-owner"]:
        assert same_acl(zk.get_acls(ROOT + rel)[0], acl), rel
    assert same_acl(zk.get_acls("/config")[0], admin_only)

    anonymous = connect(ensemble, None)
    granted = connect(ensemble, [("digest", f"{reader[0]}:{reader[1]}")])
    other = connect(ensemble, [("digest", "default.billing:another-password")])
    try:
        for client in (anonymous, other):
            assert refused(lambda c=client: c.get(f"{ROOT}/creds/token"))
            assert refused(lambda c=client: c.get_children(ROOT))
            assert refused(lambda c=client: c.set(f"{ROOT}/creds/token", b"x"))
        assert granted.get(f"{ROOT}/creds/token")[0] == b"s3cret"
        assert sorted(granted.get_children(f"{ROOT}/k8s/nodes")) == ["n1"]
        assert refused(lambda: granted.set(f"{ROOT}/creds/token", b"overwritten"))
        assert refused(lambda: granted.create(f"{ROOT}/creds/planted", b"x"))
        assert refused(lambda: granted.delete(f"{ROOT}/k8s/nodes/n1"))
        assert refused(lambda: granted.set_acls(f"{ROOT}/creds/token", OPEN_ACL_UNSAFE))
    finally:
        for client in (anonymous, granted, other):
            client.stop()
            client.close()
    assert zk.get(f"{ROOT}/creds/token")[0] == b"s3cret"


def test_world_readable_mode_and_acl_drift_is_put_right_on_the_next_pass(
    ensemble: LocalEnsemble, zk: ZkopSession
) -> None:
    admin_only = sync_acl(zk.password, [])
    world = sync_acl(zk.password, [WORLD_READ])
    # A subtree written before ACLs were managed (open to the world, as older zkop wrote it).
    zk.create(ROOT, b"", makepath=True)
    assert sync(zk, {"cm/a": b"1"}, acl=OPEN_ACL_UNSAFE)
    anonymous = connect(ensemble, None)
    try:
        assert anonymous.get(f"{ROOT}/cm/a")[0] == b"1"
        # The next pass narrows every node (data unchanged: only ACL corrections) ...
        changes = sync(zk, {"cm/a": b"1"}, acl=admin_only)
        assert sorted((c.kind, c.path) for c in changes) == [
            ("acl", ""),
            ("acl", ".zkop-owner"),
            ("acl", "cm"),
            ("acl", "cm/a"),
        ]
        assert refused(lambda: anonymous.get(f"{ROOT}/cm/a"))
        assert sync(zk, {"cm/a": b"1"}, acl=admin_only) == []  # ... and then has nothing to do.

        # Someone opens one value by hand, and writes it: the pass closes it again before writing.
        zk.set_acls(f"{ROOT}/cm/a", OPEN_ACL_UNSAFE)
        changes = sync(zk, {"cm/a": b"2"}, acl=admin_only)
        assert [(c.kind, c.path) for c in changes] == [("acl", "cm/a"), ("set", "cm/a")]
        assert refused(lambda: anonymous.get(f"{ROOT}/cm/a"))

        # worldReadable: an anonymous client reads (and still cannot write).
        sync(zk, {"cm/a": b"2", "cm/b": b"new"}, acl=world)
        assert anonymous.get(f"{ROOT}/cm/a")[0] == b"2"
        assert anonymous.get(f"{ROOT}/cm/b")[0] == b"new"
        assert refused(lambda: anonymous.set(f"{ROOT}/cm/a", b"x"))
        acl, _ = zk.get_acls(f"{ROOT}/cm/b")
        assert {(a.id.scheme, a.perms) for a in acl} == {
            ("digest", Permissions.ALL),
            ("world", Permissions.READ),
        }
        assert admin_acl(zk.password) in acl
    finally:
        anonymous.stop()
        anonymous.close()
