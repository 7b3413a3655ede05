"""`zkop local up|status|kubeconfig|down` as a user runs them: kubectl works, and down leaves nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import leftovers

pytestmark = pytest.mark.netns
KUBECTL = str(Path(sys.executable).parent / "kubectl")


def zkop(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zkop", "local", "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_up_serves_kubectl_and_down_removes_everything(tmp_path: Path) -> None:
    state_dir = tmp_path / "plane"
    try:
        up = zkop(state_dir, "up")
        assert up.returncode == 0, up.stderr
        assert "KUBECONFIG=" in up.stdout
        kubeconfig = zkop(state_dir, "kubeconfig").stdout.strip().splitlines()[-1]
        assert Path(kubeconfig).exists()
        assert zkop(state_dir, "status").returncode == 0
        env = {**os.environ, "KUBECONFIG": kubeconfig}
        crds = subprocess.run(
            [KUBECTL, "get", "crd", "-o", "name", "--cache-dir", str(tmp_path / "cache")],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        assert "customresourcedefinition.apiextensions.k8s.io/zookeeperclusters.zkop.io" in crds.stdout
        nodes = subprocess.run(
            [KUBECTL, "get", "nodes", "--cache-dir", str(tmp_path / "cache")],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        assert "Ready" in nodes.stdout
    finally:
        down = zkop(state_dir, "down")
    assert down.returncode == 0, down.stderr
    assert leftovers(state_dir) == []
    assert not state_dir.exists()
    assert zkop(state_dir, "status").returncode == 3
