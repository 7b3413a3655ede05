"""The operator under kopf, against the local control plane's API server (no kubelet needed here)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lightkube import AsyncClient, KubeConfig
from lightkube.codecs import from_dict

from zkop.api.crd import all_crds
from zkop_local.apiserver.server import ApiServer


class RunningOperator:
    def __init__(self, server: ApiServer, kubeconfig: Path, client: AsyncClient) -> None:
        self.server = server
        self.kubeconfig = kubeconfig
        self.client = client


@pytest.fixture
async def operator(tmp_path: Path) -> AsyncIterator[RunningOperator]:
    """API server + CRDs + `zkop run --namespace default` equivalent (kopf in this process)."""
    server = ApiServer()
    await server.start()
    kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
    client = AsyncClient(KubeConfig.from_file(str(kubeconfig)))
    for crd in all_crds():
        await client.create(from_dict(crd))

    # `zkop run` in its own process, as users run it (kopf keeps login state per process).
    log = open(tmp_path / "operator.log", "wb")  # noqa: SIM115, ASYNC230 - closed below
    process = subprocess.Popen(  # noqa: ASYNC220 - a long-running child, not awaited here
        [sys.executable, "-m", "zkop", "run", "--namespace", "default"],
        env={**os.environ, "KUBECONFIG": str(kubeconfig), "ZKOP_RESYNC_SECONDS": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield RunningOperator(server, kubeconfig, client)
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        await client.close()
        await server.stop()
