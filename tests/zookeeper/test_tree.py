"""Application subtrees on a real ensemble: ACLs that hold, quota nodes the server tracks, deletion."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError, NoNodeError
from kazoo.security import OPEN_ACL_UNSAFE, make_digest_acl

from tests.support.ensemble import LocalEnsemble, formed, wait_for
from zkop.render.identity import SUPERUSER
from zkop.render.znode import AppCredential
from zkop.zookeeper.quota import QuotaLimits, Usage, limits_node, quota_node, stats_node
from zkop.zookeeper.tree import (
    QuotaConflict,
    delete_subtree,
    ensure_quota,
    ensure_subtree,
    read_usage,
    remove_quota,
)

pytestmark = pytest.mark.zookeeper

ORDERS = AppCredential("shop.orders", "orders-password")
BILLING = AppCredential("shop.billing", "billing-password")


def connect(ensemble: LocalEnsemble, auth: list[tuple[str, str]] | None, chroot: str = "") -> KazooClient:
    hosts = ",".join(f"{a}:2181" for a in ensemble.addresses().values()) + chroot
    client = KazooClient(hosts=hosts, auth_data=auth, timeout=10)
    client.start(timeout=20)
    return client


@pytest.fixture
def admin(ensemble: LocalEnsemble) -> Iterator[KazooClient]:
    wait_for(lambda: formed(ensemble), timeout=60, what="a formed ensemble")
    client = connect(ensemble, ensemble.credential.auth_data())
    try:
        yield client
    finally:
        client.stop()
        client.close()


def admin_acl(ensemble: LocalEnsemble) -> list[object]:
    return [make_digest_acl(SUPERUSER, ensemble.password, all=True)]


def test_an_app_owns_its_subtree_and_nothing_else(ensemble: LocalEnsemble, admin: KazooClient) -> None:
    assert ensure_subtree(admin, "/apps/shop/orders-1", [ORDERS.acl(all=True)], admin_acl(ensemble))
    assert ensure_subtree(admin, "/apps/shop/billing-2", [BILLING.acl(all=True)], admin_acl(ensemble))
    assert not ensure_subtree(admin, "/apps/shop/orders-1", [ORDERS.acl(all=True)], admin_acl(ensemble))

    app = connect(ensemble, ORDERS.auth_data(), chroot="/apps/shop/orders-1")
    try:
        # Inside its chroot it creates, reads, writes and deletes, although /apps is closed to it.
        app.create("/config/db", b"v1", makepath=True)
        app.set("/config/db", b"v2")
        assert app.get("/config/db")[0] == b"v2"
        assert app.get_children("/") == ["config"]
        app.delete("/config", recursive=True)
    finally:
        app.stop()
        app.close()

    app = connect(ensemble, ORDERS.auth_data())
    try:
        assert app.get("/apps/shop/orders-1")[0] == b""  # full path, no right on any ancestor needed
        for refused in (
            lambda: app.get_children("/apps"),
            lambda: app.create("/apps/intruder"),
            lambda: app.get_children("/apps/shop"),
            lambda: app.create("/apps/shop/orders-2"),
            lambda: app.get("/apps/shop/billing-2"),
            lambda: app.create("/apps/shop/billing-2/x"),
            lambda: app.set("/apps/shop/billing-2", b"taken"),
            lambda: app.delete("/apps/shop/billing-2"),
        ):
            with pytest.raises(NoAuthError):
                refused()
    finally:
        app.stop()
        app.close()

    anonymous = connect(ensemble, None)
    try:
        with pytest.raises(NoAuthError):
            anonymous.get("/apps/shop/orders-1")
        with pytest.raises(NoAuthError):
            anonymous.create("/apps/shop/orders-1/x")
    finally:
        anonymous.stop()
        anonymous.close()


def test_an_existing_root_gets_the_app_added_and_keeps_other_entries(
    ensemble: LocalEnsemble, admin: KazooClient
) -> None:
    reader = make_digest_acl("shop.reporting", "r", read=True)
    admin.create("/legacy", b"", acl=OPEN_ACL_UNSAFE)
    admin.create("/legacy/orders", b"old", acl=[reader, *admin_acl(ensemble)])
    assert not ensure_subtree(admin, "/legacy/orders", [ORDERS.acl(all=True)], admin_acl(ensemble))
    acls, _ = admin.get_acls("/legacy/orders")
    assert reader in acls and ORDERS.acl(all=True) in acls
    assert admin.get_acls("/legacy")[0] == OPEN_ACL_UNSAFE  # an ancestor zkop did not create is left alone


def test_quota_nodes_are_written_like_setquota_and_the_server_tracks_usage(
    ensemble: LocalEnsemble, admin: KazooClient
) -> None:
    path = "/apps/shop/orders-1"
    ensure_subtree(admin, path, [ORDERS.acl(all=True)], admin_acl(ensemble))
    admin.create(f"{path}/before", b"12345")
    limits = QuotaLimits(count=10, bytes=1000)
    # The existing subtree is counted when the stats node appears: root + one child, 5 bytes.
    assert ensure_quota(admin, path, limits, admin_acl(ensemble), [ORDERS.acl(read=True)]) == Usage(2, 5)
    assert admin.get(limits_node(path))[0] == b"count=10,bytes=1000"

    app = connect(ensemble, ORDERS.auth_data(), chroot=path)
    try:
        app.create("/a", b"abc")
        app.create("/b", b"")
    finally:
        app.stop()
        app.close()
    assert wait_for(lambda: read_usage(admin, path) == Usage(4, 8), what="usage 4 znodes, 8 bytes")

    owner = connect(ensemble, ORDERS.auth_data())
    try:  # the app may read its own usage, and cannot change its limits
        assert Usage.parse(owner.get(stats_node(path))[0].decode()) == Usage(4, 8)
        with pytest.raises(NoAuthError):
            owner.set(limits_node(path), b"count=-1,bytes=-1")
    finally:
        owner.stop()
        owner.close()

    # Changing the limits rewrites the node in place; enforcing adds the hard limits.
    stricter = QuotaLimits(count=5, bytes=100, hard=True)
    ensure_quota(admin, path, stricter, admin_acl(ensemble), [ORDERS.acl(read=True)])
    assert stricter.same_as(admin.get(limits_node(path))[0].decode())

    # A quota on an ancestor would make this one nested: ZooKeeper does not support that.
    ensure_subtree(admin, "/apps/shop/billing-2", [BILLING.acl(all=True)], admin_acl(ensemble))
    ensure_quota(admin, "/apps/shop/billing-2", limits, admin_acl(ensemble), [])
    with pytest.raises(QuotaConflict):
        ensure_quota(admin, "/apps/shop", limits, admin_acl(ensemble), [])

    assert remove_quota(admin, path)
    assert admin.exists(quota_node(path)) is None
    assert read_usage(admin, path) is None


def test_a_subtree_is_deleted_recursively_and_only_it(ensemble: LocalEnsemble, admin: KazooClient) -> None:
    path = "/apps/shop/orders-1"
    ensure_subtree(admin, path, [ORDERS.acl(all=True)], admin_acl(ensemble))
    ensure_subtree(admin, "/apps/shop/billing-2", [BILLING.acl(all=True)], admin_acl(ensemble))
    app = connect(ensemble, ORDERS.auth_data(), chroot=path)
    try:
        # Nodes the app locks against everyone but itself: only zkop's superuser can still delete them.
        for i in range(30):
            app.create(f"/deep/n{i}/leaf", b"x", makepath=True, acl=[ORDERS.acl(all=True)])
    finally:
        app.stop()
        app.close()
    assert delete_subtree(admin, path)
    with pytest.raises(NoNodeError):
        admin.get(path)
    assert admin.exists("/apps/shop/billing-2") is not None
    assert not delete_subtree(admin, path)
