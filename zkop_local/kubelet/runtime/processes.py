"""Container processes: launch through the launcher, wait, signal the process group, stop gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import markers

LAUNCHER = str(Path(__file__).resolve().parent / "launcher.py")


@dataclass
class ExitInfo:
    exit_code: int
    signal: int | None
    start_error: str | None


class ContainerProcess:
    """One running container: its main process is the leader of its own process group."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        error_file: Path,
        registry: markers.PidRegistry,
        state_dir: Path,
        pod_uid: str,
        container: str,
    ) -> None:
        self.proc = proc
        self.pid = proc.pid
        self.error_file = error_file
        self.registry = registry
        self.state_dir = state_dir
        self.pod_uid = pod_uid
        self.container = container
        self._exit: ExitInfo | None = None
        self._wait_task: asyncio.Task[ExitInfo] = asyncio.ensure_future(self._wait())

    async def _wait(self) -> ExitInfo:
        code = await self.proc.wait()
        # the main process is gone; like a PID namespace's init, take the rest of the container with it
        kill_container_processes(self.state_dir, self.pod_uid, self.container, signal.SIGKILL, self.pid)
        self.registry.forget(self.pid)
        error = None
        with contextlib.suppress(OSError):
            error = self.error_file.read_text().strip() or None
        if code < 0:
            return ExitInfo(128 - code, -code, error)
        return ExitInfo(code, None, error)

    @property
    def running(self) -> bool:
        return not self._wait_task.done()

    async def wait(self) -> ExitInfo:
        return await asyncio.shield(self._wait_task)

    def signal_group(self, sig: int) -> None:
        if self._wait_task.done():
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def stop(self, grace_seconds: float) -> ExitInfo:
        """SIGTERM to the process group, up to ``grace_seconds``, then SIGKILL."""
        if self._wait_task.done():
            return self._wait_task.result()
        self.signal_group(signal.SIGCONT)  # a frozen container must be able to handle SIGTERM
        self.signal_group(signal.SIGTERM)
        try:
            return await asyncio.wait_for(asyncio.shield(self._wait_task), timeout=max(grace_seconds, 0.0))
        except TimeoutError:
            self.signal_group(signal.SIGKILL)
            return await asyncio.shield(self._wait_task)


async def launch(
    spec: dict[str, Any],
    container_dir: Path,
    log_path: Path,
    registry: markers.PidRegistry,
    state_dir: Path,
    pod_uid: str,
    container: str,
) -> ContainerProcess:
    spec_path = container_dir / "launch.json"
    error_file = container_dir / "start-error"
    error_file.unlink(missing_ok=True)
    spec = dict(spec, error_file=str(error_file))
    spec_path.write_text(json.dumps(spec))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-S",
            LAUNCHER,
            str(spec_path),
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={markers.MARKER_ENV: markers.marker_value(state_dir, pod_uid, container)},
        )
    finally:
        os.close(log_fd)
    registry.record(proc.pid, pod_uid, container)
    return ContainerProcess(proc, error_file, registry, state_dir, pod_uid, container)


def marked_processes(state_dir: Path, pod_uid: str | None = None, container: str | None = None) -> list[int]:
    """PIDs whose environment carries our marker for this state dir (optionally one pod / container)."""
    root = str(state_dir.resolve())
    found: list[int] = []
    me = os.getpid()
    for pid in markers.all_pids():
        if pid == me:
            continue
        marker = markers.read_marker(pid)
        if marker is None or marker.state_dir != root:
            continue
        if pod_uid is not None and marker.pod_uid != pod_uid:
            continue
        if container is not None and marker.container != container:
            continue
        found.append(pid)
    return found


def kill_container_processes(
    state_dir: Path, pod_uid: str, container: str | None, sig: int, pgid: int | None = None
) -> int:
    """Signal the container's process group and every marked process of it; returns how many."""
    count = 0
    if pgid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)
            count += 1
    for pid in marked_processes(state_dir, pod_uid, container):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
            count += 1
    return count
