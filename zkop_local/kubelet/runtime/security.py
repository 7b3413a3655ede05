"""The process-level parts of a container's securityContext, as the launcher enforces them.

- ``capabilities``: the bounding set a container runtime (containerd) would give the container: its default
  set, then ``add: [ALL]``, ``drop: [ALL]``, the individual ``add``s, the individual ``drop``s. The launcher
  drops every other capability from the bounding set and clears the inheritable and ambient sets, so after
  ``execve`` a root process holds exactly that set and a non-root process none (a setuid-root binary is
  limited to the bounding set too).
- ``allowPrivilegeEscalation: false``: ``no_new_privs``.
- ``seccompProfile: {type: RuntimeDefault}``: a BPF filter approximating containerd's default profile as a
  deny list (see `runtime_default_filter`).

Without any of these fields nothing changes: the process keeps host root's capabilities (a real runtime would
give its default set) and runs unconfined. A ``privileged`` container keeps every capability and no filter.
"""

from __future__ import annotations

import errno
import logging
import platform
from collections.abc import Mapping
from typing import Any

log = logging.getLogger(__name__)

# index = capability number (linux/capability.h)
CAPABILITIES = (
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
)
CAP_NUMBER = {name: i for i, name in enumerate(CAPABILITIES)}
# "ALL": whatever the kernel has, including capabilities newer than this table
ALL_CAPS = frozenset(range(64))

# containerd's (and Docker's) default capability set for a non-privileged container
DEFAULT_CAPS = frozenset(
    CAP_NUMBER[name]
    for name in (
        "CHOWN",
        "DAC_OVERRIDE",
        "FSETID",
        "FOWNER",
        "MKNOD",
        "NET_RAW",
        "SETGID",
        "SETUID",
        "SETFCAP",
        "SETPCAP",
        "NET_BIND_SERVICE",
        "SYS_CHROOT",
        "KILL",
        "AUDIT_WRITE",
    )
)


def _cap_name(name: Any) -> str:
    upper = str(name).strip().upper()
    return upper[4:] if upper.startswith("CAP_") else upper


def bounding_set(capabilities: Mapping[str, Any] | None) -> list[int] | None:
    """The capability numbers a container keeps, or None when ``capabilities`` is not given (no change).

    Unknown names are ignored, as runc does (with a warning) for capabilities it does not know."""
    if capabilities is None:
        return None
    add = [_cap_name(c) for c in capabilities.get("add") or []]
    drop = [_cap_name(c) for c in capabilities.get("drop") or []]
    caps = set(DEFAULT_CAPS)
    if "ALL" in add:
        caps = set(ALL_CAPS)
    if "ALL" in drop:
        caps = set()
    for name in add:
        if name in CAP_NUMBER:
            caps.add(CAP_NUMBER[name])
        elif name != "ALL":
            log.warning("ignoring unknown capability %r", name)
    for name in drop:
        if name in CAP_NUMBER:
            caps.discard(CAP_NUMBER[name])
        elif name != "ALL":
            log.warning("ignoring unknown capability %r", name)
    return sorted(caps)


def process_hardening(sc: Mapping[str, Any]) -> dict[str, Any]:
    """Launch-spec fields for the merged (pod + container) securityContext; empty when nothing applies."""
    if sc.get("privileged"):
        return {}
    out: dict[str, Any] = {}
    caps = bounding_set(sc.get("capabilities"))
    if caps is not None:
        out["bounding_caps"] = caps
    if sc.get("allowPrivilegeEscalation") is False:
        out["no_new_privs"] = True
    profile = (sc.get("seccompProfile") or {}).get("type")
    if profile == "RuntimeDefault":
        program = runtime_default_filter(DEFAULT_CAPS if caps is None else frozenset(caps))
        if program is not None:
            out["seccomp_filter"] = program
    elif profile == "Localhost":
        log.warning("seccompProfile Localhost is not enforced by the local kubelet")
    return out


# --- seccomp -----------------------------------------------------------------------------------------------

