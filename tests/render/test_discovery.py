"""Discovery ConfigMaps and an application's credentials Secret: the contract applications read."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import kubernetes_validate
import pytest

from tests.render.cases import CASES
from zkop.api.validation import parse_cluster
from zkop.api.znode import parse_znode
from zkop.render import render
from zkop.render.discovery import cluster_discovery
from zkop.render.names import ClusterNames, RenderOptions
from zkop.render.znode import AppCredential, app_discovery, app_secret
from zkop.zookeeper.membership import Member, Membership

KUBERNETES_VERSION = "1.33.0"
UID = "3f2a9c1e-1111-4222-8333-444455556666"


def znode(policy: str = "Retain") -> Any:
    return parse_znode(
        {
            "metadata": {"name": "orders", "namespace": "shop", "uid": UID},
            "spec": {"clusterRef": {"name": "zk", "namespace": "kafka"}, "deletionPolicy": policy},
        }
    )


def test_the_cluster_discovery_config_map_lists_every_member_without_a_chroot() -> None:
    cluster = parse_cluster(CASES["minimal"])
    names = ClusterNames.of(cluster, RenderOptions())
    membership = Membership((Member(1, "a"), Member(2, "b"), Member(4, "c")), 0x100000000)
    config_map = cluster_discovery(cluster, names, membership)
    hosts = ",".join(f"zk-{i}.zk-headless.default.svc.cluster.local:2281" for i in (0, 1, 3))
    assert config_map["metadata"]["name"] == "zk-zookeeper"
    assert config_map["data"] == {
        "ZOOKEEPER": hosts,
        "ZOOKEEPER_HOSTS": hosts,
        "ZOOKEEPER_CLIENT_PORT": "2281",
        "ZOOKEEPER_TLS": "true",
        "ZOOKEEPER_CLIENT_AUTH": "mtls",
        "ZOOKEEPER_TLS_SECRET": "zk-client-tls",
    }
    kubernetes_validate.validate(config_map, KUBERNETES_VERSION, strict=True)


def test_render_includes_the_discovery_config_map_owned_by_the_cluster() -> None:
    rendered = render(parse_cluster(CASES["single-member"]))
    found = [
        o for o in rendered.objects if o["metadata"]["name"] == "solo-zookeeper" and o["kind"] == "ConfigMap"
    ]
    assert len(found) == 1
    assert found[0]["metadata"]["ownerReferences"][0]["kind"] == "ZookeeperCluster"
    assert found[0]["data"]["ZOOKEEPER"] == "solo-0.solo-headless.dev.svc.cluster.local:2281"


def test_the_subtree_discovery_config_map_appends_the_chroot_and_names_the_secret() -> None:
    hosts = "zk-0.zk-headless.kafka.svc.cluster.local:2181,zk-1.zk-headless.kafka.svc.cluster.local:2181"
    client = {"ZOOKEEPER_CLIENT_PORT": "2181", "ZOOKEEPER_TLS": "false"}
    config_map = app_discovery(znode(), hosts, "/apps/shop/orders-3f2a9c1e", client)
    assert config_map["metadata"]["name"] == "orders-zookeeper"
    assert config_map["metadata"]["namespace"] == "shop"
    assert config_map["data"] == {
        "ZOOKEEPER": hosts + "/apps/shop/orders-3f2a9c1e",
        "ZOOKEEPER_HOSTS": hosts,
        "ZOOKEEPER_CHROOT": "/apps/shop/orders-3f2a9c1e",
        "ZOOKEEPER_CLIENT_PORT": "2181",
        "ZOOKEEPER_TLS": "false",
        "ZOOKEEPER_SECRET": "orders-zookeeper",
    }
    assert config_map["metadata"]["ownerReferences"][0]["uid"] == UID
    kubernetes_validate.validate(config_map, KUBERNETES_VERSION, strict=True)


def decoded(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_the_secret_carries_a_ready_to_use_digest_credential() -> None:
    credential = AppCredential.for_znode(znode(), "pw-123")
    secret = app_secret(znode(), credential)
    assert decoded(secret) == {
        "username": "shop.orders",
        "password": "pw-123",
        "ZOOKEEPER_AUTH": "digest:shop.orders:pw-123",
    }
    kubernetes_validate.validate(secret, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize(("policy", "owned"), [("Retain", False), ("Delete", True)])
def test_the_secret_outlives_the_object_only_when_its_data_does(policy: str, owned: bool) -> None:
    secret = app_secret(znode(policy), AppCredential.for_znode(znode(policy), "pw"))
    assert ("ownerReferences" in secret["metadata"]) is owned


def test_the_password_never_shows_in_a_representation() -> None:
    credential = AppCredential("shop.orders", "very-secret")
    assert "very-secret" not in repr(credential) and "very-secret" not in str(credential)


def test_the_app_acl_is_a_digest_of_its_own_identity() -> None:
    acl = AppCredential("shop.orders", "pw").acl(all=True)
    digest = base64.b64encode(hashlib.sha1(b"shop.orders:pw").digest()).decode()
    assert (acl.id.scheme, acl.id.id) == ("digest", f"shop.orders:{digest}")
    assert acl.perms == 31  # READ | WRITE | CREATE | DELETE | ADMIN
