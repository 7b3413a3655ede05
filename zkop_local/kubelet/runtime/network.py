"""Pod networking: one bridge per runtime instance, one network namespace and veth pair per pod.

Addresses exist only on the bridge and inside namespaces created here. The host side of the bridge holds
``<subnet>.1`` so processes on the host (operator, tests) reach pod IPs directly; there is no NAT, no
default route in pods and no forwarding change on the host.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import libc, markers

log = logging.getLogger(__name__)

RUN_NETNS = Path("/run/netns")
SUBNET_BASE = "10.244"


class NetworkError(RuntimeError):
    pass


async def ip(*args: str, check: bool = True) -> str:
    """Run ``ip`` and return its stdout."""
    proc = await asyncio.create_subprocess_exec(
        "ip", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    out, err = await proc.communicate()
    if check and proc.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {err.decode().strip()}")
    return out.decode()


def ip_sync(*args: str, check: bool = True) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def used_subnet_octets() -> set[int]:
    """Third octets of 10.244.X.0/24 ranges already present on host interfaces."""
    used: set[int] = set()
    for line in ip_sync("-4", "-o", "addr", "show").splitlines():
        fields = line.split()
        if "inet" in fields:
            addr = fields[fields.index("inet") + 1].split("/")[0]
            if addr.startswith(SUBNET_BASE + "."):
                used.add(int(addr.split(".")[2]))
    return used


@dataclass
class PodNetwork:
    netns: str
    veth: str
    ip: str

    @property
    def netns_path(self) -> str:
        return str(RUN_NETNS / self.netns)


class BridgeNetwork:
    """The instance's bridge and its /24; allocates pod addresses (.2-.254)."""

    def __init__(self, state_dir: Path, instance: str) -> None:
        self.state_dir = state_dir
        self.instance = instance
        self.bridge = markers.bridge_name(instance)
        self.octet: int | None = None
        self._allocated: dict[str, int] = {}
        self._lock = asyncio.Lock()

    @property
    def _state_file(self) -> Path:
        return self.state_dir / "network.json"

    @property
    def host_ip(self) -> str:
        assert self.octet is not None, "bridge not set up"
        return f"{SUBNET_BASE}.{self.octet}.1"

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        assert self.octet is not None, "bridge not set up"
        return ipaddress.IPv4Network(f"{SUBNET_BASE}.{self.octet}.0/24")

    async def setup(self) -> None:
        """Create the bridge (idempotent) with the host address .1 of a free 10.244.X.0/24."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        record_run_netns_state(self.state_dir, self.instance)
        existing = await ip("-o", "link", "show", "dev", self.bridge, check=False)
        if existing.strip():
            addrs = await ip("-4", "-o", "addr", "show", "dev", self.bridge)
            for line in addrs.split():
                if line.startswith(SUBNET_BASE + "."):
                    self.octet = int(line.split(".")[2])
            if self.octet is not None:
                return
        used = used_subnet_octets()
        start = 100 + int(self.instance, 16) % 150 if _is_hex(self.instance) else 100
        for offset in range(150):
            candidate = 100 + (start - 100 + offset) % 150
            if candidate not in used:
                self.octet = candidate
                break
        else:
            raise NetworkError("no free 10.244.X.0/24 for the pod network")
        if not existing.strip():
            await ip("link", "add", self.bridge, "type", "bridge")
        await ip("addr", "add", f"{self.host_ip}/24", "dev", self.bridge)
        await ip("link", "set", self.bridge, "up")
        self._state_file.write_text(json.dumps({"bridge": self.bridge, "octet": self.octet}))

    def _allocate(self, pod_uid: str) -> str:
        if pod_uid in self._allocated:
            return f"{SUBNET_BASE}.{self.octet}.{self._allocated[pod_uid]}"
        taken = set(self._allocated.values())
        for host in range(2, 255):
            if host not in taken:
                self._allocated[pod_uid] = host
                return f"{SUBNET_BASE}.{self.octet}.{host}"
        raise NetworkError("pod network is full")

    def reserve(self, pod_uid: str) -> str:
        """Reserve the pod's address now, so /etc/hosts can name it before the sandbox exists."""
        return self._allocate(pod_uid)

    async def create_pod_network(self, pod_uid: str) -> PodNetwork:
        async with self._lock:
            address = self._allocate(pod_uid)
            netns = markers.netns_name(self.instance, pod_uid)
            veth = markers.veth_name(self.instance, pod_uid)
            if (RUN_NETNS / netns).exists():
                await ip("netns", "del", netns, check=False)
            await ip("link", "del", veth, check=False)
            await ip("netns", "add", netns)
            try:
                await ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
                await ip("link", "set", veth, "master", self.bridge, "up")
                await ip("-n", netns, "addr", "add", f"{address}/24", "dev", "eth0")
                await ip("-n", netns, "link", "set", "eth0", "up")
                await ip("-n", netns, "link", "set", "lo", "up")
            except NetworkError:
                await ip("link", "del", veth, check=False)
                await ip("netns", "del", netns, check=False)
                raise
            return PodNetwork(netns=netns, veth=veth, ip=address)

    async def delete_pod_network(self, pod_uid: str, network: PodNetwork | None) -> None:
        async with self._lock:
            netns = network.netns if network else markers.netns_name(self.instance, pod_uid)
            veth = network.veth if network else markers.veth_name(self.instance, pod_uid)
            await ip("link", "del", veth, check=False)
            if (RUN_NETNS / netns).exists():
                await ip("netns", "del", netns, check=False)
            self._allocated.pop(pod_uid, None)

    async def teardown(self) -> None:
        await ip("link", "del", self.bridge, check=False)
        release_run_netns(self.state_dir)


