"""Container launcher: the first program of every container process.

Run by the runtime as ``python -I -S launcher.py <spec.json>`` in a new session (so the container is its own
process group). It joins the pod's network namespace, makes private mount, UTS and IPC namespaces, builds
the container's root from a tmpfs plus bind mounts (all of them live only in this mount namespace and vanish
with its last process, so nothing is ever left mounted on the host), makes that root read-only before the
volumes go on top when asked (readOnlyRootFilesystem), chroots, drops privileges (groups, user, capabilities,
no_new_privs, seccomp) and execs the container command. ``launcher.py --exec '<json>'`` instead joins a
running container and execs a command there under the same restrictions. Only the standard library is used,
to start fast.

On any failure before exec it writes the reason to ``spec["error_file"]`` and exits with code 128.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import traceback
from typing import Any

if __package__:
    from . import libc
else:  # run as a script: import the sibling module without importing the (heavy) package
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import libc  # type: ignore[import-not-found,no-redef]

START_ERROR_EXIT = 128


def secure_join(root: str, path: str, create_dirs: bool = False, max_links: int = 40) -> str:
    """Resolve ``path`` inside ``root`` as if ``root`` were ``/``: symlinks (absolute or ``..``) never escape.

    With ``create_dirs``, missing components are created as directories (mode 0755) on the way.
    """
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        current = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            if not create_dirs:
                resolved.append(part)
                continue
            os.mkdir(current, 0o755)
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > max_links:
                raise OSError(f"too many symlinks resolving {path}")
            target = os.readlink(current)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _bind(source: str, target: str, readonly: bool, recursive: bool) -> None:
    flags = libc.MS_BIND | (libc.MS_REC if recursive else 0)
    libc.mount(source, target, None, flags)
    if readonly:
        libc.mount(None, target, None, libc.MS_BIND | libc.MS_REMOUNT | libc.MS_RDONLY)


def _overlay(root: str, lower: str, target: str) -> None:
    """A writable layer over a host directory. Upper and work dirs live on a tmpfs mounted beside the
    root in this mount namespace only: the layer vanishes with the container, the host is never written."""
    scratch = os.path.join(os.path.dirname(root), "overlay-scratch")
    os.makedirs(scratch, exist_ok=True)
    if not os.path.ismount(scratch):
        libc.mount("tmpfs", scratch, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, "mode=700")
    name = lower.strip("/").replace("/", "_") or "root"
    upper, work = os.path.join(scratch, f"{name}-upper"), os.path.join(scratch, f"{name}-work")
    os.makedirs(upper, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    libc.mount(
        "overlay", target, "overlay", libc.MS_NOSUID, f"lowerdir={lower},upperdir={upper},workdir={work}"
    )


def _mount_point(root: str, op: dict[str, Any]) -> str:
    """Create the mount point of a mount op (a directory, or an empty file for a file bind); its path."""
    target_path: str = op["target"]
    if op["op"] == "bind" and not os.path.isdir(op["source"]):
        secure_join(root, os.path.dirname(target_path), create_dirs=True)
        target = secure_join(root, target_path)
        if not os.path.lexists(target):
            with open(target, "a"):
                pass
        return target
    return secure_join(root, target_path, create_dirs=True)


def _apply_mount(root: str, op: dict[str, Any]) -> None:
    kind = op["op"]
    target_path: str = op["target"]
    if kind == "symlink":
        parent = secure_join(root, os.path.dirname(target_path), create_dirs=True)
        link = os.path.join(parent, os.path.basename(target_path))
        if not os.path.lexists(link):
            os.symlink(op["link"], link)
        return
    if kind == "file":
        parent = secure_join(root, os.path.dirname(target_path), create_dirs=True)
        with open(os.path.join(parent, os.path.basename(target_path)), "w") as fh:
            fh.write(op.get("content", ""))
        return
    target = _mount_point(root, op)
    if kind == "overlay":
        _overlay(root, op["source"], target)
    elif kind == "tmpfs":
        libc.mount("tmpfs", target, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, f"mode={op.get('mode', '755')}")
    elif kind == "proc":
        libc.mount("proc", target, "proc", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC)
    elif kind == "bind":
        _bind(op["source"], target, bool(op.get("readonly")), bool(op.get("recursive")))
    elif kind == "dir":
        os.chmod(target, int(op.get("mode", 0o755)))
    else:
        raise ValueError(f"unknown mount op {kind}")


def enter_sandbox(spec: dict[str, Any]) -> None:
    """Join the pod network, make the container's namespaces and root, and chroot into it."""
    netns = spec.get("netns")
    if netns:
        fd = os.open(netns, os.O_RDONLY)
        try:
            libc.setns(fd, libc.CLONE_NEWNET)
        finally:
            os.close(fd)
    libc.unshare(libc.CLONE_NEWNS | libc.CLONE_NEWUTS | libc.CLONE_NEWIPC)
    libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
    if spec.get("hostname"):
        libc.sethostname(spec["hostname"])
    root: str = spec["rootfs"]
    libc.mount("tmpfs", root, "tmpfs", libc.MS_NOSUID, "mode=755")
    layer = [op for op in spec["mounts"] if not op.get("volume")]
    volumes = [op for op in spec["mounts"] if op.get("volume")]
    for op in layer:
        _apply_op(root, op)
    if spec.get("readonly_root"):
        # mount points (and the working directory) are made while the root is still writable, as runc does
        for op in volumes:
            _apply_op(root, op, mount_point_only=True)
        if spec.get("workdir"):
            secure_join(root, spec["workdir"], create_dirs=True)
        make_readonly(root, spec.get("readonly_exempt") or [])
    for op in volumes:
        _apply_op(root, op)
    os.chroot(root)
    os.chdir("/")


