"""Remove everything the runtime made, also after a crash: processes, namespaces, veths, bridges, mounts,
state. Processes are killed only when they carry our marker (checked in /proc/<pid>/environ) and were
recorded in the state dir's pid registry (or belong to the session of a recorded process)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from pathlib import Path

from . import libc, markers
from .network import RUN_NETNS, ip_sync, release_run_netns

log = logging.getLogger(__name__)


def _owned_pids(state_dir: Path) -> list[int]:
    """Marked processes of this state dir that we recorded (or whose session leader or pod we recorded)."""
    root = state_dir.resolve()
    registry = markers.PidRegistry(root / "kubelet" / "pids")
    recorded: set[int] = set()
    pods: set[str] = set()
    for entry in registry.entries():
        pid = entry.get("pid")
        if isinstance(pid, int):
            recorded.add(pid)
        pods.add(str(entry.get("pod")))
    pods_dir = root / "kubelet" / "pods"
    if pods_dir.is_dir():
        pods.update(p.name for p in pods_dir.iterdir())
    registry_exists = registry.directory.is_dir()
    owned: list[int] = []
    me = os.getpid()
    for pid in markers.all_pids():
        if pid == me:
            continue
        marker = markers.read_marker(pid)
        if marker is None or marker.state_dir != str(root):
            continue
        session = markers.process_session(pid)
        # a child that left the container's session still names a pod we run; with no registry left (state dir
        # wiped) the marker naming this state dir is the proof
        if pid in recorded or session in recorded or marker.pod_uid in pods or not registry_exists:
            owned.append(pid)
    return owned


def kill_owned_processes(state_dir: Path, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        pids = _owned_pids(state_dir)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            log.warning("processes survived SIGKILL: %s", pids)
            return
        time.sleep(0.05)


def _instance_of(state_dir: Path) -> str:
    try:
        data = json.loads((state_dir / "kubelet" / "instance.json").read_text())
        return str(data["instance"])
    except (OSError, ValueError, KeyError):
        return markers.default_instance(state_dir)


def list_netns() -> list[str]:
    out = ip_sync("netns", "list", check=False)
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def list_links() -> list[tuple[str, str]]:
    """(name, kind) of host links; kind is 'bridge', 'veth' or ''."""
    result: list[tuple[str, str]] = []
    out = ip_sync("-o", "-d", "link", "show", check=False)
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) < 3:
            continue
        name = parts[1].strip().split("@")[0]
        kind = "bridge" if " bridge " in line else "veth" if " veth " in line else ""
        result.append((name, kind))
    return result


def _master(link: str) -> str | None:
    out = ip_sync("-o", "link", "show", link, check=False)
    marker = " master "
    return out.split(marker, 1)[1].split()[0] if marker in out else None


def _unmount_under(prefix: str) -> None:
    with open("/proc/self/mounts") as fh:
        targets = [line.split()[1] for line in fh]
    for target in sorted(
        (t for t in targets if t == prefix or t.startswith(prefix + "/")), key=len, reverse=True
    ):
        with contextlib.suppress(OSError):
            libc.umount(target, libc.MNT_DETACH)


def cleanup(state_dir: Path | str, remove_state: bool = True) -> None:
    """Tear down one runtime instance by its state dir: processes, netns, veths, bridge, mounts, files."""
    state = Path(state_dir).resolve()
    instance = _instance_of(state)
    kill_owned_processes(state)
    prefix = f"{markers.NETNS_PREFIX}{instance}-"
    for ns in list_netns():
        if ns.startswith(prefix):
            ip_sync("netns", "del", ns, check=False)
    bridge = markers.bridge_name(instance)
    for line in ip_sync("-o", "link", "show", "master", bridge, check=False).splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            name = parts[1].strip().split("@")[0]
            if name.startswith(markers.VETH_PREFIX):
                ip_sync("link", "del", name, check=False)
    if any(name == bridge for name, _ in list_links()):
        ip_sync("link", "del", bridge, check=False)
    _unmount_under(str(state))
    release_run_netns(state / "kubelet")
    if remove_state:
        root = state / "kubelet"
        if root.exists():
            from .pods import safe_rmtree

            safe_rmtree(root)


def cleanup_leftovers(state_dirs: list[Path] | None = None) -> None:
    """Remove whatever any zkop runtime left behind (after a crash): marked processes of every state dir we
    can find, every ``zkop-*`` namespace, every ``zkb*`` bridge and ``zkop-*`` veth."""
    dirs = {Path(d).resolve() for d in state_dirs or []}
    for pid in markers.all_pids():
        marker = markers.read_marker(pid)
        if marker is not None:
            dirs.add(Path(marker.state_dir))
    # An instance still held by a live process (another control plane, a test run beside this one) is
    # not a leftover: only dead instances are swept.
    for d in dirs:
        if not markers.instance_alive(_instance_of(d)):
            cleanup(d, remove_state=False)
    for ns in list_netns():
        instance = ns[len(markers.NETNS_PREFIX) :].split("-", 1)[0]
        if ns.startswith(markers.NETNS_PREFIX) and not markers.instance_alive(instance):
            ip_sync("netns", "del", ns, check=False)
    live_bridges = set()
    for name, kind in list_links():
        if kind == "bridge" and name.startswith(markers.BRIDGE_PREFIX):
            if markers.instance_alive(name[len(markers.BRIDGE_PREFIX) :]):
                live_bridges.add(name)
            else:
                ip_sync("link", "del", name, check=False)
    for name, kind in list_links():
        if kind == "veth" and name.startswith(markers.VETH_PREFIX) and _master(name) not in live_bridges:
            ip_sync("link", "del", name, check=False)
    for d in dirs:
        release_run_netns(d / "kubelet")
    if RUN_NETNS.exists():
        with open("/proc/self/mounts") as fh:
            stale = [line.split()[1] for line in fh if line.split()[1].startswith(f"{RUN_NETNS}/zkop-")]
        for target in stale:
            with contextlib.suppress(OSError):
                libc.umount(target, libc.MNT_DETACH)
