"""The container's root, as a list of operations for the launcher (executed inside the container's own mount
namespace, on a fresh tmpfs: nothing is mounted, and no directory is created, on the host)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .images.table import ImageRuntime
from .volumes import PreparedVolume

Op = dict[str, Any]

HOST_TOP_LEVEL = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "opt")
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
# readOnlyRootFilesystem leaves these writable, as a container runtime does: /dev (with /dev/shm and the
# device nodes) and /proc are not part of the image, /etc/hosts is the kubelet's writable bind mount
# (/etc/hostname and /etc/resolv.conf become read-only, as containerd mounts them then).
WRITABLE_IN_READONLY_ROOT = ("/dev", "/proc", "/etc/hosts")


class MountError(Exception):
    """A volumeMount cannot be honoured (unknown volume, bad subPath): CreateContainerConfigError."""


def base_ops() -> list[Op]:
    ops: list[Op] = []
    for name in HOST_TOP_LEVEL:
        host = Path("/") / name
        if host.is_symlink():
            ops.append({"op": "symlink", "target": f"/{name}", "link": os.readlink(host)})
        elif host.is_dir():
            ops.append({"op": "bind", "source": str(host), "target": f"/{name}", "readonly": True})
    # /etc is a writable layer over the host's (as a container's root is): images and volumes may add
    # files and mount points there (e.g. a configMap at /etc/zkop) without touching the host.
    ops.append({"op": "overlay", "source": "/etc", "target": "/etc"})
    ops.append({"op": "proc", "target": "/proc"})
    ops.append({"op": "bind", "source": "/sys", "target": "/sys", "readonly": True})
    ops.append({"op": "tmpfs", "target": "/dev", "mode": "755"})
    for dev in DEVICES:
        if os.path.exists(f"/dev/{dev}"):
            ops.append({"op": "bind", "source": f"/dev/{dev}", "target": f"/dev/{dev}"})
    ops.append({"op": "symlink", "target": "/dev/fd", "link": "/proc/self/fd"})
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        ops.append({"op": "symlink", "target": f"/dev/{name}", "link": f"/proc/self/fd/{i}"})
    ops.append({"op": "tmpfs", "target": "/dev/shm", "mode": "1777"})
    for path, mode in (("/run", 0o755), ("/var/tmp", 0o1777), ("/root", 0o700), ("/home", 0o755)):
        ops.append({"op": "dir", "target": path, "mode": mode})
    return ops


def image_ops(image: ImageRuntime, layer_dir: Path) -> list[Op]:
    ops: list[Op] = []
    for host, target in image.ro_binds:
        ops.append({"op": "bind", "source": host, "target": target, "readonly": True, "recursive": True})
    for target, link in image.symlinks:
        ops.append({"op": "symlink", "target": target, "link": link})
    for wd in image.writable_dirs:
        source = layer_dir / wd.path.strip("/").replace("/", "_")
        ops.append({"op": "bind", "source": str(source), "target": wd.path})
    return ops


def pod_file_ops(pod_dir: Path, container_dir: Path, with_users: bool) -> list[Op]:
    ops: list[Op] = [
        {"op": "bind", "source": str(container_dir / "tmp"), "target": "/tmp"},
        {"op": "bind", "source": str(pod_dir / "hosts"), "target": "/etc/hosts"},
        {"op": "bind", "source": str(pod_dir / "hostname"), "target": "/etc/hostname"},
        {
            "op": "bind",
            "source": str(pod_dir / "resolv.conf"),
            "target": "/etc/resolv.conf",
            "readonly": True,
        },
    ]
    if with_users:
        ops.append(
            {"op": "bind", "source": str(container_dir / "passwd"), "target": "/etc/passwd", "readonly": True}
        )
        ops.append(
            {"op": "bind", "source": str(container_dir / "group"), "target": "/etc/group", "readonly": True}
        )
    return ops


def volume_ops(container: Mapping[str, Any], volumes: Mapping[str, PreparedVolume]) -> list[Op]:
    ops: list[Op] = []
    mounts = list(container.get("volumeMounts") or [])
    # parents before children, whatever the order in the spec
    mounts.sort(key=lambda m: len([p for p in str(m["mountPath"]).split("/") if p]))
    for vm in mounts:
        vol = volumes.get(vm["name"])
        if vol is None:
            raise MountError(f"volumeMount {vm['name']!r}: no such volume")
        source = vol.host_path
        sub = vm.get("subPath") or ""
        if sub:
            if sub.startswith("/") or ".." in Path(sub).parts:
                raise MountError(f"subPath {sub!r} must be relative and must not contain '..'")
            source = vol.host_path / sub
            if not os.path.lexists(source):
                if vol.read_only:
                    raise MountError(f"subPath {sub!r} not found in volume {vol.name}")
                source.mkdir(parents=True, exist_ok=True)
        ops.append(
            {
                "op": "bind",
                "source": str(source),
                "target": vm["mountPath"],
                "readonly": bool(vm.get("readOnly")) or vol.read_only,
                "recursive": True,
                "volume": True,  # mounted after the root is made read-only (readOnlyRootFilesystem)
            }
        )
    return ops


def users_files(image: ImageRuntime, container_dir: Path) -> None:
    """/etc/passwd and /etc/group: the host's, with the image's users replacing host entries of the same name
    or id (the host may well have another user with uid 1000)."""
    names = {u[0] for u in image.users}
    uids = {str(u[1]) for u in image.users}
    gids = {str(u[2]) for u in image.users}

    def keep(line: str, ids: set[str]) -> bool:
        fields = line.split(":")
        return fields[0] not in names and (len(fields) < 3 or fields[2] not in ids)

    passwd = [line for line in Path("/etc/passwd").read_text().splitlines() if keep(line, uids)]
    group = [line for line in Path("/etc/group").read_text().splitlines() if keep(line, gids)]
    for name, uid, gid, home in image.users:
        passwd.append(f"{name}:x:{uid}:{gid}::{home}:/bin/sh")
        group.append(f"{name}:x:{gid}:")
    (container_dir / "passwd").write_text("\n".join(passwd) + "\n")
    (container_dir / "group").write_text("\n".join(group) + "\n")
