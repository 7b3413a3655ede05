"""Helpers for the process-kubelet tests: pod builders, polling, and leftover inspection."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

NS = "ns"


def needs_netns() -> None:
    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("nsenter") is None:
        pytest.fail("needs root, iproute2 and util-linux (network namespaces); make test installs them")


def make_pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "uid": str(uuid.uuid4()), "labels": {"app": name}},
        "spec": {"containers": containers, "nodeName": "local", **spec},
    }


def shell(name: str, script: str, image: str = "debian:12", **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": image, "command": ["sh", "-c", script], **extra}


async def eventually(
    check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1, what: str = "condition"
) -> Any:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return result
        last = result
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def container_status(status: dict[str, Any], name: str) -> dict[str, Any]:
    for item in status.get("containerStatuses", []) + status.get("initContainerStatuses", []):
        if item["name"] == name:
            return dict(item)
    raise KeyError(name)


def condition(status: dict[str, Any], kind: str) -> str | None:
    for cond in status.get("conditions", []):
        if cond["type"] == kind:
            return str(cond["status"])
    return None


def four_letter(ip: str, command: str, port: int = 2181) -> str:
    try:
        with socket.create_connection((ip, port), timeout=1) as sock:
            sock.sendall(command.encode())
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
            return data.decode(errors="replace")
    except OSError as exc:
        return f"error: {exc}"


def netns_names() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def link_names() -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False).stdout
    return [line.split(":", 2)[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]


def mounts_under(*prefixes: str) -> list[str]:
    with open("/proc/self/mounts") as fh:
        targets = [line.split()[1] for line in fh]
    return [t for t in targets if any(t.startswith(p) for p in prefixes)]


def marked_pids(state_dir: Path) -> list[int]:
    from zkop_local.kubelet.runtime.processes import marked_processes

    return marked_processes(state_dir)


def proc_state(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]
