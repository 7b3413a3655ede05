"""Names and markers that identify everything this runtime creates, so cleanup can find it after a crash.

- network namespaces: ``zkop-<instance>-<pod>`` (in /run/netns, made by ``ip netns add``)
- bridges: ``zkb<instance>``; host-side veths: ``zkop-<8 hex>``
- processes: the environment variable ``ZKOP_LOCAL_POD=<state dir>|<pod uid>|<container>``,
  set by the launcher before exec, plus a pid registry file per container process in the state dir.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

MARKER_ENV = "ZKOP_LOCAL_POD"
NETNS_PREFIX = "zkop-"
VETH_PREFIX = "zkop-"
BRIDGE_PREFIX = "zkb"
IFNAMSIZ = 15


def default_instance(state_dir: Path) -> str:
    """A short, stable instance id derived from the state directory."""
    return hashlib.sha1(str(state_dir.resolve()).encode()).hexdigest()[:6]


def _guard_address(instance: str) -> bytes:
    return f"\0zkop-local-{instance}".encode()


def hold_instance(instance: str) -> socket.socket:
    """Claim an instance for this process's lifetime: an abstract unix socket (no file on disk, released
    by the kernel when the process dies). Leftover sweeps never touch an instance that is held."""
    guard = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        guard.bind(_guard_address(instance))
    except OSError:
        guard.close()
        raise
    return guard


def instance_alive(instance: str) -> bool:
    """True while some live process holds the instance (see `hold_instance`)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.bind(_guard_address(instance))
    except OSError:
        return True
    finally:
        probe.close()
    return False


def bridge_name(instance: str) -> str:
    name = BRIDGE_PREFIX + instance
    if len(name) > IFNAMSIZ:
        raise ValueError(f"instance id {instance!r} too long for an interface name")
    return name


def netns_name(instance: str, pod_uid: str) -> str:
    return f"{NETNS_PREFIX}{instance}-{pod_uid.replace('-', '')[:12]}"


def veth_name(instance: str, pod_uid: str) -> str:
    return VETH_PREFIX + hashlib.sha1(f"{instance}/{pod_uid}".encode()).hexdigest()[:8]


def marker_value(state_dir: Path, pod_uid: str, container: str) -> str:
    return f"{state_dir.resolve()}|{pod_uid}|{container}"


@dataclass(frozen=True)
class ProcessMarker:
    state_dir: str
    pod_uid: str
    container: str


def parse_marker(value: str) -> ProcessMarker | None:
    parts = value.split("|")
    if len(parts) != 3:
        return None
    return ProcessMarker(parts[0], parts[1], parts[2])


def read_marker(pid: int) -> ProcessMarker | None:
    """The marker in a process's initial environment, or None (also when the process is gone)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    prefix = MARKER_ENV.encode() + b"="
    for item in raw.split(b"\0"):
        if item.startswith(prefix):
            return parse_marker(item[len(prefix) :].decode(errors="replace"))
    return None


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks): tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def process_session(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[3])


class PidRegistry:
    """One file per container process we started: ``<dir>/<pid>.json`` with its start time and owner."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def record(self, pid: int, pod_uid: str, container: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        entry = {"pid": pid, "start": process_start_time(pid), "pod": pod_uid, "container": container}
        (self.directory / f"{pid}.json").write_text(json.dumps(entry))

    def forget(self, pid: int) -> None:
        (self.directory / f"{pid}.json").unlink(missing_ok=True)

    def entries(self) -> list[dict[str, object]]:
        result: list[dict[str, object]] = []
        if not self.directory.is_dir():
            return result
        for path in self.directory.glob("*.json"):
            try:
                result.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return result


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]
