"""Strategic merge patch: Kubernetes documentation examples, directives, errors and properties."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zkop_local.apiserver.merge.strategic import StrategicMergeError, strategic_merge

POD = ("", "v1", "Pod")
DEPLOYMENT = ("apps", "v1", "Deployment")
SERVICE = ("", "v1", "Service")
STATEFULSET = ("apps", "v1", "StatefulSet")


def deployment(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "patch-demo", "labels": {"app": "nginx"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}},
                "spec": {
                    "containers": [{"name": "patch-demo-ctr", "image": "nginx"}],
                    "tolerations": [{"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}],
                },
            },
            **spec,
        },
    }


# ------------------------------------------------------------------ kubectl patch documentation examples
# https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/


def test_doc_add_container_merges_by_name_and_new_item_comes_first() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}}}}
    result = strategic_merge(deployment(), patch, DEPLOYMENT)
    # The documented result lists the new redis container before the existing nginx one.
    assert result["spec"]["template"]["spec"]["containers"] == [
        {"name": "patch-demo-ctr-2", "image": "redis"},
        {"name": "patch-demo-ctr", "image": "nginx"},
    ]


def test_doc_tolerations_have_no_patch_strategy_and_are_replaced() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {"tolerations": [{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}]}
            }
        }
    }
    result = strategic_merge(deployment(), patch, DEPLOYMENT)
    assert result["spec"]["template"]["spec"]["tolerations"] == [
        {"effect": "NoSchedule", "key": "disktype", "value": "ssd"}
    ]


def test_doc_retain_keys_clears_the_other_strategy_fields() -> None:
    original = deployment(
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
    )
    without = strategic_merge(original, {"spec": {"strategy": {"type": "Recreate"}}}, DEPLOYMENT)
    assert without["spec"]["strategy"] == {
        "type": "Recreate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    retained = strategic_merge(
        original, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, DEPLOYMENT
    )
    assert retained["spec"]["strategy"] == {"type": "Recreate"}


# ------------------------------------------------------------------ patch strategies of built-in types


def test_env_ports_volume_mounts_merge_by_their_keys() -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {
            "containers": [
                {
                    "name": "zk",
                    "image": "zookeeper:3.8",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 2181, "name": "client"}],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
    }
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "zk",
                    "image": "zookeeper:3.9",
                    "env": [{"name": "B", "value": "3"}],
                    "ports": [{"containerPort": 8080, "name": "admin"}],
                    "volumeMounts": [{"name": "conf", "mountPath": "/conf"}],
                }
            ],
            "volumes": [{"name": "conf", "configMap": {"name": "zk-conf"}}],
        }
    }
    result = strategic_merge(pod, patch, POD)
    container = result["spec"]["containers"][0]
    assert container["image"] == "zookeeper:3.9"
    assert container["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]
    assert [p["containerPort"] for p in container["ports"]] == [8080, 2181]
    assert [m["mountPath"] for m in container["volumeMounts"]] == ["/conf", "/data"]
    assert [v["name"] for v in result["spec"]["volumes"]] == ["conf", "data"]


def test_service_ports_merge_by_port() -> None:
    svc = {
        "metadata": {"name": "zk"},
        "spec": {"ports": [{"port": 2181, "name": "client"}], "selector": {"app": "zk"}},
    }
    result = strategic_merge(
        svc,
        {"spec": {"ports": [{"port": 2181, "targetPort": 2181}, {"port": 7000, "name": "metrics"}]}},
        SERVICE,
    )
    assert result["spec"]["ports"] == [
        {"port": 2181, "name": "client", "targetPort": 2181},
        {"port": 7000, "name": "metrics"},
    ]


def test_metadata_finalizers_union_and_owner_references_by_uid() -> None:
    obj = {
        "metadata": {
            "name": "x",
            "finalizers": ["a", "b"],
            "ownerReferences": [{"uid": "u1", "name": "one", "kind": "K", "apiVersion": "v1"}],
        }
    }
    patch = {
        "metadata": {
            "finalizers": ["c", "a"],
            "ownerReferences": [
                {"uid": "u2", "name": "two", "kind": "K", "apiVersion": "v1"},
                {"uid": "u1", "controller": True},
            ],
        }
    }
    result = strategic_merge(obj, patch, ("", "v1", "ConfigMap"))
    assert result["metadata"]["finalizers"] == ["c", "a", "b"]
    assert result["metadata"]["ownerReferences"] == [
        {"uid": "u2", "name": "two", "kind": "K", "apiVersion": "v1"},
        {"uid": "u1", "name": "one", "kind": "K", "apiVersion": "v1", "controller": True},
    ]


def test_image_pull_secrets_merge_by_name_in_pods_but_not_in_service_accounts() -> None:
    # Kubernetes tags PodSpec.imagePullSecrets merge/name, ServiceAccount.imagePullSecrets has no strategy
    # (its ``secrets`` list merges by name).
    sa = {"metadata": {"name": "zk"}, "imagePullSecrets": [{"name": "a"}], "secrets": [{"name": "s1"}]}
    result = strategic_merge(
        sa, {"imagePullSecrets": [{"name": "b"}], "secrets": [{"name": "s2"}]}, ("", "v1", "ServiceAccount")
    )
    assert result["imagePullSecrets"] == [{"name": "b"}]
    assert result["secrets"] == [{"name": "s2"}, {"name": "s1"}]
    pod = {"spec": {"imagePullSecrets": [{"name": "a"}]}}
    assert strategic_merge(pod, {"spec": {"imagePullSecrets": [{"name": "b"}]}}, POD)["spec"][
        "imagePullSecrets"
    ] == [{"name": "b"}, {"name": "a"}]


def test_maps_merge_and_null_deletes() -> None:
    cm = {"metadata": {"name": "c", "labels": {"a": "1", "b": "2"}}, "data": {"x": "1", "y": "2"}}
    result = strategic_merge(
        cm, {"metadata": {"labels": {"a": None, "c": "3"}}, "data": {"y": None}}, ("", "v1", "ConfigMap")
    )
    assert result == {"metadata": {"name": "c", "labels": {"b": "2", "c": "3"}}, "data": {"x": "1"}}


def test_pod_template_inside_statefulset_merges_containers() -> None:
    sts = {
        "spec": {
            "template": {
                "spec": {"containers": [{"name": "zk", "image": "a"}, {"name": "side", "image": "b"}]}
            }
        }
    }
    result = strategic_merge(
        sts, {"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "c"}]}}}}, STATEFULSET
    )
    assert result["spec"]["template"]["spec"]["containers"] == [
        {"name": "zk", "image": "a"},
        {"name": "side", "image": "c"},
    ]


def test_pdb_selector_has_replace_strategy() -> None:
    pdb = {"spec": {"selector": {"matchLabels": {"a": "1"}}, "minAvailable": 2}}
    result = strategic_merge(
        pdb, {"spec": {"selector": {"matchLabels": {"b": "2"}}}}, ("policy", "v1", "PodDisruptionBudget")
    )
    assert result["spec"]["selector"] == {"matchLabels": {"b": "2"}}


def test_unknown_fields_merge_maps_and_replace_lists() -> None:
    obj = {"spec": {"x": {"a": 1, "l": [1, 2]}}}
    result = strategic_merge(obj, {"spec": {"x": {"b": 2, "l": [3]}}}, ("example.com", "v1", "Thing"))
    assert result == {"spec": {"x": {"a": 1, "b": 2, "l": [3]}}}


# ------------------------------------------------------------------ directives


def test_patch_delete_in_list_item() -> None:
    result = strategic_merge(
        deployment(),
        {"spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr", "$patch": "delete"}]}}}},
        DEPLOYMENT,
    )
    assert result["spec"]["template"]["spec"]["containers"] == []


def test_patch_replace_in_list() -> None:
    original = deployment()
    original["spec"]["template"]["spec"]["containers"].append({"name": "other", "image": "x"})
    result = strategic_merge(
        original,
        {
            "spec": {
                "template": {"spec": {"containers": [{"name": "only", "image": "y"}, {"$patch": "replace"}]}}
            }
        },
        DEPLOYMENT,
    )
    assert result["spec"]["template"]["spec"]["containers"] == [{"name": "only", "image": "y"}]


def test_patch_replace_and_delete_in_maps() -> None:
    original = deployment()
    replaced = strategic_merge(
        original, {"metadata": {"labels": {"$patch": "replace", "new": "1"}}}, DEPLOYMENT
    )
    assert replaced["metadata"]["labels"] == {"new": "1"}
    deleted = strategic_merge(original, {"spec": {"selector": {"$patch": "delete"}}}, DEPLOYMENT)
    assert deleted["spec"]["selector"] == {}
    merged = strategic_merge(original, {"metadata": {"labels": {"$patch": "merge", "new": "1"}}}, DEPLOYMENT)
    assert merged["metadata"]["labels"] == {"app": "nginx", "new": "1"}
    absent = strategic_merge({"metadata": {}}, {"metadata": {"labels": {"$patch": "delete"}}}, DEPLOYMENT)
    assert absent == {"metadata": {}}


def test_delete_from_primitive_list() -> None:
    obj = {"metadata": {"finalizers": ["a", "b", "c"]}}
    result = strategic_merge(obj, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "x"]}}, POD)
    assert result["metadata"]["finalizers"] == ["a", "c"]
    untouched = strategic_merge(
        {"metadata": {}}, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}, POD
    )
    assert untouched == {"metadata": {}}


def test_set_element_order_for_maps_and_primitives() -> None:
    pod = {
        "spec": {
            "containers": [
                {"name": "a", "image": "1"},
                {"name": "b", "image": "2"},
                {"name": "c", "image": "3"},
            ]
        },
        "metadata": {"finalizers": ["x", "y", "z"]},
    }
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "9"}],
        },
        "metadata": {"$setElementOrder/finalizers": ["z", "y", "x"]},
    }
    result = strategic_merge(pod, patch, POD)
    assert result["spec"]["containers"] == [
        {"name": "c", "image": "3"},
        {"name": "a", "image": "9"},
        {"name": "b", "image": "2"},
    ]
    assert result["metadata"]["finalizers"] == ["z", "y", "x"]


def test_set_element_order_with_deletion_as_kubectl_generates_it() -> None:
    pod = {"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
            "containers": [{"name": "b", "$patch": "delete"}],
        }
    }
    assert strategic_merge(pod, patch, POD)["spec"]["containers"] == [{"name": "c"}, {"name": "a"}]


def test_server_only_items_keep_their_relative_position() -> None:
    pod = {"spec": {"containers": [{"name": n} for n in "abcd"]}}
    patch = {"spec": {"containers": [{"name": "c", "image": "x"}, {"name": "e"}]}}
    names = [c["name"] for c in strategic_merge(pod, patch, POD)["spec"]["containers"]]
    assert names == ["a", "b", "c", "e", "d"]


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"spec": {"$unknown": 1}}, "unknown patch directive"),
        ({"spec": {"$patch": "explode"}}, "unknown patch type: explode"),
        ({"spec": {"containers": [{"image": "x"}]}}, "does not contain declared merge key: name"),
        ({"spec": {"containers": [{"$patch": "delete"}]}}, "does not contain declared merge key: name"),
        (
            {"spec": {"containers": [{"name": "a", "$patch": "merge"}]}},
            "merging lists cannot yet be specified",
        ),
        ({"spec": {"$retainKeys": ["a"], "b": 1}}, "retainKeys"),
        ({"spec": {"$retainKeys": "a"}}, "retainKeys"),
        (
            {
                "spec": {
                    "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
                    "containers": [{"name": "a"}, {"name": "b"}],
                }
            },
            "doesn't match $setElementOrder",
        ),
        ({"spec": {"$setElementOrder/containers": "x"}}, "setElementOrder"),
        ({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}, "primitive list"),
        ({"metadata": {"finalizers": [["a"]]}}, "lists of lists"),
        ({"metadata": {"finalizers": [1]}}, "list element types are not identical"),
        ({"$setElementOrder/": []}, "no list named"),
    ],
)
def test_invalid_patches(patch: dict[str, Any], message: str) -> None:
    pod = {"metadata": {"finalizers": ["a"]}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    with pytest.raises(StrategicMergeError, match=message.replace("$", r"\$").replace("(", r"\(")):
        strategic_merge(pod, patch, POD)


def test_inputs_are_not_modified() -> None:
    original = deployment()
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr", "$patch": "delete"}]}}},
        "metadata": {"labels": {"app": None}},
    }
    before = (copy.deepcopy(original), copy.deepcopy(patch))
    strategic_merge(original, patch, DEPLOYMENT)
    assert (original, patch) == before


# ------------------------------------------------------------------ properties

names = st.text(alphabet="abcdefgh", min_size=1, max_size=4)
scalars = st.one_of(st.text(max_size=5), st.integers(-5, 5), st.booleans())
labels = st.dictionaries(names, st.text(max_size=4), max_size=4)


@st.composite
def containers(draw: st.DrawFn) -> list[dict[str, Any]]:
    keys = draw(st.lists(names, unique=True, max_size=4))
    out = []
    for key in keys:
        item: dict[str, Any] = {"name": key, "image": draw(st.text(max_size=6))}
        env_names = draw(st.lists(names, unique=True, max_size=3))
        if env_names:
            item["env"] = [{"name": n, "value": draw(st.text(max_size=3))} for n in env_names]
        if draw(st.booleans()):
            item["args"] = draw(st.lists(st.text(max_size=3), max_size=3))
        out.append(item)
    return out


@st.composite
def pods(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": draw(names),
            "labels": draw(labels),
            "finalizers": draw(st.lists(names, unique=True, max_size=4)),
        },
        "spec": {
            "containers": draw(containers()),
            "tolerations": draw(st.lists(st.fixed_dictionaries({"key": names, "value": names}), max_size=2)),
            "nodeSelector": draw(labels),
            "extra": draw(st.dictionaries(names, scalars, max_size=3)),
        },
    }


@settings(max_examples=150, deadline=None)
@given(pods())
def test_property_patching_with_own_content_is_identity(pod: dict[str, Any]) -> None:
    assert strategic_merge(pod, pod, POD) == pod


@settings(max_examples=150, deadline=None)
@given(pods(), containers())
def test_property_merge_key_lists_keep_other_items(pod: dict[str, Any], patch_containers: list[Any]) -> None:
    result = strategic_merge(pod, {"spec": {"containers": patch_containers}}, POD)
    by_name = {c["name"]: c for c in result["spec"]["containers"]}
    original = {c["name"]: c for c in pod["spec"]["containers"]}
    patched = {c["name"]: c for c in patch_containers}
    assert set(by_name) == set(original) | set(patched)
    assert len(by_name) == len(result["spec"]["containers"])
    for name, container in by_name.items():
        if name not in patched:
            assert container == original[name]
        else:
            assert container["image"] == patched[name]["image"]
            env = {e["name"]: e["value"] for e in container.get("env", [])}
            for e in patched[name].get("env", []):
                assert env[e["name"]] == e["value"]
            for e in original.get(name, {}).get("env", []):
                assert e["name"] in env
    # Patched items appear in the patch's order.
    order = [c["name"] for c in result["spec"]["containers"] if c["name"] in patched]
    assert order == [c["name"] for c in patch_containers]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, as a reference."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


json_maps = st.recursive(
    st.dictionaries(names, st.one_of(scalars, st.none()), max_size=3),
    lambda children: st.dictionaries(names, st.one_of(children, scalars, st.none()), max_size=3),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(json_maps, json_maps)
def test_property_without_lists_it_is_a_json_merge_patch(
    original: dict[str, Any], patch: dict[str, Any]
) -> None:
    original = {k: v for k, v in original.items() if v is not None}
    target = {"data": original}
    assert strategic_merge(target, {"data": patch}, ("", "v1", "ConfigMap")) == merge_patch(
        target, {"data": patch}
    )


def test_new_merge_list_resolves_directives() -> None:
    patch = {
        "spec": {
            "containers": [
                {"name": "a", "env": [{"name": "X", "value": None}]},
                {"name": "b", "$patch": "delete"},
            ]
        }
    }
    assert strategic_merge({"spec": {}}, patch, POD) == {
        "spec": {"containers": [{"name": "a", "env": [{"name": "X"}]}]}
    }
