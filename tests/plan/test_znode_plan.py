"""ZookeeperZnode decisions: the subtree path, who may use a cluster, the quota, the status."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkop.api.validation import InvalidSpec
from zkop.api.znode import ZnodeQuota, parse_znode, path_problem
from zkop.plan.status import Verdict
from zkop.plan.znode import namespace_allowed, quota_limits, ready_verdict, subtree_path, znode_status
from zkop.render.znode import derived_path
from zkop.zookeeper.quota import UNLIMITED, QuotaLimits, Usage

# Kubernetes names: a namespace is a DNS label, an object name a DNS subdomain.
label = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?\Z")
subdomain = st.builds(lambda parts: ".".join(parts), st.lists(label, min_size=1, max_size=3))
uids = st.uuids().map(str)


def znode(spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None, **meta: str) -> Any:
    metadata = {"name": "orders", "namespace": "shop", "uid": "3f2a9c1e-1111-4222-8333-444455556666", **meta}
    body: dict[str, Any] = {"metadata": metadata, "spec": {"clusterRef": {"name": "zk"}, **(spec or {})}}
    if status is not None:
        body["status"] = status
    return parse_znode(body)


def test_a_derived_path_names_the_namespace_the_object_and_its_uid() -> None:
    assert subtree_path(znode()) == "/apps/shop/orders-3f2a9c1e"


@given(label, subdomain, uids)
def test_derived_paths_are_valid_subtree_roots(namespace: str, name: str, uid: str) -> None:
    path = derived_path(namespace, name, uid)
    assert path_problem(path) is None
    assert path.startswith(f"/apps/{namespace}/{name}-")


@given(label, subdomain, uids, uids)
def test_a_recreated_object_gets_a_different_subtree(namespace: str, name: str, a: str, b: str) -> None:
    if a.split("-")[0] != b.split("-")[0]:
        assert derived_path(namespace, name, a) != derived_path(namespace, name, b)


def test_an_object_without_a_uid_has_no_path_yet() -> None:
    with pytest.raises(ValueError):
        derived_path("shop", "orders", "")


def test_the_recorded_path_wins_over_a_later_derivation() -> None:
    recorded = znode(status={"path": "/apps/shop/orders-00000000"})
    assert subtree_path(recorded) == "/apps/shop/orders-00000000"


def test_an_administrator_path_is_used_as_given() -> None:
    assert subtree_path(znode({"path": "/legacy/orders"})) == "/legacy/orders"


def test_a_subtree_never_moves_to_another_spec_path() -> None:
    moved = znode({"path": "/elsewhere"}, status={"path": "/apps/shop/orders-3f2a9c1e"})
    with pytest.raises(InvalidSpec) as refused:
        subtree_path(moved)
    assert refused.value.errors[0].field == "spec.path"
    assert "/apps/shop/orders-3f2a9c1e" in str(refused.value)


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("relative", "absolute"),
        ("/", "root"),
        ("/a/", "end with"),
        ("/a//b", "empty"),
        ("/a/../b", "'..'"),
        ("/zookeeper", "system"),
        ("/zookeeper/quota/x", "system"),
        ("/a\x01b", "character"),
    ],
)
def test_paths_that_cannot_be_a_subtree_are_refused_naming_the_field(path: str, why: str) -> None:
    with pytest.raises(InvalidSpec) as refused:
        znode({"path": path})
    assert refused.value.errors[0].field == "spec.path"
    assert why in str(refused.value)


def test_unknown_fields_and_a_missing_cluster_ref_are_named() -> None:
    with pytest.raises(InvalidSpec) as refused:
        parse_znode({"metadata": {"name": "a"}, "spec": {"clusterref": {"name": "zk"}}})
    fields = {e.field for e in refused.value.errors}
    assert fields == {"spec.clusterRef", "spec.clusterref"}


def test_deletion_policy_defaults_to_retain() -> None:
    assert znode().spec.deletion_policy == "Retain"


@pytest.mark.parametrize(
    ("annotation", "allowed"),
    [(None, False), ("", False), ("other", False), ("other, shop", True), ("*", True), ("shopping", False)],
)
def test_another_namespace_needs_the_clusters_permission(annotation: str | None, allowed: bool) -> None:
    annotations = {} if annotation is None else {"zkop.io/allowed-namespaces": annotation}
    assert namespace_allowed("kafka", annotations, "shop") is allowed


def test_a_cluster_always_serves_its_own_namespace() -> None:
    assert namespace_allowed("kafka", None, "kafka")


def test_a_quota_without_limits_is_no_quota() -> None:
    assert quota_limits(None) is None
    assert quota_limits(ZnodeQuota()) is None
    assert quota_limits(ZnodeQuota(count=10)) == QuotaLimits(count=10, bytes=UNLIMITED)
    assert quota_limits(ZnodeQuota(bytes=0, enforce=True)) == QuotaLimits(UNLIMITED, 0, hard=True)


def test_ready_says_where_and_flags_an_exceeded_quota() -> None:
    fine = ready_verdict("/p", "ns/zk", "s", "c", Usage(1, 0), QuotaLimits(count=5))
    assert (fine.status, fine.reason) == ("True", "SubtreeReady")
    over = ready_verdict("/p", "ns/zk", "s", "c", Usage(6, 0), QuotaLimits(count=5))
    assert (over.status, over.reason) == ("True", "QuotaExceeded")
    assert "6 znodes > 5" in over.message


def test_a_failed_pass_keeps_what_was_known_and_a_successful_one_drops_a_removed_quota() -> None:
    ready = Verdict("True", "SubtreeReady", "ok")
    first = znode_status(None, 1, ready, "t0", path="/p", usage=Usage(2, 3), usage_known=True)
    assert first.usage is not None and first.usage.count == 2
    failed = znode_status(first, 1, Verdict("False", "ClusterNotReady", "down"), "t1")
    assert failed.path == "/p" and failed.usage == first.usage
    assert failed.conditions[0].last_transition_time == "t1"
    without_quota = znode_status(failed, 2, ready, "t2", path="/p", usage=None, usage_known=True)
    assert without_quota.usage is None
    assert without_quota.conditions[0].observed_generation == 2
