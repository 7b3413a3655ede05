"""ZookeeperConfigSync spec validation and its CRD."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from zkop.api.configsync import DEFAULT_MAX_VALUE_BYTES, JUTE_MAXBUFFER, ZookeeperConfigSyncSpec
from zkop.api.crd import all_crds
from zkop.api.validation import field_errors


def parse(**fields: Any) -> ZookeeperConfigSyncSpec:
    return ZookeeperConfigSyncSpec.model_validate(
        {"clusterRef": {"name": "zk"}, "path": "/config/app", **fields}
    )


def test_defaults_delete_on_deletion_and_stay_under_jute_maxbuffer() -> None:
    spec = parse()
    assert spec.deletion_policy == "Delete"
    assert spec.max_value_bytes == DEFAULT_MAX_VALUE_BYTES < JUTE_MAXBUFFER


@pytest.mark.parametrize("path", ["config", "/", "/a//b", "/a/", "/zookeeper/x", "/a/../b"])
def test_a_path_that_is_not_an_ordinary_znode_is_refused(path: str) -> None:
    with pytest.raises(ValidationError, match="path"):
        parse(path=path)


def test_a_config_map_and_a_secret_may_not_share_a_subtree() -> None:
    with pytest.raises(ValidationError, match="both write"):
        parse(configMaps=[{"name": "app"}], secrets=[{"name": "app"}])


def test_a_limit_above_jute_maxbuffer_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse(maxValueBytes=JUTE_MAXBUFFER + 1)


def test_the_crd_is_served_and_absent_cluster_state_gets_no_default() -> None:
    crd = next(c for c in all_crds() if c["spec"]["names"]["kind"] == "ZookeeperConfigSync")
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert "default" not in spec["properties"]["clusterState"]
    assert "default" not in spec["properties"]["clusterState"]["properties"]["pods"]
    assert spec["required"] == ["clusterRef", "path"]


def test_nothing_is_world_readable_unless_asked_and_readers_name_znodes() -> None:
    spec = parse(readers=[{"znode": "orders"}, {"znode": "billing"}])
    assert spec.world_readable is False
    assert [r.znode for r in spec.readers] == ["orders", "billing"]
    with pytest.raises(ValidationError, match="more than once: orders"):
        parse(readers=[{"znode": "orders"}, {"znode": "orders"}])
    with pytest.raises(ValidationError):
        parse(readers=[{"name": "orders"}])


def test_world_readable_secrets_are_refused_naming_the_field_and_the_fix() -> None:
    assert parse(worldReadable=True, configMaps=[{"name": "app"}]).world_readable is True
    with pytest.raises(ValidationError) as caught:
        parse(worldReadable=True, secrets=[{"name": "creds"}])
    (error,) = field_errors(caught.value, prefix=("spec",))
    assert error.field == "spec.worldReadable"
    assert "creds" in error.message and "worldReadable: false" in error.message
    assert "spec.readers" in error.message