# containerd's default profile is an allow list; this is the complement that matters, as a deny list: the
# syscalls it refuses outright, and those it allows only when the container holds one of the capabilities.
ALWAYS_DENIED = (
    "add_key",
    "keyctl",
    "request_key",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "nfsservctl",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "vm86",
    "vm86old",
    "swapon",
    "swapoff",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
)
DENIED_WITHOUT: dict[str, tuple[str, ...]] = {
    "SYS_ADMIN": (
        "fanotify_init",
        "fsconfig",
        "fsmount",
        "fsopen",
        "fspick",
        "lookup_dcookie",
        "mount",
        "mount_setattr",
        "move_mount",
        "name_to_handle_at",
        "open_tree",
        "pivot_root",
        "quotactl",
        "quotactl_fd",
        "setdomainname",
        "sethostname",
        "setns",
        "umount",
        "umount2",
        "unshare",
    ),
    "SYS_ADMIN|BPF": ("bpf",),
    "SYS_ADMIN|PERFMON": ("perf_event_open",),
    "SYS_ADMIN|SYSLOG": ("syslog",),
    "SYS_BOOT": ("reboot", "kexec_load", "kexec_file_load"),
    "SYS_CHROOT": ("chroot",),
    "SYS_MODULE": ("init_module", "finit_module", "delete_module"),
    "SYS_PACCT": ("acct",),
    "SYS_PTRACE": ("kcmp", "pidfd_getfd", "process_madvise", "userfaultfd"),
    "SYS_RAWIO": ("iopl", "ioperm"),
    "SYS_TIME": ("settimeofday", "stime", "clock_settime", "clock_adjtime"),
    "SYS_TTY_CONFIG": ("vhangup",),
    "SYS_NICE": ("get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"),
    "DAC_READ_SEARCH": ("open_by_handle_at",),
}
# personality(2) is allowed with these personas only (PER_LINUX, UNAME26, PER_LINUX32, ..., query)
PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
CLONE_NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000

# (x86_64, aarch64) numbers, None where the architecture lacks the call
# (from asm/unistd_64.h and asm-generic/unistd.h)
SYSCALLS: dict[str, tuple[int | None, int | None]] = {
    "acct": (163, 89),
    "add_key": (248, 217),
    "bpf": (321, 280),
    "chroot": (161, 51),
    "clock_adjtime": (305, 266),
    "clock_settime": (227, 112),
    "clone": (56, 220),
    "clone3": (435, 435),
    "create_module": (174, None),
    "delete_module": (176, 106),
    "fanotify_init": (300, 262),
    "finit_module": (313, 273),
    "fsconfig": (431, 431),
    "fsmount": (432, 432),
    "fsopen": (430, 430),
    "fspick": (433, 433),
    "get_kernel_syms": (177, None),
    "get_mempolicy": (239, 236),
    "init_module": (175, 105),
    "io_uring_enter": (426, 426),
    "io_uring_register": (427, 427),
    "io_uring_setup": (425, 425),
    "ioperm": (173, None),
    "iopl": (172, None),
    "kcmp": (312, 272),
    "kexec_file_load": (320, 294),
    "kexec_load": (246, 104),
    "keyctl": (250, 219),
    "lookup_dcookie": (212, 18),
    "mbind": (237, 235),
    "mount": (165, 40),
    "mount_setattr": (442, 442),
    "move_mount": (429, 429),
    "name_to_handle_at": (303, 264),
    "nfsservctl": (180, 42),
    "open_by_handle_at": (304, 265),
    "open_tree": (428, 428),
    "perf_event_open": (298, 241),
    "personality": (135, 92),
    "pidfd_getfd": (438, 438),
    "pivot_root": (155, 41),
    "process_madvise": (440, 440),
    "query_module": (178, None),
    "quotactl": (179, 60),
    "quotactl_fd": (443, 443),
    "reboot": (169, 142),
    "request_key": (249, 218),
    "set_mempolicy": (238, 237),
    "set_mempolicy_home_node": (450, 450),
    "setdomainname": (171, 162),
    "sethostname": (170, 161),
    "setns": (308, 268),
    "settimeofday": (164, 170),
    "stime": (None, None),
    "swapoff": (168, 225),
    "swapon": (167, 224),
    "_sysctl": (156, None),
    "sysfs": (139, None),
    "syslog": (103, 116),
    "umount": (None, None),
    "umount2": (166, 39),
    "unshare": (272, 97),
    "uselib": (134, None),
    "userfaultfd": (323, 282),
    "ustat": (136, None),
    "vhangup": (153, 58),
    "vm86": (None, None),
    "vm86old": (None, None),
}

