"""One local control plane: API server, controllers, a process kubelet, and (optionally) the operator.

This is what `zkop local up` runs in its background process and what end-to-end tests start directly.
The operator runs unmodified as `zkop run --all-namespaces` in its own process, pointed at the kubeconfig
this writes, exactly as a user runs it against a real cluster from a workstation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from lightkube import ApiError, AsyncClient, KubeConfig
from lightkube.codecs import from_dict

from zkop.api.crd import all_crds
from zkop_local.apiserver.server import ApiServer
from zkop_local.controllers.manager import ControllerManager
from zkop_local.kubelet.kubelet import Kubelet
from zkop_local.kubelet.runtime.cleanup import cleanup
from zkop_local.kubelet.runtime.runtime import PodRuntime

log = logging.getLogger(__name__)


class LocalCluster:
    """Start with `await cluster.start()`, stop with `await cluster.stop()`; nothing is left behind."""

    def __init__(
        self,
        state_dir: Path | str,
        *,
        port: int = 0,
        run_operator: bool = True,
        operator_env: dict[str, str] | None = None,
        backoff_base: float = 2.0,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.port = port
        self.run_operator = run_operator
        self.operator_env = dict(operator_env or {})
        self.backoff_base = backoff_base
        self.server = ApiServer()
        self.kubeconfig = self.state_dir / "kubeconfig"
        self.client: AsyncClient | None = None
        self.controllers: ControllerManager | None = None
        self.runtime: PodRuntime | None = None
        self.kubelet: Kubelet | None = None
        self.operator: subprocess.Popen[bytes] | None = None
        self._operator_log: IO[bytes] | None = None

    async def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        await self.server.start(port=self.port)
        self.server.kubeconfig(self.kubeconfig)
        self.client = AsyncClient(KubeConfig.from_file(str(self.kubeconfig)))
        self.controllers = ControllerManager(self.client, self.state_dir)
        await self.controllers.start()
        self.runtime = PodRuntime(self.state_dir, backoff_base=self.backoff_base)
        self.kubelet = Kubelet(self.client, self.runtime)
        await self.kubelet.start()
        self.server.set_log_provider(self.kubelet.log_provider)
        await self.install_crds()
        if self.run_operator:
            self.start_operator()

    async def install_crds(self) -> None:
        assert self.client is not None
        for crd in all_crds():
            with contextlib.suppress(ApiError):
                await self.client.create(from_dict(crd))

    def start_operator(self) -> None:
        """`zkop run --all-namespaces` against this control plane, logging to operator.log."""
        if self.operator is not None and self.operator.poll() is None:
            return
        self._operator_log = open(self.state_dir / "operator.log", "ab")  # noqa: SIM115 - closed in stop
        self.operator = subprocess.Popen(
            [sys.executable, "-m", "zkop", "run", "--all-namespaces"],
            env={**os.environ, "KUBECONFIG": str(self.kubeconfig), **self.operator_env},
            stdout=self._operator_log,
            stderr=subprocess.STDOUT,
        )

    def stop_operator(self, sig: int = signal.SIGTERM) -> None:
        if self.operator is None:
            return
        if self.operator.poll() is None:
            self.operator.send_signal(sig)
            try:
                self.operator.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.operator.kill()
                self.operator.wait(timeout=5)
        self.operator = None
        if self._operator_log is not None:
            self._operator_log.close()
            self._operator_log = None

    async def stop(self) -> None:
        self.stop_operator()
        if self.kubelet is not None:
            with contextlib.suppress(Exception):
                await self.kubelet.stop()
        if self.controllers is not None:
            with contextlib.suppress(Exception):
                await self.controllers.stop()
        if self.client is not None:
            await self.client.close()
        await self.server.stop()
        # Whatever the kubelet could not stop gracefully (a crash mid-way) goes by its markers.
        await asyncio.to_thread(cleanup, self.state_dir, False)
