"""The kubelet loop against the local API server: node registration, binding, status, DNS, logs, deletion."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubelet_testlib import eventually, needs_netns
from lightkube import AsyncClient, KubeConfig
from lightkube.resources.core_v1 import ConfigMap, Node, Pod, Service

from zkop_local.kubelet.kubelet import Kubelet
from zkop_local.kubelet.runtime.cleanup import cleanup
from zkop_local.kubelet.runtime.runtime import PodRuntime

pytestmark = pytest.mark.netns


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[Any, AsyncClient, Kubelet]]:
    needs_netns()
    from zkop_local.apiserver.server import ApiServer

    api = ApiServer(bookmark_interval=0.5)
    await api.start()
    client = AsyncClient(
        KubeConfig.from_file(str(api.kubeconfig(tmp_path / "kubeconfig"))), field_manager="test"
    )
    runtime = PodRuntime(tmp_path / "state", backoff_base=0.3)
    kubelet = Kubelet(client, runtime, resync_seconds=0.5)
    api.set_log_provider(kubelet.log_provider)
    try:
        await kubelet.start()
        yield api, client, kubelet
    finally:
        try:
            await kubelet.stop()
            await api.stop()
        finally:
            cleanup(tmp_path / "state")


def _pod(name: str, script: str, mounts: list[dict[str, str]] | None = None, **spec: Any) -> Pod:
    container = {
        "name": "main",
        "image": "busybox:1.36",
        "command": ["sh", "-c", script],
        "volumeMounts": mounts or [],
    }
    return Pod.from_dict(
        {
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "demo"}},
            "spec": {"containers": [container], **spec},
        }
    )


async def _get(client: AsyncClient, name: str) -> dict[str, Any]:
    pod = await client.get(Pod, name, namespace="default")
    result: dict[str, Any] = pod.to_dict()
    return result


async def test_kubelet_runs_api_pods_reports_status_serves_logs_and_deletes(
    cluster: tuple[Any, AsyncClient, Kubelet],
) -> None:
    api, client, kubelet = cluster
    node = await client.get(Node, "local")
    assert node.status is not None and node.status.conditions is not None
    assert node.status.conditions[0].type == "Ready" and node.status.conditions[0].status == "True"
    await client.create(
        ConfigMap.from_dict({"metadata": {"name": "cm", "namespace": "default"}, "data": {"k": "v"}})
    )
    await client.create(
        Service.from_dict(
            {
                "metadata": {"name": "demo", "namespace": "default"},
                "spec": {"clusterIP": "None", "selector": {"app": "demo"}},
            }
        )
    )
    await client.create(
        _pod(
            "p0",
            "trap 'echo TERM; exit 0' TERM; echo hello from p0; cat /cfg/k; echo;"
            " while :; do sleep 0.1; done",
            hostname="p0",
            subdomain="demo",
            terminationGracePeriodSeconds=5,
            mounts=[{"name": "cfg", "mountPath": "/cfg"}],
            volumes=[{"name": "cfg", "configMap": {"name": "cm"}}],
        )
    )
    await client.create(_pod("p1", "until getent hosts p0.demo; do sleep 0.1; done; echo resolved; sleep 60"))

    async def running_and_ready() -> bool:
        pods = [await _get(client, n) for n in ("p0", "p1")]
        return all(
            p["spec"].get("nodeName") == "local"
            and p.get("status", {}).get("phase") == "Running"
            and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
            and p["status"].get("podIP")
            for p in pods
        )

    await eventually(running_and_ready, timeout=10, what="pods bound, running and ready")
    p0 = await _get(client, "p0")
    assert p0["status"]["containerStatuses"][0]["state"]["running"]
    assert p0["status"]["hostIP"] == kubelet.runtime.host_ip
    await eventually(lambda: "resolved" in kubelet.runtime.read_log(_uid(kubelet, "p1"), "main"), timeout=5)

    url = f"{api.url}/api/v1/namespaces/default/pods/p0/log?tailLines=5"
    text = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    assert "hello from p0\nv\n" in text

    await client.delete(Pod, "p0", namespace="default")

    async def gone() -> bool:
        return "p0" not in [
            p.metadata.name async for p in client.list(Pod, namespace="default") if p.metadata
        ]

    await eventually(gone, timeout=8, what="p0 deleted after graceful stop")
    assert kubelet.runtime.worker_by_name("default", "p0") is None


def _uid(kubelet: Kubelet, name: str) -> str:
    worker = kubelet.runtime.worker_by_name("default", name)
    assert worker is not None
    return worker.uid