# classic BPF
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16  # struct seccomp_data (args are 64-bit; low half on little-endian)

Instruction = tuple[int, int, int, int]  # code, jt, jf, k


def _syscall_number(name: str, machine: str) -> int | None:
    numbers = SYSCALLS.get(name, (None, None))
    return numbers[0] if machine == "x86_64" else numbers[1]


def denied_syscalls(caps: frozenset[int]) -> list[str]:
    names = list(ALWAYS_DENIED)
    for needs, calls in DENIED_WITHOUT.items():
        if not any(CAP_NUMBER[c] in caps for c in needs.split("|")):
            names.extend(calls)
    return names


def runtime_default_filter(caps: frozenset[int], machine: str | None = None) -> list[Instruction] | None:
    """A seccomp BPF program approximating containerd's RuntimeDefault profile for a container holding
    ``caps``: listed syscalls fail with EPERM (clone3 with ENOSYS, so libc falls back to clone), clone with
    namespace flags and unusual personas too, other architectures' syscalls (i386, x32) kill the process.
    None on an architecture without a table (the profile is then not enforced)."""
    machine = machine or platform.machine()
    arch = AUDIT_ARCH.get(machine)
    if arch is None:
        log.warning("seccomp RuntimeDefault is not enforced on %s", machine)
        return None
    eperm = (_RET_K, 0, 0, RET_ERRNO | errno.EPERM)
    allow = (_RET_K, 0, 0, RET_ALLOW)
    prog: list[Instruction] = [
        (_LD_W_ABS, 0, 0, _OFF_ARCH),
        (_JEQ_K, 1, 0, arch),
        (_RET_K, 0, 0, RET_KILL_PROCESS),
        (_LD_W_ABS, 0, 0, _OFF_NR),
    ]
    if machine == "x86_64":
        prog += [(_JGE_K, 0, 1, X32_SYSCALL_BIT), (_RET_K, 0, 0, RET_KILL_PROCESS)]
    seen: set[int] = set()
    for name in denied_syscalls(caps):
        nr = _syscall_number(name, machine)
        if nr is None or nr in seen:
            continue
        seen.add(nr)
        prog += [(_JEQ_K, 0, 1, nr), eperm]
    if CAP_NUMBER["SYS_ADMIN"] not in caps:
        clone3 = _syscall_number("clone3", machine)
        clone = _syscall_number("clone", machine)
        assert clone3 is not None and clone is not None
        prog += [(_JEQ_K, 0, 1, clone3), (_RET_K, 0, 0, RET_ERRNO | errno.ENOSYS)]
        # clone(flags, ...): flags is the first argument on x86_64 and arm64
        prog += [(_JEQ_K, 0, 3, clone), (_LD_W_ABS, 0, 0, _OFF_ARG0), (_JSET_K, 0, 1, CLONE_NAMESPACE_FLAGS)]
        prog += [eperm, (_LD_W_ABS, 0, 0, _OFF_NR)]
    personality = _syscall_number("personality", machine)
    assert personality is not None
    n = len(PERSONALITIES)
    prog += [(_JEQ_K, 0, n + 2, personality), (_LD_W_ABS, 0, 0, _OFF_ARG0)]
    # after the k-th of n comparisons, "allow" is n - k instructions ahead (the last one falls into eperm)
    prog += [(_JEQ_K, n - i, 0, p) for i, p in enumerate(PERSONALITIES)]
    prog += [eperm, allow]
    return prog
