"""The image table: image references -> local runtimes built from the host's files.

There is no registry and no image unpacking. An image is a recipe for the container's root: which host
directories are visible, the image's entrypoint/cmd/env/workdir, writable directories it would own, and extra
users. Unknown images fail the container with ErrImagePull/ImagePullBackOff.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

SHIM_DIR = Path(__file__).resolve().parent
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ZK_HOME = "/apache-zookeeper-3.8.0-bin"


@dataclass
class WritableDir:
    path: str
    uid: int = 0
    gid: int = 0
    mode: int = 0o755


@dataclass
class ImageRuntime:
    """What a container of this image looks like locally."""

    name: str
    image_id: str
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    ro_binds: list[tuple[str, str]] = field(default_factory=list)  # (host path, container path)
    symlinks: list[tuple[str, str]] = field(default_factory=list)  # (container path, link target)
    writable_dirs: list[WritableDir] = field(default_factory=list)  # fresh per container start
    users: list[tuple[str, int, int, str]] = field(default_factory=list)  # (name, uid, gid, home)


def java_home() -> str:
    java = shutil.which("java") or "/usr/bin/java"
    return str(Path(java).resolve().parent.parent)


def zookeeper_image(reference: str, heap_mb: int) -> ImageRuntime:
    """Debian's ZooKeeper 3.8.0 behind the official image's contract (env, dirs, uid 1000, entrypoint)."""
    shims = ["zkServer.sh", "zkCli.sh", "zkEnv.sh", "docker-entrypoint.sh"]
    binds = [(str(SHIM_DIR / s), f"{ZK_HOME}/bin/{s}") for s in shims]
    binds.append((str(SHIM_DIR / "log4j.properties"), f"{ZK_HOME}/conf/log4j.properties"))
    return ImageRuntime(
        name="zookeeper",
        image_id=f"local://zookeeper-debian-3.8.0@{reference}",
        entrypoint=["/docker-entrypoint.sh"],
        cmd=["zkServer.sh", "start-foreground"],
        env={
            "PATH": f"{BASE_PATH}:{ZK_HOME}/bin",
            "JAVA_HOME": java_home(),
            "ZOO_CONF_DIR": "/conf",
            "ZOO_DATA_DIR": "/data",
            "ZOO_DATA_LOG_DIR": "/datalog",
            "ZOO_LOG_DIR": "/logs",
            "ZOO_TICK_TIME": "2000",
            "ZOO_INIT_LIMIT": "5",
            "ZOO_SYNC_LIMIT": "2",
            "ZOO_AUTOPURGE_PURGEINTERVAL": "0",
            "ZOO_AUTOPURGE_SNAPRETAINCOUNT": "3",
            "ZOO_MAX_CLIENT_CNXNS": "60",
            "ZOO_STANDALONE_ENABLED": "true",
            "ZOO_ADMINSERVER_ENABLED": "true",
            "ZOOCFGDIR": "/conf",
            "ZK_SERVER_HEAP": str(heap_mb),
        },
        workdir=ZK_HOME,
        ro_binds=binds,
        symlinks=[("/docker-entrypoint.sh", f"{ZK_HOME}/bin/docker-entrypoint.sh")],
        writable_dirs=[WritableDir(p, 1000, 1000) for p in ("/conf", "/data", "/datalog", "/logs")],
        users=[("zookeeper", 1000, 1000, "/home/zookeeper")],
    )


def host_image(reference: str, default_cmd: list[str]) -> ImageRuntime:
    """Generic distribution images (debian, busybox, python, ...): the host's own binaries."""
    return ImageRuntime(
        name="host",
        image_id=f"local://host@{reference}",
        cmd=default_cmd,
        env={"PATH": BASE_PATH},
    )


def default_zkop_paths(python: str) -> list[str]:
    """Host paths the operator's venv needs: the venv, its base interpreter, the project (editable)."""
    paths: list[str] = []
    venv = Path(python).absolute().parent.parent
    paths.append(str(venv))
    base = Path(os.path.realpath(python)).parent.parent
    paths.append(str(base))
    spec = find_spec("zkop")
    if spec is not None and spec.origin:
        paths.append(str(Path(spec.origin).resolve().parent.parent))
    result: list[str] = []
    for p in sorted(set(paths), key=len):
        covered = any(p == q or p.startswith(q.rstrip("/") + "/") for q in result)
        if not covered and not p.startswith(("/usr", "/bin", "/lib", "/etc", "/sbin")):
            result.append(p)
    return result


def zkop_image(reference: str, python: str, paths: list[str]) -> ImageRuntime:
    venv_bin = str(Path(python).absolute().parent)
    return ImageRuntime(
        name="zkop",
        image_id=f"local://zkop-venv@{reference}",
        cmd=[python, "-m", "zkop"],
        env={"PATH": f"{venv_bin}:{BASE_PATH}", "PYTHONUNBUFFERED": "1"},
        ro_binds=[(p, p) for p in paths],
    )


def split_reference(reference: str) -> tuple[str, str]:
    """Repository (without docker.io/library/) and tag ('latest' if absent; a digest counts as the tag)."""
    ref = reference.strip()
    digest = ""
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    repo, tag = ref, ""
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
    for prefix in (
        "docker.io/library/",
        "index.docker.io/library/",
        "registry-1.docker.io/library/",
        "docker.io/",
    ):
        if repo.startswith(prefix):
            repo = repo[len(prefix) :]
            break
    return repo, tag or digest or "latest"


HOST_IMAGES: dict[str, list[str]] = {
    "debian": ["bash"],
    "ubuntu": ["bash"],
    "busybox": ["sh"],
    "python": ["python3"],
    "bash": ["bash"],
}


class ImageTable:
    """Resolves image references. ``extra`` entries (repository -> factory) take precedence."""

    def __init__(
        self,
        zkop_python: str | None = None,
        zkop_paths: list[str] | None = None,
        zookeeper_heap_mb: int = 128,
        extra: dict[str, Callable[[str], ImageRuntime]] | None = None,
    ) -> None:
        self.zkop_python = zkop_python or sys.executable
        self.zkop_paths = zkop_paths if zkop_paths is not None else default_zkop_paths(self.zkop_python)
        self.zookeeper_heap_mb = zookeeper_heap_mb
        self.extra = dict(extra or {})

    def resolve(self, reference: str) -> ImageRuntime | None:
        repo, _tag = split_reference(reference)
        if repo in self.extra:
            return self.extra[repo](reference)
        if repo == "zookeeper":
            return zookeeper_image(reference, self.zookeeper_heap_mb)
        if repo in HOST_IMAGES:
            return host_image(reference, HOST_IMAGES[repo])
        if repo == "zkop" or repo.endswith("/zkop"):
            return zkop_image(reference, self.zkop_python, self.zkop_paths)
        return None
