"""CRD structural schemas: pruning, defaulting, validation messages; the generated built-in table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from zkop_local.apiserver.merge import gen_builtin_schema, schema_info
from zkop_local.apiserver.merge.schema import reason_for, validate_default_prune

REPO = Path(__file__).resolve().parents[4]

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["image"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 1, "maximum": 7, "default": 3},
                "image": {"type": "string", "minLength": 3, "maxLength": 20, "pattern": "^[a-z:.0-9]+$"},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "ratio": {"type": "number", "exclusiveMinimum": True, "minimum": 0, "multipleOf": 0.5},
                "port": {
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
                "since": {"type": "string", "format": "date-time"},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 1,
                    "maxItems": 2,
                    "uniqueItems": True,
                },
                "labels": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "maxLength": 3},
                    "maxProperties": 2,
                },
                "conf": {
                    "type": "object",
                    "default": {},
                    "properties": {
                        "tick": {"type": "integer", "default": 2000},
                        "nested": {
                            "type": "object",
                            "default": {},
                            "properties": {"deep": {"type": "string", "default": "x"}},
                        },
                    },
                },
                "note": {"type": "string", "nullable": True},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object", "properties": {"x": {"type": "integer"}}}},
                },
                "choice": {
                    "type": "object",
                    "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                    "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
                },
                "notEmpty": {"type": "string", "not": {"enum": [""]}},
                "both": {"type": "integer", "allOf": [{"minimum": 2}, {"maximum": 4}]},
            },
        },
        "status": {"type": "object", "properties": {"phase": {"type": "string"}}},
    },
}


def obj(spec: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {"name": "t", "annotations": {"a": "b"}},
        "spec": spec,
        **top,
    }


def errors_of(spec: dict[str, Any]) -> list[tuple[str, str]]:
    return validate_default_prune(obj({"image": "nginx", **spec}), SCHEMA)[1]


def test_defaults_are_applied_recursively_and_valid_objects_pass() -> None:
    result, errors = validate_default_prune(obj({"image": "nginx"}), SCHEMA)
    assert errors == []
    assert result["spec"]["replicas"] == 3
    assert result["spec"]["conf"] == {"tick": 2000, "nested": {"deep": "x"}}
    assert result["metadata"] == {"name": "t", "annotations": {"a": "b"}}


def test_pruning_keeps_root_meta_and_preserved_subtrees() -> None:
    unknown: list[str] = []
    result, errors = validate_default_prune(
        obj(
            {
                "image": "nginx",
                "bogus": 1,
                "extra": {"any": {"thing": [1]}},
                "template": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "p"},
                    "spec": {"x": 1, "y": 2},
                },
                "tags": ["a"],
            },
            junk=True,
        ),
        SCHEMA,
        unknown_fields=unknown,
    )
    assert errors == []
    assert "bogus" not in result["spec"] and "junk" not in result
    assert result["spec"]["extra"] == {"any": {"thing": [1]}}
    assert result["spec"]["template"] == {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"x": 1},
    }
    assert sorted(unknown) == ["junk", "spec.bogus", "spec.template.spec.y"]


def test_nulls() -> None:
    result, errors = validate_default_prune(
        obj({"image": "nginx", "replicas": None, "mode": None, "note": None}), SCHEMA
    )
    assert errors == []
    assert result["spec"]["replicas"] == 3  # null replaced by the default
    assert "mode" not in result["spec"]  # non-nullable null without default is dropped
    assert result["spec"]["note"] is None  # nullable keeps null


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"replicas": 0},
            ("spec.replicas", "Invalid value: 0: spec.replicas in body should be greater than or equal to 1"),
        ),
        (
            {"replicas": 8},
            ("spec.replicas", "Invalid value: 8: spec.replicas in body should be less than or equal to 7"),
        ),
        (
            {"replicas": "3"},
            (
                "spec.replicas",
                'Invalid value: "string": spec.replicas in body must be of type integer: "string"',
            ),
        ),
        (
            {"replicas": 2.5},
            (
                "spec.replicas",
                'Invalid value: "number": spec.replicas in body must be of type integer: "number"',
            ),
        ),
        ({"mode": "x"}, ("spec.mode", 'Unsupported value: "x": supported values: "a", "b"')),
        (
            {"image": "ab"},
            ("spec.image", 'Invalid value: "ab": spec.image in body should be at least 3 chars long'),
        ),
        ({"image": "a" * 21}, ("spec.image", "Too long: may not be more than 20 bytes")),
        (
            {"image": "UPPER"},
            ("spec.image", "Invalid value: \"UPPER\": spec.image in body should match '^[a-z:.0-9]+$'"),
        ),
        ({"ratio": 0}, ("spec.ratio", "Invalid value: 0: spec.ratio in body should be greater than 0")),
        (
            {"ratio": 0.7},
            ("spec.ratio", "Invalid value: 0.7: spec.ratio in body should be a multiple of 0.5"),
        ),
        (
            {"port": True},
            (
                "spec.port",
                'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
            ),
        ),
        (
            {"since": "yesterday"},
            (
                "spec.since",
                'Invalid value: "yesterday": spec.since in body must be of type date-time: "yesterday"',
            ),
        ),
        ({"tags": []}, ("spec.tags", "Invalid value: 0: spec.tags in body should have at least 1 items")),
        ({"tags": ["a", "b", "c"]}, ("spec.tags", "Too many: 3: must have at most 2 items")),
        (
            {"tags": ["a", "a"]},
            ("spec.tags", 'Invalid value: "": spec.tags in body shouldn\'t contain duplicates'),
        ),
        (
            {"tags": ["a", 1]},
            (
                "spec.tags[1]",
                'Invalid value: "integer": spec.tags[1] in body must be of type string: "integer"',
            ),
        ),
        ({"labels": {"k": "long"}}, ("spec.labels.k", "Too long: may not be more than 3 bytes")),
        (
            {"labels": {"a": "1", "b": "2", "c": "3"}},
            ("spec.labels", "Too many: 3: must have at most 2 items"),
        ),
        ({"template": {"spec": {}}}, ("spec.template.apiVersion", "Required value: must not be empty")),
        (
            {"choice": {}},
            (
                "spec.choice",
                'Invalid value: {}: "spec.choice" must validate one and only one schema '
                "(oneOf). Found none valid",
            ),
        ),
        (
            {"choice": {"a": "1", "b": "2"}},
            (
                "spec.choice",
                'Invalid value: {"a":"1","b":"2"}: "spec.choice" must validate one and '
                "only one schema (oneOf). Found 2 valid alternatives",
            ),
        ),
        (
            {"notEmpty": ""},
            ("spec.notEmpty", 'Invalid value: "": "spec.notEmpty" must not validate the schema (not)'),
        ),
        ({"both": 5}, ("spec.both", "Invalid value: 5: spec.both in body should be less than or equal to 4")),
    ],
)
def test_validation_messages(spec: dict[str, Any], expected: tuple[str, str]) -> None:
    assert expected in errors_of(spec)


def test_required_value() -> None:
    _, errors = validate_default_prune(obj({}), SCHEMA)
    assert errors == [("spec.image", "Required value")]
    assert reason_for(errors[0][1]) == "FieldValueRequired"
    assert reason_for("Unsupported value: 1") == "FieldValueNotSupported"
    assert reason_for("Invalid value: 1") == "FieldValueInvalid"


def test_valid_edge_values() -> None:
    assert (
        errors_of(
            {
                "replicas": 1,
                "port": "http",
                "ratio": 1.5,
                "since": "2026-11-22T00:29:43Z",
                "choice": {"a": "x"},
                "notEmpty": "y",
                "both": 3,
                "replicas_float": 1,
            }
        )
        == []
    )
    assert errors_of({"replicas": 7.0, "port": 8080}) == []


def test_metadata_name_constraints_apply() -> None:
    schema = {
        **SCHEMA,
        "properties": {
            **SCHEMA["properties"],
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 3}}},
        },
    }
    _, errors = validate_default_prune(obj({"image": "nginx"}), schema)
    assert errors == []
    long_name = obj({"image": "nginx"})
    long_name["metadata"]["name"] = "toolong"
    assert validate_default_prune(long_name, schema)[1] == [
        ("metadata.name", "Too long: may not be more than 3 bytes")
    ]


def test_input_is_not_modified() -> None:
    original = obj({"image": "nginx", "bogus": 1})
    validate_default_prune(original, SCHEMA)
    assert original["spec"] == {"image": "nginx", "bogus": 1}


def test_zkop_crd_and_example() -> None:
    crd = yaml.safe_load((REPO / "deploy/crds/zookeeperclusters.zkop.io.yaml").read_text())
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    example = yaml.safe_load((REPO / "examples/zookeeper-cluster.yaml").read_text())
    result, errors = validate_default_prune(example, schema)
    assert errors == []
    assert result["spec"]["replicas"] == example["spec"].get("replicas", 3)
    again, errors = validate_default_prune(result, schema)
    assert (again, errors) == (result, [])


# ------------------------------------------------------------------ properties

spec_values = st.fixed_dictionaries(
    {"image": st.from_regex(r"[a-z]{3,10}", fullmatch=True)},
    optional={
        "replicas": st.integers(1, 7),
        "mode": st.sampled_from(["a", "b"]),
        "tags": st.lists(st.text(alphabet="xyz", max_size=3), min_size=1, max_size=2, unique=True),
        "labels": st.dictionaries(
            st.text(alphabet="kl", min_size=1, max_size=2), st.text(alphabet="v", max_size=3), max_size=2
        ),
        "port": st.one_of(st.integers(1, 65535), st.text(alphabet="abc", min_size=1, max_size=5)),
        "extra": st.dictionaries(st.text(alphabet="ab", min_size=1, max_size=2), st.integers(), max_size=3),
        "junk": st.integers(),
    },
)


@settings(max_examples=150, deadline=None)
@given(spec_values)
def test_property_valid_objects_pass_and_processing_is_idempotent(spec: dict[str, Any]) -> None:
    result, errors = validate_default_prune(obj(spec), SCHEMA)
    assert errors == []
    assert "junk" not in result["spec"]
    assert validate_default_prune(result, SCHEMA) == (result, [])


@settings(max_examples=100, deadline=None)
@given(st.integers(-100, 100))
def test_property_bounds(replicas: int) -> None:
    errors = errors_of({"replicas": replicas})
    assert (errors == []) == (1 <= replicas <= 7)


# ------------------------------------------------------------------ built-in table


def test_generated_builtin_table_is_up_to_date() -> None:
    target = Path(gen_builtin_schema.__file__).with_name("_builtin_schema.py")
    assert target.read_text() == gen_builtin_schema.render()


def test_builtin_list_types_and_strategies() -> None:
    pod = schema_info.builtin_root(("", "v1", "Pod"))
    assert pod is not None
    spec = pod.child("spec")
    containers = spec.child("containers")
    assert (containers.list_type, containers.keys, containers.patch_merge_key) == ("map", ("name",), "name")
    assert "merge" in containers.patch_strategies
    mounts = containers.elem().child("volumeMounts")
    assert (mounts.keys, mounts.patch_merge_key) == (("mountPath",), "mountPath")
    ports = containers.elem().child("ports")
    assert ports.keys == ("containerPort", "protocol") and ports.key_defaults == {"protocol": "TCP"}
    assert spec.child("tolerations").list_type == "atomic"
    assert spec.child("volumes").patch_strategies == {"merge", "retainKeys"}
    meta = pod.child("metadata")
    assert meta.child("finalizers").list_type == "set"
    assert meta.child("ownerReferences").keys == ("uid",)
    assert meta.child("labels").kind == "map" and not meta.child("labels").atomic
    deploy = schema_info.builtin_root(("apps", "v1", "Deployment"))
    assert deploy is not None
    assert deploy.child("spec").child("selector").atomic
    assert deploy.child("spec").child("strategy").patch_strategies == {"retainKeys"}
    for gvk in [
        ("", "v1", k)
        for k in (
            "Service",
            "ConfigMap",
            "Secret",
            "PersistentVolumeClaim",
            "Endpoints",
            "ServiceAccount",
            "Node",
            "Namespace",
            "Event",
            "PodTemplate",
        )
    ] + [
        ("apps", "v1", "StatefulSet"),
        ("apps", "v1", "ReplicaSet"),
        ("policy", "v1", "PodDisruptionBudget"),
        ("discovery.k8s.io", "v1", "EndpointSlice"),
        ("coordination.k8s.io", "v1", "Lease"),
        ("events.k8s.io", "v1", "Event"),
    ]:
        assert schema_info.is_builtin(gvk), gvk
    assert schema_info.has_status_subresource(("apps", "v1", "StatefulSet"))
    assert not schema_info.has_status_subresource(("", "v1", "ConfigMap"))


def test_crd_nodes() -> None:
    root = schema_info.crd_node(SCHEMA, root=True)
    assert root.child("metadata").child("finalizers").list_type == "set"
    assert root.child("spec").child("tags").list_type == "atomic"
    assert root.child("spec").child("extra").child("anything").kind == "untyped"
    assert root.child("spec").child("labels").kind == "map"
    assert schema_info.has_status_subresource(("example.com", "v1", "Thing"), SCHEMA)
