"""The desired-vs-owned znode diff: applying the plan gives exactly the desired tree, and nothing more."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from kazoo.protocol.serialization import Create
from kazoo.security import make_acl, make_digest_acl

from zkop.plan.znodes import ZnodeChange, acl_size, apply_changes, batches, diff_znodes, with_parents

names = st.sampled_from(["a", "b", "c", "k8s", "nodes", "x.y"])
paths = st.lists(names, min_size=1, max_size=4).map("/".join)
trees = st.dictionaries(paths, st.binary(max_size=8), max_size=12).map(with_parents)


@settings(max_examples=300)
@given(desired=st.dictionaries(paths, st.binary(max_size=8), max_size=12), existing=trees)
def test_applying_the_diff_gives_exactly_the_desired_tree(
    desired: dict[str, bytes], existing: dict[str, bytes]
) -> None:
    changes = diff_znodes(desired, existing)
    assert apply_changes(existing, changes) == with_parents(desired)  # also checks ZooKeeper's order rules


@settings(max_examples=200)
@given(desired=st.dictionaries(paths, st.binary(max_size=8), max_size=12), existing=trees)
def test_a_second_diff_after_applying_is_empty(desired: dict[str, bytes], existing: dict[str, bytes]) -> None:
    after = apply_changes(existing, diff_znodes(desired, existing))
    assert diff_znodes(desired, after) == []


@settings(max_examples=200)
@given(desired=st.dictionaries(paths, st.binary(max_size=8), max_size=12), existing=trees, data=st.data())
def test_kept_paths_and_their_ancestors_are_never_touched(
    desired: dict[str, bytes], existing: dict[str, bytes], data: st.DataObject
) -> None:
    keep = set(data.draw(st.lists(st.sampled_from(sorted(existing)), max_size=3))) if existing else set()
    changes = diff_znodes(desired, existing, keep=keep)
    touched = {c.path for c in changes}
    for path in keep:
        assert path not in touched
        assert not any(path.startswith(c.path + "/") for c in changes if c.kind == "delete")
    after = apply_changes(existing, changes)
    assert all(after[p] == existing[p] for p in keep)


def test_only_changed_values_are_written() -> None:
    existing = {"cm": b"", "cm/a": b"1", "cm/b": b"2"}
    assert diff_znodes({"cm/a": b"1", "cm/b": b"3"}, existing) == [ZnodeChange("set", "cm/b", b"3")]


def test_a_removed_source_is_reaped_children_first() -> None:
    existing = {"cm": b"", "cm/a": b"1", "old": b"", "old/x": b"", "old/x/y": b"z"}
    changes = diff_znodes({"cm/a": b"1"}, existing)
    assert [(c.kind, c.path) for c in changes] == [
        ("delete", "old/x/y"),
        ("delete", "old/x"),
        ("delete", "old"),
    ]


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=500), max_size=30),
    budget=st.integers(min_value=200, max_value=2000),
)
def test_batches_keep_order_and_stay_within_the_budget(sizes: list[int], budget: int) -> None:
    changes = [ZnodeChange("create", f"n{i}", b"x" * size) for i, size in enumerate(sizes)]
    groups = batches(changes, budget)
    assert [c for g in groups for c in g] == changes
    for group in groups:
        assert len(group) == 1 or sum(c.size for c in group) <= budget


def test_the_acl_a_create_carries_is_counted_as_it_goes_on_the_wire() -> None:
    acl = [
        make_digest_acl("super", "pw", all=True),
        make_digest_acl("default.orders", "secret", read=True),
        make_acl("world", "anyone", read=True),
    ]
    on_the_wire = len(Create("/a/b", b"v", acl, 0).serialize()) - len(Create("/a/b", b"v", [], 0).serialize())
    assert acl_size(acl) - acl_size([]) == on_the_wire
    creates = [ZnodeChange("create", f"n{i}", b"x" * 100) for i in range(10)]
    sets = [ZnodeChange("set", f"n{i}", b"x" * 100) for i in range(10)]
    budget = 10 * creates[0].size
    assert len(batches(creates, budget)) == 1
    # With the ACL counted, the same creates need more transactions; sets carry no ACL.
    assert len(batches(creates, budget, create_overhead=acl_size(acl))) == 2
    assert len(batches(sets, budget, create_overhead=acl_size(acl))) == 1
