"""Fixtures for integration tests: the local API server, the controller manager, and a client.

There is no kubelet here: tests play its part by patching pod status (Running + Ready) themselves.
Pods without ``spec.nodeName`` are deleted at once by the API server, so controller deletions complete
without a kubelet too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lightkube import AsyncClient, KubeConfig

from tests.local.controllers.harness import Cluster
from zkop_local.apiserver.server import ApiServer
from zkop_local.controllers.manager import ControllerManager
from zkop_local.controllers.resources import NAMESPACE


@pytest.fixture
async def c(tmp_path: Path) -> AsyncIterator[Cluster]:
    """A running API server with every controller started, and a client for the test."""
    server = ApiServer(bookmark_interval=0.5)
    await server.start()
    kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
    client = AsyncClient(config=KubeConfig.from_file(str(kubeconfig)), field_manager="test")
    manager = ControllerManager(client, tmp_path / "state")
    await manager.start()
    c = Cluster(client, server, tmp_path / "state")
    try:
        await c.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}})
        await manager.wait_synced()
        yield c
    finally:
        await manager.stop()
        await client.close()
        await server.stop()
