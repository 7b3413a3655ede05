"""Probes: exec (inside the container's namespaces and root), tcpSocket and httpGet (to the pod IP from the
host, which reaches pod IPs through the bridge)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .processes import LAUNCHER


@dataclass
class ProbeTarget:
    """What a probe needs to know about the running container."""

    pid: int
    pod_ip: str
    env: dict[str, str]
    uid: int | None
    gid: int | None
    ports: dict[str, int]
    # launcher fields (groups, bounding_caps, no_new_privs, seccomp_filter) when the container is hardened
    hardening: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProbeSettings:
    initial_delay: float
    period: float
    timeout: float
    failure_threshold: int
    success_threshold: int

    @classmethod
    def of(cls, probe: Mapping[str, Any]) -> ProbeSettings:
        return cls(
            initial_delay=float(probe.get("initialDelaySeconds", 0)),
            period=float(probe.get("periodSeconds", 10)),
            timeout=float(probe.get("timeoutSeconds", 1)),
            failure_threshold=int(probe.get("failureThreshold", 3)),
            success_threshold=int(probe.get("successThreshold", 1)),
        )


def nsenter_argv(pid: int, argv: Sequence[str], uid: int | None, gid: int | None) -> list[str]:
    """Run argv in a container's net, mount, UTS and IPC namespaces with its root and working directory."""
    cmd = ["nsenter", "-t", str(pid), "-n", "-m", "-u", "-i", "-r", "-w"]
    if gid is not None:
        cmd += ["-G", str(gid)]
    if uid is not None:
        cmd += ["-S", str(uid)]
    return [*cmd, "--", *argv]


def launcher_exec_argv(target: ProbeTarget, argv: Sequence[str]) -> list[str]:
    """Run argv in a hardened container through the launcher, which also drops capabilities, sets
    no_new_privs and installs the seccomp filter (nsenter cannot)."""
    spec = {**target.hardening, "pid": target.pid, "uid": target.uid, "gid": target.gid, "argv": list(argv)}
    return [sys.executable, "-I", "-S", LAUNCHER, "--exec", json.dumps(spec)]


async def exec_in_container(
    target: ProbeTarget, argv: Sequence[str], timeout: float | None
) -> tuple[int | None, bytes]:
    """Exit code (None on timeout) and combined output."""
    if target.hardening:
        command = launcher_exec_argv(target, argv)
    else:
        command = nsenter_argv(target.pid, argv, target.uid, target.gid)
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=target.env,
        start_new_session=True,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        return None, b""
    return proc.returncode, out


def _port(value: Any, target: ProbeTarget) -> int:
    if isinstance(value, int):
        return value
    if str(value).isdigit():
        return int(value)
    if value in target.ports:
        return target.ports[value]
    raise ValueError(f"unknown named port {value!r}")


async def _tcp(host: str, port: int, timeout: float) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _http(spec: Mapping[str, Any], target: ProbeTarget, timeout: float) -> bool:
    host = spec.get("host") or target.pod_ip
    port = _port(spec.get("port", 80), target)
    path = spec.get("path") or "/"
    scheme = str(spec.get("scheme", "HTTP")).upper()
    context: ssl.SSLContext | None = None
    if scheme == "HTTPS":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    headers = {
        "Host": f"{host}:{port}",
        "User-Agent": "kube-probe/1.37",
        "Accept": "*/*",
        "Connection": "close",
    }
    for h in spec.get("httpHeaders") or []:
        headers[h["name"]] = h["value"]

    async def go() -> bool:
        reader, writer = await asyncio.open_connection(host, port, ssl=context)
        try:
            request = (
                f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            )
            writer.write(request.encode())
            await writer.drain()
            status_line = await reader.readline()
            parts = status_line.decode(errors="replace").split()
            return len(parts) >= 2 and parts[1].isdigit() and 200 <= int(parts[1]) < 400
        finally:
            writer.close()

    try:
        return await asyncio.wait_for(go(), timeout=timeout)
    except (OSError, TimeoutError, ValueError):
        return False


async def run_probe(probe: Mapping[str, Any], target: ProbeTarget) -> bool:
    """One probe attempt."""
    settings = ProbeSettings.of(probe)
    if "exec" in probe:
        code, _ = await exec_in_container(target, probe["exec"].get("command") or [], settings.timeout)
        return code == 0
    if "tcpSocket" in probe:
        spec = probe["tcpSocket"]
        try:
            port = _port(spec["port"], target)
        except ValueError:
            return False
        return await _tcp(spec.get("host") or target.pod_ip, port, settings.timeout)
    if "httpGet" in probe:
        try:
            return await _http(probe["httpGet"], target, settings.timeout)
        except ValueError:
            return False
    if "grpc" in probe:
        return await _tcp(target.pod_ip, int(probe["grpc"]["port"]), settings.timeout)
    return False
