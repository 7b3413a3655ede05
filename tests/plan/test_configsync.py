"""What a config sync wants under its path: values as bytes, refusals reported, never truncated."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from kazoo.security import ACL, Permissions, make_digest_acl

from zkop.api.configsync import ZookeeperConfigSyncSpec
from zkop.api.znode import parse_znode
from zkop.plan.configsync import (
    WORLD_READ,
    Problem,
    ReaderObjects,
    admin_acl,
    desired_znodes,
    reader_grant,
    reader_secret_name,
    sync_acl,
)
from zkop.plan.znodes import same_acl
from zkop.render.znode import AppCredential, app_secret, object_name


def spec(**fields: Any) -> ZookeeperConfigSyncSpec:
    return ZookeeperConfigSyncSpec.model_validate(
        {"clusterRef": {"name": "zk"}, "path": "/config/app", **fields}
    )


def config_map(name: str, data: dict[str, str], binary: dict[str, bytes] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"name": name}, "data": data}
    if binary:
        body["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
    return body


def secret(name: str, data: dict[str, bytes], opted_in: bool) -> dict[str, Any]:
    annotations = {"zkop.io/sync": "true"} if opted_in else {}
    return {
        "metadata": {"name": name, "annotations": annotations},
        "data": {k: base64.b64encode(v).decode() for k, v in data.items()},
    }


def test_every_key_of_a_config_map_and_its_binary_data_become_znodes() -> None:
    desired = desired_znodes(
        spec(configMaps=[{"name": "app"}]),
        {"app": config_map("app", {"a.properties": "x=1"}, {"blob": b"\x00\xff"})},
        {},
    )
    assert desired.znodes == {"app/a.properties": b"x=1", "app/blob": b"\x00\xff"}
    assert desired.keys == 2 and desired.problems == []


def test_only_the_listed_keys_are_mirrored_and_a_missing_one_is_reported() -> None:
    desired = desired_znodes(
        spec(configMaps=[{"name": "app", "keys": ["a", "zz"]}]),
        {"app": config_map("app", {"a": "1", "b": "2"})},
        {},
    )
    assert desired.znodes == {"app/a": b"1"}
    assert [p.reason for p in desired.problems] == ["KeyNotFound"]


def test_a_too_large_value_is_left_out_kept_and_reported_with_its_size() -> None:
    desired = desired_znodes(
        spec(configMaps=[{"name": "app"}], maxValueBytes=10),
        {"app": config_map("app", {"small": "ok", "big": "y" * 11})},
        {},
    )
    assert desired.znodes == {"app/small": b"ok"}
    assert desired.keep == {"app/big"}
    (problem,) = desired.problems
    assert problem.reason == "ValueTooLarge"
    assert "ConfigMap app" in problem.message and "'big'" in problem.message and "11 bytes" in problem.message


def test_a_secret_is_mirrored_only_when_annotated() -> None:
    both = spec(secrets=[{"name": "in"}, {"name": "out"}])
    desired = desired_znodes(
        both, {}, {"in": secret("in", {"k": b"v"}, True), "out": secret("out", {"k": b"v"}, False)}
    )
    assert desired.znodes == {"in/k": b"v"}
    assert [p.reason for p in desired.problems] == ["SecretNotOptedIn"]


def test_a_missing_source_is_reported_and_wants_nothing() -> None:
    desired = desired_znodes(spec(configMaps=[{"name": "gone"}]), {"gone": None}, {})
    assert desired.znodes == {} and [p.reason for p in desired.problems] == ["SourceNotFound"]


def test_cluster_state_is_stable_json_without_heartbeats() -> None:
    node = {
        "metadata": {"name": "n1"},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-01-01T00:00:00Z"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
        },
    }
    later = json.loads(json.dumps(node))
    later["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-01-01T00:01:00Z"
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "status": {"phase": "Running", "podIP": "10.1.0.5"}}
    first = desired_znodes(spec(), {}, {}, [node], [pod])
    assert first.znodes == desired_znodes(spec(), {}, {}, [later], [pod]).znodes
    assert json.loads(first.znodes["k8s/nodes/n1"]) == {
        "name": "n1",
        "ready": True,
        "unschedulable": False,
        "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
    }
    assert json.loads(first.znodes["k8s/pods/ns/p"])["phase"] == "Running"
    assert first.keys == 0


# -- ACLs ----------------------------------------------------------------------------------------------


def digest_id(username: str, password: str) -> str:
    """ZooKeeper's digest ACL id, computed independently of kazoo: user:base64(sha1(user:password))."""
    hashed = base64.b64encode(hashlib.sha1(f"{username}:{password}".encode()).digest()).decode()
    return f"{username}:{hashed}"


def reader_objects(name: str, password: str = "pw", namespace: str = "default") -> ReaderObjects:
    """A ZookeeperZnode and the credentials Secret zkop generated for it."""
    body = {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperZnode",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
        "spec": {"clusterRef": {"name": "zk"}},
    }
    znode = parse_znode(body)
    return body, app_secret(znode, AppCredential.for_znode(znode, password))


