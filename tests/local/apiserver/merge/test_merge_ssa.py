"""Server-side apply and managedFields: documentation examples, list types, status, properties."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from zkop_local.apiserver.merge.ssa import (
    ApplyConflict,
    InvalidApply,
    apply,
    field_sets,
    fields_v1_to_paths,
    path_string,
    paths_to_fields_v1,
    record_update,
)

CM = ("", "v1", "ConfigMap")
DEPLOY = ("apps", "v1", "Deployment")
POD = ("", "v1", "Pod")
T0, T1, T2, T3 = (f"2026-11-22T00:0{i}:00Z" for i in range(4))
REPO = Path(__file__).resolve().parents[4]


def cm(data: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "test-cm", "namespace": "default"},
    }
    if labels is not None:
        obj["metadata"]["labels"] = labels
    if data is not None:
        obj["data"] = data
    return obj


def apply_cm(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str = "kubectl",
    force: bool = False,
    now: str = T0,
) -> dict[str, Any]:
    return apply(live, config, manager=manager, force=force, gvk=CM, schema=None, now=now)


def entries(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


def nginx(replicas: int | None = 3, image: str = "nginx:1.14.2") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": {
            "metadata": {"labels": {"app": "nginx"}},
            "spec": {"containers": [{"name": "nginx", "image": image, "ports": [{"containerPort": 80}]}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx-deployment"},
        "spec": spec,
    }


# ------------------------------------------------------------------ documentation examples
# https://kubernetes.io/docs/reference/using-api/server-side-apply/


def test_doc_managed_fields_example() -> None:
    obj = apply_cm(None, cm({"key": "some value"}, {"test-label": "test"}), now="2010-10-10T00:00:00Z")
    assert obj["data"] == {"key": "some value"}
    assert obj["metadata"]["managedFields"] == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": "2010-10-10T00:00:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:key": {}}, "f:metadata": {"f:labels": {"f:test-label": {}}}},
        }
    ]


def test_doc_conflict_with_an_updater_and_forced_transfer() -> None:
    live = apply(None, nginx(), manager="kubectl", force=False, gvk=DEPLOY, schema=None, now=T0)
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    scaled = record_update(live, scaled, manager="kube-controller-manager", gvk=DEPLOY, schema=None, now=T1)
    with pytest.raises(ApplyConflict) as caught:
        apply(scaled, nginx(), manager="kubectl", force=False, gvk=DEPLOY, schema=None, now=T2)
    assert caught.value.conflicts == [("kube-controller-manager", ".spec.replicas")]
    assert caught.value.message == (
        'Apply failed with 1 conflict: conflict with "kube-controller-manager" using apps/v1 at '
        f"{T1}: .spec.replicas"
    )
    assert caught.value.causes == [
        {
            "reason": "FieldManagerConflict",
            "field": ".spec.replicas",
            "message": f'conflict with "kube-controller-manager" using apps/v1 at {T1}',
        }
    ]
    forced = apply(scaled, nginx(), manager="kubectl", force=True, gvk=DEPLOY, schema=None, now=T2)
    assert forced["spec"]["replicas"] == 3
    assert entries(forced) == [("kubectl", "Apply")]  # the updater lost its only field


def test_doc_transfer_ownership_by_applying_the_same_value() -> None:
    live = apply(None, nginx(), manager="kubectl", force=False, gvk=DEPLOY, schema=None, now=T0)
    handover = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "nginx-deployment"},
        "spec": {"replicas": 3},
    }
    shared = apply(live, handover, manager="handover-to-hpa", force=False, gvk=DEPLOY, schema=None, now=T1)
    sets = field_sets(shared)
    assert ("f:spec", "f:replicas") in sets[("handover-to-hpa", "Apply", "")]
    assert ("f:spec", "f:replicas") in sets[("kubectl", "Apply", "")]
    # kubectl stops applying replicas: the field stays (hpa owns it), kubectl's ownership goes.
    released = apply(
        shared, nginx(replicas=None), manager="kubectl", force=False, gvk=DEPLOY, schema=None, now=T2
    )
    assert released["spec"]["replicas"] == 3
    sets = field_sets(released)
    assert ("f:spec", "f:replicas") not in sets[("kubectl", "Apply", "")]
    assert ("f:spec", "f:replicas") in sets[("handover-to-hpa", "Apply", "")]


def test_doc_field_removal_when_no_one_else_owns_it() -> None:
    live = apply_cm(None, cm({"a": "1", "b": "2"}, {"x": "y"}))
    pruned = apply_cm(live, cm({"a": "1"}), now=T1)
    assert pruned["data"] == {"a": "1"}
    assert "labels" not in pruned["metadata"]
    assert fields_v1_to_paths(pruned["metadata"]["managedFields"][0]["fieldsV1"]) == {("f:data", "f:a")}


def test_field_owned_by_an_updater_is_not_removed() -> None:
    live = apply_cm(None, cm({"a": "1", "b": "2"}))
    edited = copy.deepcopy(live)
    edited["data"]["b"] = "changed"
    edited = record_update(live, edited, manager="kubectl-edit", gvk=CM, schema=None, now=T1)
    assert field_sets(edited)[("kubectl-edit", "Update", "")] == {("f:data", "f:b")}
    assert field_sets(edited)[("kubectl", "Apply", "")] == {("f:data", "f:a")}
    after = apply_cm(edited, cm({"a": "1"}), now=T2)
    assert after["data"] == {"a": "1", "b": "changed"}


# ------------------------------------------------------------------ list and map types


def test_containers_are_a_map_list_and_ports_keys_default_protocol() -> None:
    obj = apply(None, nginx(), manager="kubectl", force=False, gvk=DEPLOY, schema=None, now=T0)
    fields = obj["metadata"]["managedFields"][0]["fieldsV1"]
    containers = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
    assert containers == {
        'k:{"name":"nginx"}': {
            ".": {},
            "f:image": {},
            "f:name": {},
            "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
        }
    }
    assert fields["f:spec"]["f:selector"] == {}  # LabelSelector is an atomic map


def test_two_appliers_share_a_map_list_and_prune_only_their_items() -> None:
    base = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    a = {**base, "spec": {"containers": [{"name": "a", "image": "x"}]}}
    b = {**base, "spec": {"containers": [{"name": "b", "image": "y"}]}}
    live = apply(None, a, manager="A", force=False, gvk=POD, schema=None, now=T0)
    live = apply(live, b, manager="B", force=False, gvk=POD, schema=None, now=T1)
    assert [c["name"] for c in live["spec"]["containers"]] == ["a", "b"]
    live = apply(
        live, {**base, "spec": {"containers": []}}, manager="A", force=False, gvk=POD, schema=None, now=T2
    )
    assert live["spec"]["containers"] == [{"name": "b", "image": "y"}]


def test_item_changes_conflict_per_field() -> None:
    base = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    live = apply(
        None,
        {**base, "spec": {"containers": [{"name": "a", "image": "x"}]}},
        manager="A",
        force=False,
        gvk=POD,
        schema=None,
        now=T0,
    )
    # Adding a field to A's item does not conflict; changing A's image does.
    live = apply(
        live,
        {**base, "spec": {"containers": [{"name": "a", "args": ["-v"]}]}},
        manager="B",
        force=False,
        gvk=POD,
        schema=None,
        now=T1,
    )
    assert live["spec"]["containers"] == [{"name": "a", "image": "x", "args": ["-v"]}]
    with pytest.raises(ApplyConflict) as caught:
        apply(
            live,
            {**base, "spec": {"containers": [{"name": "a", "image": "z"}]}},
            manager="B",
            force=False,
            gvk=POD,
            schema=None,
            now=T2,
        )
    assert caught.value.conflicts == [("A", '.spec.containers[name="a"].image')]


def test_finalizers_are_a_set() -> None:
    live = apply_cm(None, {**cm(), "metadata": {"name": "test-cm", "finalizers": ["a"]}}, manager="A")
    live = apply_cm(live, {**cm(), "metadata": {"name": "test-cm", "finalizers": ["b"]}}, manager="B")
    assert live["metadata"]["finalizers"] == ["a", "b"]
    assert field_sets(live)[("B", "Apply", "")] == {("f:metadata", "f:finalizers", 'v:"b"')}
    live = apply_cm(live, cm(), manager="A")
    assert live["metadata"]["finalizers"] == ["b"]


def test_owner_references_are_keyed_by_uid() -> None:
    ref = {"apiVersion": "v1", "kind": "Service", "name": "s", "uid": "u-1"}
    live = apply_cm(None, {**cm(), "metadata": {"name": "test-cm", "ownerReferences": [ref]}})
    paths = field_sets(live)[("kubectl", "Apply", "")]
    assert ("f:metadata", "f:ownerReferences", 'k:{"uid":"u-1"}') in paths


def test_atomic_list_conflicts_as_a_whole() -> None:
    base = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    live = apply(
        None,
        {**base, "spec": {"tolerations": [{"key": "a"}]}},
        manager="A",
        force=False,
        gvk=POD,
        schema=None,
        now=T0,
    )
    assert field_sets(live)[("A", "Apply", "")] == {("f:spec", "f:tolerations")}
    with pytest.raises(ApplyConflict) as caught:
        apply(
            live,
            {**base, "spec": {"tolerations": [{"key": "a"}, {"key": "b"}]}},
            manager="B",
            force=False,
            gvk=POD,
            schema=None,
            now=T1,
        )
    assert caught.value.conflicts == [("A", ".spec.tolerations")]


def test_conflict_messages_with_several_managers() -> None:
    live = apply_cm(None, cm({"a": "1"}), manager="A")
    live = apply_cm(live, cm({"b": "1"}), manager="B")
    with pytest.raises(ApplyConflict) as caught:
        apply_cm(live, cm({"a": "2", "b": "2"}), manager="C")
    assert caught.value.conflicts == [("A", ".data.a"), ("B", ".data.b")]
    assert caught.value.message == (
        'Apply failed with 2 conflicts: conflicts with "A":\n- .data.a\nconflicts with "B":\n- .data.b'
    )


# ------------------------------------------------------------------ custom resources

CRD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer"},
                "args": {"type": "array", "items": {"type": "string"}},
                "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                "members": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["id"],
                    "items": {
                        "type": "object",
                        "properties": {"id": {"type": "integer"}, "host": {"type": "string"}},
                    },
                },
                "selector": {
                    "type": "object",
                    "x-kubernetes-map-type": "atomic",
                    "additionalProperties": {"type": "string"},
                },
                "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
    },
}
ZK = ("example.com", "v1", "ZooKeeperCluster")


def zk(spec: dict[str, Any] | None = None, status: dict[str, Any] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "ZooKeeperCluster",
        "metadata": {"name": "zk"},
    }
    if spec is not None:
        obj["spec"] = spec
    if status is not None:
        obj["status"] = status
    return obj


def apply_zk(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str = "kubectl",
    *,
    force: bool = False,
    subresource: str | None = None,
) -> dict[str, Any]:
    return apply(
        live, config, manager=manager, force=force, gvk=ZK, schema=CRD_SCHEMA, now=T0, subresource=subresource
    )


def test_crd_list_types_and_atomic_maps() -> None:
    obj = apply_zk(
        None,
        zk(
            {
                "args": ["a"],
                "tags": ["x"],
                "members": [{"id": 1, "host": "h"}],
                "selector": {"a": "b"},
                "config": {"tick": {"ms": 2000}},
            }
        ),
    )
    assert obj["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:spec": {
            "f:args": {},
            # Undeclared keys (here under preserve-unknown-fields) are owned themselves, as in SMD.
            "f:config": {"f:tick": {".": {}, "f:ms": {}}},
            "f:members": {'k:{"id":1}': {".": {}, "f:host": {}, "f:id": {}}},
            "f:selector": {},
            "f:tags": {'v:"x"': {}},
        }
    }


def test_status_is_ignored_on_the_main_resource_and_applied_on_status() -> None:
    live = apply_zk(None, zk({"replicas": 3}, {"phase": "Ignored"}))
    assert "status" not in live
    live = apply_zk(
        live, zk({"replicas": 9}, {"phase": "Running"}), "operator", subresource="status", force=False
    )
    assert live["spec"] == {"replicas": 3}
    assert live["status"] == {"phase": "Running"}
    entry = next(e for e in live["metadata"]["managedFields"] if e["manager"] == "operator")
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {"f:phase": {}}}
    # The main resource's applier cannot remove status by not applying it.
    again = apply_zk(live, zk({"replicas": 3}))
    assert again["status"] == {"phase": "Running"}


def test_status_of_kinds_without_status_subresource_is_a_normal_field() -> None:
    obj = apply(
        None,
        zk({"replicas": 1}, {"phase": "x"}),
        manager="m",
        force=False,
        gvk=ZK,
        schema=CRD_SCHEMA,
        now=T0,
        status_subresource=False,
    )
    assert obj["status"] == {"phase": "x"}


def test_record_update_on_create_owns_everything_with_dots_for_new_structs() -> None:
    obj = record_update(
        None,
        {**zk({"replicas": 3}), "metadata": {"name": "zk", "labels": {"a": "b"}}},
        manager="kopf",
        gvk=ZK,
        schema=CRD_SCHEMA,
        now=T0,
    )
    assert obj["metadata"]["managedFields"] == [
        {
            "manager": "kopf",
            "operation": "Update",
            "apiVersion": "example.com/v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:a": {}}},
                "f:spec": {".": {}, "f:replicas": {}},
            },
        }
    ]


def test_update_takes_ownership_without_conflict_and_keeps_time_of_unchanged_managers() -> None:
    live = apply_zk(None, zk({"replicas": 3, "args": ["a"]}))
    changed = copy.deepcopy(live)
    changed["spec"]["replicas"] = 4
    out = record_update(live, changed, manager="kopf", gvk=ZK, schema=CRD_SCHEMA, now=T1)
    sets = field_sets(out)
    assert sets[("kopf", "Update", "")] == {("f:spec", "f:replicas")}
    assert sets[("kubectl", "Apply", "")] == {("f:spec", "f:args")}
    kubectl = next(e for e in out["metadata"]["managedFields"] if e["manager"] == "kubectl")
    assert kubectl["time"] == T0
    # A write that changes nothing adds no entry.
    same = record_update(out, copy.deepcopy(out), manager="other", gvk=ZK, schema=CRD_SCHEMA, now=T2)
    assert same["metadata"]["managedFields"] == out["metadata"]["managedFields"]


def test_status_update_entries_and_scope() -> None:
    live = apply_zk(None, zk({"replicas": 3}))
    new = {**copy.deepcopy(live), "status": {"phase": "Running"}}
    out = record_update(live, new, manager="kopf", gvk=ZK, schema=CRD_SCHEMA, now=T1, subresource="status")
    entry = next(e for e in out["metadata"]["managedFields"] if e["manager"] == "kopf")
    assert entry["subresource"] == "status"
    assert entry["fieldsV1"] == {"f:status": {".": {}, "f:phase": {}}}


def test_rewriting_managed_fields_through_an_update() -> None:
    live = apply_zk(None, zk({"replicas": 3}))
    cleared = copy.deepcopy(live)
    cleared["metadata"]["managedFields"] = [{}]
    out = record_update(live, cleared, manager="x", gvk=ZK, schema=CRD_SCHEMA, now=T1)
    assert "managedFields" not in out["metadata"]


def test_managed_fields_in_apply_body_is_invalid() -> None:
    with pytest.raises(InvalidApply, match="managedFields must be nil"):
        apply_zk(None, {**zk(), "metadata": {"name": "zk", "managedFields": []}})
    with pytest.raises(InvalidApply):
        apply_zk(None, zk({"members": [{"id": 1}, {"id": 1}]}))
    with pytest.raises(InvalidApply):
        apply_zk(None, zk({"members": [{"host": "no id"}]}))
    assert issubclass(InvalidApply, ValueError)


def test_no_op_apply_returns_the_live_object_unchanged() -> None:
    live = apply_zk(None, zk({"replicas": 3}))
    again = apply(
        live, zk({"replicas": 3}), manager="kubectl", force=False, gvk=ZK, schema=CRD_SCHEMA, now=T3
    )
    assert again == live


def test_entries_are_sorted_apply_first_then_time() -> None:
    live = record_update(None, zk({"replicas": 1}), manager="z-updater", gvk=ZK, schema=CRD_SCHEMA, now=T0)
    live = apply(
        live, zk({"args": ["a"]}), manager="b-applier", force=False, gvk=ZK, schema=CRD_SCHEMA, now=T2
    )
    live = apply(
        live, zk({"tags": ["a"]}), manager="a-applier", force=False, gvk=ZK, schema=CRD_SCHEMA, now=T2
    )
    assert entries(live) == [("a-applier", "Apply"), ("b-applier", "Apply"), ("z-updater", "Update")]


def test_zkop_crd_conditions_are_a_map_list() -> None:
    crd = yaml.safe_load((REPO / "deploy/crds/zookeeperclusters.zkop.io.yaml").read_text())
    version = crd["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    status = schema["properties"]["status"]
    lists = {k: v for k, v in status["properties"].items() if v.get("x-kubernetes-list-type") == "map"}
    assert lists, "the zkop CRD declares map lists in its status"
    name, prop = next(iter(lists.items()))
    keys = prop["x-kubernetes-list-map-keys"]
    item = {k: "k" if prop["items"]["properties"][k].get("type") == "string" else 1 for k in keys}
    gvk = (crd["spec"]["group"], version["name"], crd["spec"]["names"]["kind"])
    base = {"apiVersion": f"{gvk[0]}/{gvk[1]}", "kind": gvk[2], "metadata": {"name": "zk"}}
    out = apply(
        {**base},
        {**base, "status": {name: [item]}},
        manager="op",
        force=False,
        gvk=gvk,
        schema=schema,
        now=T0,
        subresource="status",
    )
    paths = field_sets(out)[("op", "Apply", "status")]
    assert any(p[:2] == ("f:status", f"f:{name}") and p[2].startswith("k:") for p in paths)


# ------------------------------------------------------------------ FieldsV1 encoding


def test_fields_v1_round_trip_and_path_strings() -> None:
    paths = {
        ("f:spec", "f:replicas"),
        ("f:spec", "f:containers", 'k:{"name":"zk"}'),
        ("f:spec", "f:containers", 'k:{"name":"zk"}', "f:image"),
        ("f:metadata", "f:finalizers", 'v:"x"'),
    }
    encoded = paths_to_fields_v1(paths)
    assert encoded["f:spec"]["f:containers"]['k:{"name":"zk"}'] == {".": {}, "f:image": {}}
    assert fields_v1_to_paths(encoded) == paths
    assert path_string(("f:spec", "f:containers", 'k:{"name":"zk"}', "f:image")) == (
        '.spec.containers[name="zk"].image'
    )
    assert path_string(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'
    assert path_string(("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}')) == (
        '.spec.ports[port=80,protocol="TCP"]'
    )


# ------------------------------------------------------------------ properties

keys = st.text(alphabet="abcdef", min_size=1, max_size=3)
values = st.text(alphabet="xyz", max_size=3)
data_maps = st.dictionaries(keys, values, max_size=5)
container_lists = st.lists(
    st.fixed_dictionaries({"name": keys, "image": values}), unique_by=lambda c: c["name"], max_size=3
)


@settings(max_examples=100, deadline=None)
@given(data_maps, data_maps)
def test_property_applying_twice_is_a_no_op(data: dict[str, str], labels: dict[str, str]) -> None:
    first = apply_cm(None, cm(data, labels))
    second = apply_cm(first, cm(data, labels), now=T1)
    assert second == first


@settings(max_examples=100, deadline=None)
@given(container_lists, st.integers(0, 5))
def test_property_applying_twice_is_a_no_op_for_deployments(containers: list[Any], replicas: int) -> None:
    config = nginx(replicas)
    config["spec"]["template"]["spec"]["containers"] = containers
    first = apply(None, config, manager="m", force=False, gvk=DEPLOY, schema=None, now=T0)
    assert apply(first, config, manager="m", force=False, gvk=DEPLOY, schema=None, now=T1) == first


def owned_shape(obj: dict[str, Any]) -> set[tuple[str, ...]]:
    """The field paths ``obj``'s data sets (an empty map is owned as a whole)."""
    if "data" not in obj:
        return set()
    if not obj["data"]:
        return {("f:data",)}
    return {("f:data", f"f:{k}") for k in obj["data"]}


