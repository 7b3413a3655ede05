"""End to end: the local control plane (API server, controllers, process kubelet) running zkop for real."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import Event, Secret

from tests.support.leaks import find_leaks, log_files, secret_needles
from zkop.kube.client import ZookeeperClusterResource
from zkop_local.cluster import LocalCluster
from zkop_local.kubelet.runtime import markers
from zkop_local.kubelet.runtime.cleanup import list_links, list_netns


def leftovers(state_dir: Path) -> list[str]:
    """Anything of this control plane still on the machine: processes, namespaces, links, mounts."""
    found = []
    instance = markers.default_instance(state_dir)
    instance_files = list((state_dir / "kubelet").glob("instance.json")) if state_dir.exists() else []
    found += [f"file {f}" for f in instance_files]
    found += [f"netns {n}" for n in list_netns() if n.startswith(f"zkop-{instance}-")]
    found += [f"link {n}" for n, _ in list_links() if n == markers.bridge_name(instance)]
    with open("/proc/self/mounts") as mounts:
        found += [f"mount {line.split()[1]}" for line in mounts if str(state_dir) in line.split()[1]]
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=True).stdout
    found += [f"process {line.strip()}" for line in ps.splitlines() if str(state_dir) in line]
    return found


@pytest.fixture
async def local_cluster(tmp_path: Path) -> AsyncIterator[LocalCluster]:
    state_dir = tmp_path / "local"
    cluster = LocalCluster(state_dir, operator_env={"ZKOP_RESYNC_SECONDS": "2"}, backoff_base=1.0)
    await cluster.start()
    leaks: list[str] = []
    try:
        yield cluster
        leaks = await secret_leaks(cluster)
    finally:
        await cluster.stop()
        assert leftovers(state_dir) == []
    assert leaks == [], f"secrets found in logs, status or events: {leaks}"


async def secret_leaks(cluster: LocalCluster) -> list[str]:
    """Every generated or mirrored secret value, looked for in the operator's and every pod's log, in
    every Event and in the status of every zkop resource (run after each e2e test)."""
    client = cluster.client
    assert client is not None
    secrets = [
        {k: base64.b64decode(v).decode(errors="replace") for k, v in (s.data or {}).items()}
        async for s in client.list(Secret, namespace="*")
    ]
    needles = secret_needles(secrets)
    texts = log_files(cluster.state_dir)
    texts["events"] = json.dumps([e.to_dict() async for e in client.list(Event, namespace="*")])
    for kind, plural in (
        ("ZookeeperCluster", "zookeeperclusters"),
        ("ZookeeperZnode", "zookeeperznodes"),
        ("ZookeeperServiceExport", "zookeeperserviceexports"),
        ("ZookeeperConfigSync", "zookeeperconfigsyncs"),
    ):
        resource = create_namespaced_resource("zkop.io", "v1alpha1", kind, plural)
        texts[f"{kind} status"] = json.dumps(
            [(o.to_dict().get("status") or {}) async for o in client.list(resource, namespace="*")]
        )
    return find_leaks(needles, texts)


async def cluster_status(
    cluster: LocalCluster, name: str = "zk", namespace: str = "default"
) -> dict[str, Any]:
    assert cluster.client is not None
    try:
        obj = await cluster.client.get(ZookeeperClusterResource, name, namespace=namespace)
    except ApiError:
        return {}
    status: dict[str, Any] = obj.to_dict().get("status") or {}
    return status


async def ready_status(cluster: LocalCluster, name: str = "zk") -> dict[str, Any] | None:
    status = await cluster_status(cluster, name)
    ready = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), None)
    return status if ready and ready["status"] == "True" else None
