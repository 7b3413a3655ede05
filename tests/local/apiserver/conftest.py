"""Fixtures: a started local API server, a kubeconfig for it, and clients pointed at it.

The server runs in the test's event loop, so synchronous clients (the official ``kubernetes`` client) must be
called through ``asyncio.to_thread`` and kubectl through an asyncio subprocess.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from apiserver_testlib import ZK_CRD, Http
from lightkube import AsyncClient, KubeConfig

from zkop_local.apiserver import ApiServer


@pytest.fixture
async def apiserver() -> AsyncIterator[ApiServer]:
    server = ApiServer(bookmark_interval=0.5)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def kubeconfig(apiserver: ApiServer, tmp_path: Path) -> Path:
    return apiserver.kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
async def lk(kubeconfig: Path) -> AsyncIterator[AsyncClient]:
    client = AsyncClient(config=KubeConfig.from_file(str(kubeconfig)), field_manager="zkop")
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def crd(apiserver: ApiServer) -> dict[str, Any]:
    """The example CRD, created directly in the server (established at once)."""
    return apiserver.create(ZK_CRD)


@pytest.fixture
async def http(apiserver: ApiServer) -> AsyncIterator[Http]:
    client = Http(apiserver.url)
    try:
        yield client
    finally:
        await client.close()