@settings(max_examples=100, deadline=None)
@given(data_maps, data_maps)
def test_property_empty_apply_leaves_only_fields_others_own(
    created: dict[str, str], applied: dict[str, str]
) -> None:
    live = record_update(None, cm(created), manager="creator", gvk=CM, schema=None, now=T0)
    live = apply_cm(live, cm(applied), manager="A", force=True, now=T1)
    creator_before = field_sets(live).get(("creator", "Update", ""), frozenset())
    emptied = apply_cm(live, cm(), manager="A", now=T2)
    sets = field_sets(emptied)
    assert ("A", "Apply", "") not in sets
    remaining = emptied.get("data", {})
    # Exactly the creator's remaining fields survive, with their values.
    assert owned_shape(emptied) == {p for p in creator_before if len(p) == 2 or not remaining}
    if ("f:data",) in creator_before:
        assert "data" in emptied
    for key in remaining:
        assert remaining[key] == created[key]
    assert sets.get(("creator", "Update", ""), frozenset()) == creator_before


@settings(max_examples=100, deadline=None)
@given(data_maps, data_maps)
def test_property_disjoint_managers_never_conflict(first: dict[str, str], second: dict[str, str]) -> None:
    second = {f"{k}2": v for k, v in second.items()}
    live = apply_cm(None, cm(first), manager="A")
    live = apply_cm(live, cm(second), manager="B", now=T1)
    assert live.get("data", {}) == {**first, **second}
    live = apply_cm(live, cm(first), manager="A", now=T2)
    assert live.get("data", {}) == {**first, **second}


