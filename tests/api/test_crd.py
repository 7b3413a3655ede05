"""The checked-in CRD is generated from the models, and is a structural schema Kubernetes accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from zkop.api.crd import all_crds

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "crds"


def test_checked_in_crds_match_the_models() -> None:
    for crd in all_crds():
        path = DEPLOY / f"{crd['metadata']['name']}.yaml"
        assert path.exists(), f"{path} missing: run `make crds`"
        assert yaml.safe_load(path.read_text()) == crd, f"{path} drifted from the models: run `make crds`"


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, value in node.items():
            found += _walk(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _walk(value, f"{path}[{i}]")
    return found


@pytest.mark.parametrize("crd", all_crds(), ids=lambda c: c["metadata"]["name"])
def test_schema_is_structural(crd: dict[str, Any]) -> None:
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    for path, node in _walk(schema):
        assert "$ref" not in node and "$defs" not in node and "title" not in node, path
        assert not ("properties" in node and "additionalProperties" in node), path
        if "properties" in node:
            assert node.get("type") == "object", path
        assert "anyOf" not in node or all("type" not in b for b in node["anyOf"]), path


def test_schema_refuses_zero_replicas_and_prints_the_columns_users_want() -> None:
    crd = next(c for c in all_crds() if c["spec"]["names"]["kind"] == "ZookeeperCluster")
    version = crd["spec"]["versions"][0]
    replicas = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["replicas"]
    assert replicas["minimum"] == 1 and replicas["maximum"] == 9
    columns = [c["name"] for c in version["additionalPrinterColumns"] if c.get("priority", 0) == 0]
    assert columns == ["Ready", "Replicas", "Leader", "Age"]
    assert crd["spec"]["names"]["shortNames"] == ["zk"]
    assert version["subresources"] == {"status": {}}


def test_znode_schema_leaves_optional_objects_absent_instead_of_defaulting_them() -> None:
    # A defaulted `quota: {}` or `usage: {}` would mean "a quota with no limit" and fail required fields.
    crd = next(c for c in all_crds() if c["spec"]["names"]["kind"] == "ZookeeperZnode")
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    assert "default" not in schema["spec"]["properties"]["quota"]
    assert "default" not in schema["status"]["properties"]["usage"]
    assert schema["spec"]["properties"]["deletionPolicy"]["default"] == "Retain"
    assert schema["spec"]["required"] == ["clusterRef"]