def _is_hex(value: str) -> bool:
    try:
        int(value, 16)
    except ValueError:
        return False
    return True


# `ip netns add` turns /run/netns into a (shared) bind mount of itself the first time it is used and leaves it
# mounted. Each instance records what it found; when the last namespace goes, the mount and directory are
# undone if they were not there before zkop (absent, or holding only other zkop instances' namespaces).
_RUN_NETNS_RECORD = "run-netns.json"


def _is_mountpoint(path: Path) -> bool:
    target = str(path)
    try:
        with open("/proc/self/mounts") as fh:
            return any(line.split()[1] == target for line in fh)
    except OSError:
        return False


def record_run_netns_state(state_dir: Path, instance: str) -> None:
    record = state_dir / _RUN_NETNS_RECORD
    if record.exists():
        return
    entries = [p.name for p in RUN_NETNS.iterdir()] if RUN_NETNS.is_dir() else []
    other_zkop_bridges = any(
        name.startswith(markers.BRIDGE_PREFIX) and name != markers.bridge_name(instance)
        for name in _link_names()
    )
    # empty: zkop's if another zkop instance is alive (it made it and has no pods right now)
    zkop_only = all(e.startswith(markers.NETNS_PREFIX) for e in entries) if entries else other_zkop_bridges
    state = {"existed": RUN_NETNS.exists(), "zkop_only": zkop_only}
    record.write_text(json.dumps(state))


def _link_names() -> list[str]:
    out = ip_sync("-o", "link", "show", check=False)
    return [line.split(":", 2)[1].strip().split("@")[0] for line in out.splitlines() if line.count(":") >= 2]


def release_run_netns(state_dir: Path) -> None:
    """Undo the /run/netns mount (and directory) if zkop made it and no namespace is left in it."""
    record = state_dir / _RUN_NETNS_RECORD
    try:
        state = json.loads(record.read_text())
    except (OSError, ValueError):
        return
    if not RUN_NETNS.exists() or any(RUN_NETNS.iterdir()):
        return  # another instance (or tool) still has namespaces; whoever goes last undoes it
    if state.get("existed") and not state.get("zkop_only"):
        record.unlink(missing_ok=True)
        return
    if _is_mountpoint(RUN_NETNS):
        try:
            libc.umount(str(RUN_NETNS), libc.MNT_DETACH)
        except OSError as exc:
            log.warning("could not unmount %s: %s", RUN_NETNS, exc)
            return
    with contextlib.suppress(OSError):
        os.rmdir(RUN_NETNS)
    record.unlink(missing_ok=True)
