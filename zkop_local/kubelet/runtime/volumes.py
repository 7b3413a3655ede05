"""Pod volumes materialised on the host under the pod's directory (or, for claims, a provisioned directory).

configMap, secret, downwardAPI and projected volumes are written like the kubelet's atomic writer: the files
live in a timestamped directory, ``..data`` points to it, and each top-level name is a symlink through
``..data``. An update swaps ``..data`` atomically, so a running container sees the new content at the same
paths (the bind mount pins the volume directory, not the files).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .envvars import ConfigError, config_map_data, decode_secret, field_value, resource_value
from .sources import Obj, ObjectSource


class VolumeNotReady(Exception):
    """A volume cannot be set up yet (missing object, unbound claim); the pod stays ContainerCreating."""


@dataclass
class PreparedVolume:
    name: str
    host_path: Path
    read_only: bool  # forced read-only (configMap, secret, downwardAPI, projected)
    kind: str


def _items(
    data: Mapping[str, bytes],
    items: list[Mapping[str, Any]] | None,
    default_mode: int,
    what: str,
    optional: bool,
) -> dict[str, tuple[bytes, int]]:
    files: dict[str, tuple[bytes, int]] = {}
    if not items:
        for key, value in data.items():
            files[key] = (value, default_mode)
        return files
    for item in items:
        key = item["key"]
        if key not in data:
            if optional:
                continue
            raise VolumeNotReady(f"configuration key {key!r} not found in {what}")
        files[item["path"]] = (data[key], int(item.get("mode", default_mode)))
    return files


async def _config_map_files(
    source: ObjectSource, namespace: str, spec: Mapping[str, Any], default_mode: int
) -> dict[str, tuple[bytes, int]]:
    cm = await source.get_config_map(namespace, spec["name"])
    if cm is None:
        if spec.get("optional"):
            return {}
        raise VolumeNotReady(f'configmap "{spec["name"]}" not found')
    mode = int(spec.get("defaultMode", default_mode))
    return _items(
        config_map_data(cm), spec.get("items"), mode, f"configmap {spec['name']}", bool(spec.get("optional"))
    )


async def _secret_files(
    source: ObjectSource, namespace: str, spec: Mapping[str, Any], default_mode: int
) -> dict[str, tuple[bytes, int]]:
    name = spec.get("secretName") or spec.get("name")
    assert isinstance(name, str)
    sec = await source.get_secret(namespace, name)
    if sec is None:
        if spec.get("optional"):
            return {}
        raise VolumeNotReady(f'secret "{name}" not found')
    mode = int(spec.get("defaultMode", default_mode))
    return _items(decode_secret(sec), spec.get("items"), mode, f"secret {name}", bool(spec.get("optional")))


def _downward_files(
    pod: Obj, spec: Mapping[str, Any], default_mode: int, pod_ip: str | None, host_ip: str | None
) -> dict[str, tuple[bytes, int]]:
    mode = int(spec.get("defaultMode", default_mode))
    files: dict[str, tuple[bytes, int]] = {}
    for item in spec.get("items") or []:
        try:
            if "fieldRef" in item:
                value = field_value(pod, item["fieldRef"]["fieldPath"], pod_ip, host_ip)
            elif "resourceFieldRef" in item:
                value = resource_value(pod, None, item["resourceFieldRef"])
            else:
                continue
        except ConfigError as exc:
            raise VolumeNotReady(str(exc)) from exc
        files[item["path"]] = (value.encode(), int(item.get("mode", mode)))
    return files


def write_projection(directory: Path, files: Mapping[str, tuple[bytes, int]], fs_group: int | None) -> bool:
    """Atomically (re)write a projected volume. Returns whether anything changed."""
    directory.mkdir(parents=True, exist_ok=True)
    data_link = directory / "..data"
    if data_link.is_symlink():
        current = directory / os.readlink(data_link)
        if _same_content(current, files):
            return False
    stamp = directory / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.monotonic_ns()}"
    stamp.mkdir(mode=0o755)
    for rel, (content, mode) in files.items():
        path = stamp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        if fs_group is not None:
            # like the kubelet's SetVolumeOwnership for read-only volumes: group fsGroup, group-readable
            mode |= 0o440
            os.chown(path, -1, fs_group)
        os.chmod(path, mode)
    if fs_group is not None:
        for root, dirs, _ in os.walk(stamp):
            for d in [root, *[os.path.join(root, x) for x in dirs]]:
                os.chown(d, -1, fs_group)
    tmp_link = directory / "..data_tmp"
    tmp_link.unlink(missing_ok=True)
    os.symlink(stamp.name, tmp_link)
    old = os.readlink(data_link) if data_link.is_symlink() else None
    os.replace(tmp_link, data_link)
    wanted = {rel.split("/")[0] for rel in files}
    for entry in directory.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.name not in wanted and entry.is_symlink():
            entry.unlink()
    for top in wanted:
        link = directory / top
        if not link.is_symlink():
            os.symlink(f"..data/{top}", link)
    if old and old != stamp.name:
        shutil.rmtree(directory / old, ignore_errors=True)
    return True


def _same_content(current: Path, files: Mapping[str, tuple[bytes, int]]) -> bool:
    existing: set[str] = set()
    for root, _, names in os.walk(current):
        for name in names:
            existing.add(os.path.relpath(os.path.join(root, name), current))
    if existing != set(files):
        return False
    for rel, (content, mode) in files.items():
        path = current / rel
        if path.read_bytes() != content or (path.stat().st_mode & 0o7777) != mode:
            return False
    return True


def chown_tree_group(path: Path, gid: int) -> None:
    """fsGroup: group-own the volume, make it group-writable with setgid directories."""
    for root, dirs, names in os.walk(path):
        for d in [root, *[os.path.join(root, x) for x in dirs]]:
            os.chown(d, -1, gid)
            os.chmod(d, (os.stat(d).st_mode & 0o7777) | 0o2070)
        for name in names:
            f = os.path.join(root, name)
            if not os.path.islink(f):
                os.chown(f, -1, gid)
                os.chmod(f, (os.stat(f).st_mode & 0o7777) | 0o060)


async def prepare_volumes(
    pod: Obj,
    pod_dir: Path,
    source: ObjectSource,
    pod_ip: str | None,
    host_ip: str | None,
    fs_group: int | None,
    refresh: bool = False,
) -> tuple[dict[str, PreparedVolume], bool]:
    """Create or refresh every volume of the pod. Returns the volumes and whether a projection changed.

    ``refresh`` (periodic update of projections) skips the recursive fsGroup chown of claims.
    """
    namespace = pod["metadata"].get("namespace", "default")
    volumes: dict[str, PreparedVolume] = {}
    changed = False
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        name = vol["name"]
        vdir = pod_dir / "volumes" / name
        if "emptyDir" in vol:
            if not vdir.exists():
                vdir.mkdir(parents=True, mode=0o777)
                os.chmod(vdir, 0o777)
                if fs_group is not None:
                    chown_tree_group(vdir, fs_group)
            volumes[name] = PreparedVolume(name, vdir, False, "emptyDir")
        elif "configMap" in vol:
            files = await _config_map_files(source, namespace, vol["configMap"], 0o644)
            changed |= write_projection(vdir, files, fs_group)
            volumes[name] = PreparedVolume(name, vdir, True, "configMap")
        elif "secret" in vol:
            files = await _secret_files(source, namespace, vol["secret"], 0o644)
            changed |= write_projection(vdir, files, fs_group)
            volumes[name] = PreparedVolume(name, vdir, True, "secret")
        elif "downwardAPI" in vol:
            files = _downward_files(pod, vol["downwardAPI"], 0o644, pod_ip, host_ip)
            changed |= write_projection(vdir, files, fs_group)
            volumes[name] = PreparedVolume(name, vdir, True, "downwardAPI")
        elif "projected" in vol:
            spec = vol["projected"]
            mode = int(spec.get("defaultMode", 0o644))
            files = {}
            for src in spec.get("sources") or []:
                if "configMap" in src:
                    files.update(await _config_map_files(source, namespace, src["configMap"], mode))
                elif "secret" in src:
                    files.update(await _secret_files(source, namespace, src["secret"], mode))
                elif "downwardAPI" in src:
                    files.update(_downward_files(pod, src["downwardAPI"], mode, pod_ip, host_ip))
                elif "serviceAccountToken" in src:
                    # no token issuer locally: a placeholder for clients that only read the file
                    files[src["serviceAccountToken"].get("path", "token")] = (b"zkop-local-no-token", mode)
            changed |= write_projection(vdir, files, fs_group)
            volumes[name] = PreparedVolume(name, vdir, True, "projected")
        elif "persistentVolumeClaim" in vol:
            claim = vol["persistentVolumeClaim"]["claimName"]
            host = await source.claim_path(namespace, claim)
            if not host:
                raise VolumeNotReady(f'persistentvolumeclaim "{claim}" is not bound')
            path = Path(host)
            os.makedirs(path, exist_ok=True)
            if fs_group is not None and not refresh:
                chown_tree_group(path, fs_group)
            read_only = bool(vol["persistentVolumeClaim"].get("readOnly"))
            volumes[name] = PreparedVolume(name, path, read_only, "persistentVolumeClaim")
        elif "hostPath" in vol:
            path = Path(vol["hostPath"]["path"])
            if not path.exists():
                # creating host paths would put files outside the state directory
                raise VolumeNotReady(f"hostPath {path} does not exist (not created locally)")
            volumes[name] = PreparedVolume(name, path, False, "hostPath")
        else:
            raise VolumeNotReady(f"volume {name}: unsupported volume type {sorted(set(vol) - {'name'})}")
    return volumes, changed
