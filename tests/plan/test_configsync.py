"""What a config sync wants under its path: values as bytes, refusals reported, never truncated."""

from __future__ import annotations

import base64
import json
from typing import Any

from zkop.api.configsync import ZookeeperConfigSyncSpec
from zkop.plan.configsync import desired_znodes


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