def _apply_op(root: str, op: dict[str, Any], mount_point_only: bool = False) -> None:
    try:
        if mount_point_only:
            _mount_point(root, op)
        else:
            _apply_mount(root, op)
    except OSError as exc:
        raise OSError(exc.errno, f"mount {op.get('source', op['op'])} at {op['target']}: {exc}") from exc


_KEPT_FLAGS = {
    "nosuid": libc.MS_NOSUID,
    "nodev": libc.MS_NODEV,
    "noexec": libc.MS_NOEXEC,
    "noatime": libc.MS_NOATIME,
    "nodiratime": libc.MS_NODIRATIME,
    "relatime": libc.MS_RELATIME,
    "nosymfollow": libc.MS_NOSYMFOLLOW,
}


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    out: list[str] = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts_below(root: str) -> list[tuple[str, list[str]]]:
    """(mount point, per-mount options) of every mount at or below ``root``, in mount order."""
    root = os.path.realpath(root)
    found: list[tuple[str, list[str]]] = []
    with open("/proc/self/mountinfo") as fh:
        for line in fh:
            fields = line.split()
            point = _unescape(fields[4])
            if point == root or point.startswith(root.rstrip("/") + "/"):
                found.append((point, fields[5].split(",")))
    return found


def make_readonly(root: str, exempt: list[str]) -> None:
    """readOnlyRootFilesystem: remount every mount of the container's root read-only, except the ``exempt``
    container paths and what lies below them (/dev, /proc, /etc/hosts). A bind remount changes only that
    mount, in this mount namespace only; volumes mounted afterwards keep their own flags."""
    real_root = os.path.realpath(root)
    for point, options in mounts_below(real_root):
        inside = "/" + os.path.relpath(point, real_root) if point != real_root else "/"
        inside = os.path.normpath(inside)
        if any(inside == e or inside.startswith(e.rstrip("/") + "/") for e in exempt):
            continue
        if "ro" in options:
            continue
        flags = libc.MS_BIND | libc.MS_REMOUNT | libc.MS_RDONLY
        for option in options:
            flags |= _KEPT_FLAGS.get(option, 0)
        libc.mount(None, point, None, flags)


