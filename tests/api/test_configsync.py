"""ZookeeperConfigSync spec validation and its CRD."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from zkop.api.configsync import DEFAULT_MAX_VALUE_BYTES, JUTE_MAXBUFFER, ZookeeperConfigSyncSpec
from zkop.api.crd import all_crds


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
