"""`PodRuntime`: the entry point that turns Pod objects into running local processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import markers
from .faults import wipe_directory
from .hosts import HostsProvider
from .images.table import ImageTable
from .network import BridgeNetwork
from .pods import PodWorker
from .probes import ProbeTarget, exec_in_container
from .processes import kill_container_processes, marked_processes
from .sources import ObjectSource, StaticSources

log = logging.getLogger(__name__)

Obj = Mapping[str, Any]


class PodRuntime:
    """Runs pods as processes in per-pod network namespaces on one bridge.

    Everything lives under ``state_dir/kubelet`` (pod directories, logs, pid registry), plus the instance's
    bridge ``zkb<instance>`` and namespaces ``zkop-<instance>-*``. ``backoff_base``/``backoff_cap`` are the
    crash-loop back-off (Kubernetes: 10 s doubling to 300 s); tests shorten them.
    """

    def __init__(
        self,
        state_dir: Path | str,
        *,
        sources: ObjectSource | None = None,
        hosts_provider: HostsProvider | None = None,
        images: ImageTable | None = None,
        instance: str | None = None,
        node_name: str = "local",
        backoff_base: float = 10.0,
        backoff_cap: float = 300.0,
        extra_env: Mapping[str, str] | None = None,
        volume_refresh_seconds: float = 5.0,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.root = self.state_dir / "kubelet"
        self.pods_dir = self.root / "pods"
        self.instance = instance or markers.default_instance(self.state_dir)
        self.node_name = node_name
        self.sources: ObjectSource = sources if sources is not None else StaticSources()
        self.hosts_provider = hosts_provider
        self.images = images or ImageTable()
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.extra_env = dict(extra_env or {})
        self.volume_refresh_seconds = volume_refresh_seconds
        self.network = BridgeNetwork(self.root, self.instance)
        self.registry = markers.PidRegistry(self.root / "pids")
        self.workers: dict[str, PodWorker] = {}
        self.changes: asyncio.Queue[str] = asyncio.Queue()
        self.lost = False
        self._refresher: asyncio.Task[None] | None = None
        self._guard: socket.socket | None = None

    # --- setup ----------------------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._guard is None:
            self._guard = markers.hold_instance(self.instance)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "instance.json").write_text(json.dumps({"instance": self.instance}))
        await self.network.setup()
        self._refresher = asyncio.create_task(self._refresh_loop())

    @property
    def host_ip(self) -> str:
        return self.network.host_ip

    def notify(self, uid: str) -> None:
        self.changes.put_nowait(uid)

    # --- pods -----------------------------------------------------------------------------------------------
    def worker_by_name(self, namespace: str, name: str) -> PodWorker | None:
        for w in self.workers.values():
            if w.namespace == namespace and w.name == name:
                return w
        return None

    def _worker(self, pod: Obj | str) -> PodWorker:
        if isinstance(pod, str):
            return self.workers[pod]
        uid = pod["metadata"].get("uid")
        if uid and uid in self.workers:
            return self.workers[uid]
        found = self.worker_by_name(pod["metadata"].get("namespace", "default"), pod["metadata"]["name"])
        if found is None:
            raise KeyError(f"pod {pod['metadata']['name']} is not known to this runtime")
        return found

    async def run_pod(self, pod: Obj) -> PodWorker:
        """Start the pod if it is new; otherwise take the newer object (labels etc.). Idempotent."""
        if self.lost:
            raise RuntimeError("node is lost")
        uid = pod["metadata"]["uid"]
        worker = self.workers.get(uid)
        if worker is not None:
            worker.pod = pod
            return worker
        worker = PodWorker(self, pod)
        self.workers[uid] = worker
        worker.start()
        # other pods may name this one: refresh every hosts file now that its address is reserved
        await self.refresh_hosts()
        return worker

    async def stop_pod(self, pod: Obj | str, grace_seconds: float | None = None, remove: bool = True) -> None:
        """Stop gracefully (SIGTERM, grace, SIGKILL), tear down the sandbox; ``remove`` deletes its files."""
        try:
            worker = self._worker(pod)
        except KeyError:
            return
        await worker.stop(grace_seconds)
        if remove:
            worker.remove_files()
            self.workers.pop(worker.uid, None)
        await self.refresh_hosts()

    def pod_status(self, pod: Obj | str) -> dict[str, Any]:
        return self._worker(pod).status()

    def pods_with_status(self) -> list[dict[str, Any]]:
        """This runtime's pods with their current status (for standalone hosts providers and tests)."""
        result: list[dict[str, Any]] = []
        for worker in self.workers.values():
            status = worker.status()
            if worker.pod_ip:
                status.setdefault("podIP", worker.pod_ip)
            result.append({**worker.pod, "status": status})
        return result

    def pod_ip(self, pod: Obj | str) -> str | None:
        return self._worker(pod).pod_ip

    async def refresh_hosts(self) -> None:
        """Rewrite every pod's /etc/hosts in place (call when pods, services or readiness change)."""
        for worker in list(self.workers.values()):
            if worker.dir.exists() and not worker.stopped.is_set():
                await worker.write_hosts()

    async def refresh_volumes(self) -> None:
        for worker in list(self.workers.values()):
            await worker.refresh_volumes()

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.volume_refresh_seconds)
            try:
                await self.refresh_volumes()
            except Exception:
                log.exception("volume refresh failed")

    # --- logs and exec -------------------------------------------------------------------------------------
    def log_path(self, uid: str, container: str, instance: int) -> Path:
        return self.pods_dir / uid / "logs" / container / f"{instance}.log"

    def read_log(
        self,
        pod: Obj | str,
        container: str | None = None,
        tail_lines: int | None = None,
        previous: bool = False,
    ) -> str:
        """The container's stdout+stderr (``previous``: the instance before the last restart)."""
        worker = self._worker(pod)
        tracker = (
            worker.tracker(container) if container else (worker.trackers[0] if worker.trackers else None)
        )
        if tracker is None:
            raise KeyError(f"container {container} not found in pod {worker.name}")
        instance = tracker.restart_count - (1 if previous else 0)
        if instance < 0:
            raise FileNotFoundError(f'previous terminated container "{tracker.name}" not found')
        path = self.log_path(worker.uid, tracker.name, instance)
        try:
            text = path.read_text(errors="replace")
        except FileNotFoundError:
            if previous:
                raise
            return ""
        if tail_lines is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-tail_lines:]) if tail_lines > 0 else ""
        return text

    async def exec(
        self, pod: Obj | str, container: str, argv: list[str], timeout: float | None = 30
    ) -> tuple[int | None, str]:
        """Run a command inside a running container (like kubectl exec, without a TTY)."""
        worker = self._worker(pod)
        target: ProbeTarget | None = worker.targets.get(container)
        if target is None or container not in worker.processes:
            raise RuntimeError(f"container {container} is not running")
        code, out = await exec_in_container(target, argv, timeout)
        return code, out.decode(errors="replace")

    # --- fault injection ------------------------------------------------------------------------------------
    def kill_processes(self, pod: Obj | str, container: str | None = None, sig: int = signal.SIGKILL) -> int:
        """kill -9 (by default) a pod's processes, or one container's; restart policy then applies."""
        worker = self._worker(pod)
        count = 0
        for name, proc in list(worker.processes.items()):
            if container is None or name == container:
                count += kill_container_processes(self.state_dir, worker.uid, name, sig, proc.pid)
        return count

    def freeze(self, pod: Obj | str) -> int:
        """SIGSTOP every process of the pod (network stays up: peers see a hung member)."""
        return self.kill_processes(pod, sig=signal.SIGSTOP)

    def thaw(self, pod: Obj | str) -> int:
        return self.kill_processes(pod, sig=signal.SIGCONT)

    async def wipe_claim(self, namespace: str, claim: str) -> int:
        """Wipe a PersistentVolumeClaim's directory in place (data loss), while pods keep running."""
        path = await self.sources.claim_path(namespace, claim)
        if not path:
            raise KeyError(f"claim {namespace}/{claim} is not bound")
        return await asyncio.to_thread(wipe_directory, path)

    async def lose_node(self) -> None:
        """Kill everything at once, like a node that lost power; pods are NOT reported as stopped, the node
        stops heart-beating (the controller side deletes the pods). Call `shutdown` to tidy up afterwards."""
        self.lost = True
        for pid in marked_processes(self.state_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for worker in list(self.workers.values()):
            worker.stopping = True
            worker._wake.set()
        await asyncio.sleep(0)

    # --- shutdown -------------------------------------------------------------------------------------------
    async def shutdown(self, grace_seconds: float | None = 0.0) -> None:
        """Stop every pod, remove their files, the bridge and the pid registry."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        await asyncio.gather(
            *(self.stop_pod(uid, grace_seconds) for uid in list(self.workers)), return_exceptions=True
        )
        from .cleanup import cleanup

        await asyncio.to_thread(cleanup, self.state_dir)
        if self._guard is not None:
            self._guard.close()
            self._guard = None