def drop_privileges(spec: dict[str, Any]) -> None:
    """Bounding set, seccomp filter (while CAP_SYS_ADMIN is still effective), groups and user, then the
    inheritable and ambient sets and no_new_privs. What is left is recomputed by the kernel at execve: a root
    process gets the bounding set, a non-root one nothing (a setuid-root binary: the bounding set)."""
    bounding = spec.get("bounding_caps")
    if bounding is not None:
        libc.drop_bounding_caps({int(c) for c in bounding})
    if spec.get("seccomp_filter"):
        libc.install_seccomp_filter(spec["seccomp_filter"])
    gid = spec.get("gid")
    uid = spec.get("uid")
    groups = [int(g) for g in spec.get("groups", [])]
    if gid is not None or groups or uid is not None:
        os.setgroups(groups)
    if gid is not None:
        os.setgid(int(gid))
    if uid is not None:
        os.setuid(int(uid))
    if bounding is not None:
        libc.clear_inheritable_caps()
        libc.clear_ambient_caps()
    if spec.get("no_new_privs"):
        libc.set_no_new_privs()


def enter_container(pid: int) -> None:
    """Join a running container's IPC, UTS, network and mount namespaces, root and working directory
    (what ``nsenter -t PID -i -u -n -m -r -w`` does)."""
    kinds = [
        ("ipc", libc.CLONE_NEWIPC),
        ("uts", libc.CLONE_NEWUTS),
        ("net", libc.CLONE_NEWNET),
        ("mnt", libc.CLONE_NEWNS),  # last: the /proc paths above are the host's
    ]
    fds = [(os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag) for name, flag in kinds]
    root_fd = os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    cwd_fd = os.open(f"/proc/{pid}/cwd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    for fd, flag in fds:
        libc.setns(fd, flag)
        os.close(fd)
    os.fchdir(root_fd)
    os.chroot(".")
    os.fchdir(cwd_fd)
    os.close(root_fd)
    os.close(cwd_fd)


def exec_main(spec: dict[str, Any]) -> None:
    """``launcher.py --exec '<json>'``: run a command in a running container with its user, groups,
    capabilities, no_new_privs and seccomp filter (exec probes, hooks and ``PodRuntime.exec`` of hardened
    containers); the environment is this process's. Exit codes as nsenter's: 126, or 127 when not found."""
    command: list[str] = spec["argv"]
    try:
        enter_container(int(spec["pid"]))
        drop_privileges(spec)
        if not command:
            raise ValueError("no command specified")
        os.execvpe(command[0], command, dict(os.environ))
    except BaseException as exc:
        sys.stderr.write(f"zkop launcher: exec failed: {type(exc).__name__}: {exc}\n")
        sys.stderr.flush()
        os._exit(127 if isinstance(exc, FileNotFoundError) else 126)


def main(argv: list[str]) -> None:
    if argv[1] == "--exec":
        exec_main(json.loads(argv[2]))
        return
    with open(argv[1]) as fh:
        spec: dict[str, Any] = json.load(fh)
    error_file: str = spec["error_file"]
    env: dict[str, str] = spec["env"]
    command: list[str] = spec["argv"]
    # opened before the chroot, which makes the host path unreachable; the runtime reads it if non-empty
    error_fd = os.open(error_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        enter_sandbox(spec)
        drop_privileges(spec)
        os.umask(0o022)
        workdir = spec.get("workdir") or "/"
        try:
            os.chdir(workdir)
        except FileNotFoundError:
            os.makedirs(workdir, exist_ok=True)
            os.chdir(workdir)
        if not command:
            raise ValueError("no command specified")
        os.execvpe(command[0], command, env)
    except BaseException as exc:
        message = f"{type(exc).__name__}: {exc}"
        try:
            sys.stderr.write(f"zkop launcher: failed to start container: {message}\n")
            sys.stderr.write(traceback.format_exc())
            sys.stderr.flush()
        finally:
            os.write(error_fd, message.encode())
            os._exit(START_ERROR_EXIT)


if __name__ == "__main__":
    main(sys.argv)