@settings(max_examples=100, deadline=None)
@given(keys, values, values, st.booleans())
def test_property_update_then_different_apply_conflicts_unless_forced(
    key: str, old: str, new: str, force: bool
) -> None:
    assume(old != new)
    live = record_update(None, cm({key: old}), manager="writer", gvk=CM, schema=None, now=T0)
    if not force:
        with pytest.raises(ApplyConflict) as caught:
            apply_cm(live, cm({key: new}), manager="applier")
        assert caught.value.conflicts == [("writer", f".data.{key}")]
    else:
        out = apply_cm(live, cm({key: new}), manager="applier", force=True)
        assert out["data"][key] == new
        assert ("f:data", f"f:{key}") not in field_sets(out).get(("writer", "Update", ""), frozenset())
        assert ("f:data", f"f:{key}") in field_sets(out)[("applier", "Apply", "")]
    # The same value never conflicts: ownership is shared.
    shared = apply_cm(live, cm({key: old}), manager="applier")
    assert ("f:data", f"f:{key}") in field_sets(shared)[("writer", "Update", "")]


@settings(max_examples=100, deadline=None)
@given(container_lists, container_lists)
def test_property_map_list_items_of_other_appliers_survive(mine: list[Any], theirs: list[Any]) -> None:
    theirs = [{**c, "name": c["name"] + "t"} for c in theirs]
    base = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    live = apply(
        None, {**base, "spec": {"containers": theirs}}, manager="T", force=False, gvk=POD, schema=None, now=T0
    )
    live = apply(
        live, {**base, "spec": {"containers": mine}}, manager="M", force=False, gvk=POD, schema=None, now=T1
    )
    live = apply(
        live, {**base, "spec": {"containers": []}}, manager="M", force=False, gvk=POD, schema=None, now=T2
    )
    assert live.get("spec", {}).get("containers", []) == theirs


def test_merged_list_order_follows_the_applied_order_around_live_items() -> None:
    base = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    live = apply(
        None,
        {**base, "spec": {"containers": [{"name": n} for n in "abc"]}},
        manager="A",
        force=False,
        gvk=POD,
        schema=None,
        now=T0,
    )
    # B applies c before a and a new item x: shared items take B's order, live-only b stays in place.
    live = apply(
        live,
        {**base, "spec": {"containers": [{"name": "c"}, {"name": "x"}, {"name": "a"}]}},
        manager="B",
        force=False,
        gvk=POD,
        schema=None,
        now=T1,
    )
    assert [c["name"] for c in live["spec"]["containers"]] == ["b", "c", "x", "a"]


def test_undeclared_fields_of_a_preserving_struct_are_owned_themselves() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}},
            }
        },
    }
    out = apply(
        None,
        zk({"known": {"a": "1"}, "other": {"b": "2"}}),
        manager="m",
        force=False,
        gvk=ZK,
        schema=schema,
        now=T0,
    )
    assert out["metadata"]["managedFields"][0]["fieldsV1"] == {
        "f:spec": {"f:known": {"f:a": {}}, "f:other": {".": {}, "f:b": {}}}
    }
