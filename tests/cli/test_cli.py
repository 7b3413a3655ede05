"""The `zkop` command line: crds, render (with errors that name the field), version."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from zkop import __version__
from zkop.api.crd import all_crds
from zkop.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "zookeeper-cluster.yaml"


def test_crds_prints_every_crd_as_yaml() -> None:
    result = CliRunner().invoke(main, ["crds"])
    assert result.exit_code == 0
    assert list(yaml.safe_load_all(result.output)) == all_crds()


def test_render_prints_every_object_for_the_example() -> None:
    result = CliRunner().invoke(main, ["render", "-f", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    kinds = [d["kind"] for d in yaml.safe_load_all(result.output)]
    assert kinds == [
        "Secret",
        "ServiceAccount",
        "ConfigMap",
        "Service",
        "Service",
        "StatefulSet",
        "PodDisruptionBudget",
        "ConfigMap",  # the discovery ConfigMap applications read
        "NetworkPolicy",
    ]
    secret = next(yaml.safe_load_all(result.output))
    assert "data" not in secret  # no credential is ever printed


def test_render_refuses_an_invalid_resource_naming_each_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: zkop.io/v1alpha1\nkind: ZookeeperCluster\nmetadata: {name: zk}\n"
        "spec: {replicas: 0, config: {clientPort: 1}}\n"
    )
    result = CliRunner().invoke(main, ["render", "-f", str(bad)])
    assert result.exit_code == 2
    assert "error: spec.replicas: must be >= 1 (got 0)" in result.output
    assert "error: spec.config: key 'clientPort' is managed by zkop" in result.output


def test_render_refuses_a_document_that_is_not_a_cluster(tmp_path: Path) -> None:
    other = tmp_path / "cm.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    result = CliRunner().invoke(main, ["render", "-f", str(other)])
    assert result.exit_code != 0
    assert "expected exactly one ZookeeperCluster" in result.output


def test_version() -> None:
    result = CliRunner().invoke(main, ["version"])
    assert result.output.strip() == f"zkop {__version__}"


def test_run_requires_a_namespace_choice() -> None:
    result = CliRunner().invoke(main, ["run"])
    assert result.exit_code != 0
    assert "--namespace" in result.output