def test_the_reader_secret_is_the_one_zkop_generates_for_the_znode() -> None:
    body, _ = reader_objects("orders")
    assert reader_secret_name("orders") == object_name(parse_znode(dict(body or {})))


def test_a_reader_gets_read_for_its_digest_identity_and_nothing_more() -> None:
    grant = reader_grant("orders", reader_objects("orders", password="s3cret"))
    assert isinstance(grant, ACL)
    assert grant.perms == Permissions.READ
    assert (grant.id.scheme, grant.id.id) == ("digest", digest_id("default.orders", "s3cret"))


def test_a_reader_that_cannot_be_resolved_is_reported_by_name() -> None:
    body, secret = reader_objects("orders")
    assert secret is not None
    foreign = {**secret, "metadata": {**secret["metadata"], "labels": {}}}
    empty = {**secret, "data": {}}
    cases = {
        "ReaderNotFound: ZookeeperZnode orders not found": (None, None),
        "ReaderNotFound: Secret orders-zookeeper": (body, None),
        "ReaderInvalid: not made by zkop": (body, foreign),
        "ReaderInvalid: no username or password": (body, empty),
    }
    for expected, objects in cases.items():
        problem = reader_grant("orders", objects)
        assert isinstance(problem, Problem), expected
        reason, words = expected.split(": ", 1)
        assert problem.reason == reason
        assert "spec.readers" in problem.message and "orders" in problem.message
        assert words.split()[-1] in problem.message, (expected, problem.message)


def test_by_default_only_zkop_can_read_world_only_on_request() -> None:
    assert desired_znodes(spec(configMaps=[{"name": "a"}]), {"a": None}, {}).grants == []
    assert desired_znodes(spec(worldReadable=True), {}, {}).grants == [WORLD_READ]
    acl = sync_acl("admin-pw", [])
    assert acl == [make_digest_acl("super", "admin-pw", all=True)]
    assert acl[0].id.id == digest_id("super", "admin-pw") and acl[0].perms == Permissions.ALL


def test_a_missing_reader_is_reported_and_the_others_are_still_granted() -> None:
    desired = desired_znodes(
        spec(readers=[{"znode": "gone"}, {"znode": "orders"}], secrets=[{"name": "creds"}]),
        {},
        {"creds": secret("creds", {"token": b"t"}, True)},
        readers={"orders": reader_objects("orders", password="p")},
    )
    assert desired.znodes == {"creds/token": b"t"}
    assert [p.reason for p in desired.problems] == ["ReaderNotFound"]
    assert "gone" in desired.problems[0].message
    assert desired.readers == ["orders"]
    assert [(g.id.id, g.perms) for g in desired.grants] == [(digest_id("default.orders", "p"), 1)]
    assert WORLD_READ not in desired.grants


credentials = st.lists(
    st.tuples(
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz.-", min_size=1, max_size=12),
        st.text(min_size=1, max_size=20).filter(lambda p: "\x00" not in p),
    ),
    max_size=6,
)


@given(credentials, st.booleans(), st.randoms(use_true_random=False))
def test_the_sync_acl_is_admin_with_all_plus_read_grants_only_in_any_order(
    readers: list[tuple[str, str]], world: bool, random: Any
) -> None:
    grants = [make_digest_acl(u, p, read=True) for u, p in readers] + ([WORLD_READ] if world else [])
    acl = sync_acl("admin-pw", grants)
    # zkop's admin identity first, with every permission, exactly once.
    assert acl[0] == admin_acl("admin-pw") and acl[0].perms == Permissions.ALL
    assert [a for a in acl if a.id == acl[0].id] == [acl[0]]
    # Everyone else reads, nothing more; each granted identity is there, nobody else is.
    assert all(a.perms == Permissions.READ for a in acl[1:])
    assert {(a.id.scheme, a.id.id) for a in acl[1:]} == {(g.id.scheme, g.id.id) for g in grants}
    assert any(a.id.scheme == "world" for a in acl) == world
    assert {a.id.id for a in acl[1:] if a.id.scheme == "digest"} == {digest_id(u, p) for u, p in readers}
    # The order of the grants never matters (no ACL rewrite because a list was reordered).
    shuffled = list(grants)
    random.shuffle(shuffled)
    assert sync_acl("admin-pw", shuffled) == acl
    assert same_acl(list(reversed(acl)), acl)


@given(credentials, credentials)
def test_acls_differ_exactly_when_the_granted_identities_differ(
    first: list[tuple[str, str]], second: list[tuple[str, str]]
) -> None:
    a = sync_acl("pw", [make_digest_acl(u, p, read=True) for u, p in first])
    b = sync_acl("pw", [make_digest_acl(u, p, read=True) for u, p in second])
    assert same_acl(a, b) == ({digest_id(u, p) for u, p in first} == {digest_id(u, p) for u, p in second})
    # More rights than asked for is a difference too (e.g. a reader given WRITE by hand).
    if first:
        widened = [a[0], *[ACL(Permissions.READ | Permissions.WRITE, e.id) for e in a[1:]]]
        assert not same_acl(widened, a)
