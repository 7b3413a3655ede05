"""Pure pieces of the runtime (no namespaces needed): $(VAR) expansion, image references, hosts records,
projected-volume writes, capability sets and the seccomp filter."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from zkop_local.kubelet.runtime import security
from zkop_local.kubelet.runtime.envvars import expand
from zkop_local.kubelet.runtime.hosts import cluster_records, render_hosts, write_in_place
from zkop_local.kubelet.runtime.images.table import ImageTable, split_reference
from zkop_local.kubelet.runtime.volumes import write_projection


def test_expand_follows_kubernetes_rules() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)", env) == "1-two"
    assert expand("$$(A)", env) == "$(A)"
    assert expand("$(MISSING) $(A", env) == "$(MISSING) $(A"
    assert expand("cost $5", env) == "cost $5"


def test_image_references_resolve_to_local_runtimes() -> None:
    assert split_reference("docker.io/library/zookeeper:3.9.2") == ("zookeeper", "3.9.2")
    assert split_reference("localhost:5000/zkop") == ("localhost:5000/zkop", "latest")
    table = ImageTable(zkop_python="/usr/bin/python3", zkop_paths=[])
    zk = table.resolve("zookeeper:3.8")
    assert zk is not None and zk.entrypoint == ["/docker-entrypoint.sh"]
    assert zk.env["ZOOCFGDIR"] == "/conf" and zk.env["ZK_SERVER_HEAP"] == "128"
    assert table.resolve("docker.io/library/zookeeper:latest") is not None
    assert table.resolve("busybox") is not None and table.resolve("python:3.12-slim") is not None
    operator = table.resolve("ghcr.io/example/zkop:0.1")
    assert operator is not None and operator.cmd[:3] == ["/usr/bin/python3", "-m", "zkop"]
    assert table.resolve("quay.io/nope/nothing:1") is None


def _pod(name: str, ip: str, ready: bool, app: str = "zk", **spec: str) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": "ns", "labels": {"app": app}},
        "spec": dict(spec),
        "status": {"podIP": ip, "phase": "Running", "conditions": [{"type": "Ready", "status": str(ready)}]},
    }


def test_cluster_records_name_pods_behind_headless_services_and_one_endpoint_per_service() -> None:
    pods = [
        _pod("zk-1", "10.0.0.3", False, hostname="zk-1", subdomain="zk-hs"),
        _pod("zk-0", "10.0.0.2", True, hostname="zk-0", subdomain="zk-hs"),
        _pod("other", "10.0.0.9", True, app="other", hostname="other", subdomain="not-a-service"),
    ]
    services = [
        {
            "metadata": {"name": "zk-hs", "namespace": "ns"},
            "spec": {"clusterIP": "None", "selector": {"app": "zk"}},
        },
        {"metadata": {"name": "zk", "namespace": "ns"}, "spec": {"clusterIP": "", "selector": {"app": "zk"}}},
    ]
    lines = [line.split() for line in cluster_records(pods, services, for_namespace="ns")]
    assert ["10.0.0.2", "zk-0.zk-hs.ns.svc.cluster.local", "zk-0.zk-hs.ns.svc", "zk-0.zk-hs"] in lines
    assert ["10.0.0.3", "zk-1.zk-hs.ns.svc.cluster.local", "zk-1.zk-hs.ns.svc", "zk-1.zk-hs"] in lines
    assert not any("other" in " ".join(line) for line in lines)
    # services map to ONE ready endpoint (no ClusterIPs locally)
    assert ["10.0.0.2", "zk.ns.svc.cluster.local", "zk.ns.svc", "zk.ns", "zk"] in lines


def test_hosts_file_is_rewritten_in_place(tmp_path: Path) -> None:
    pod = {"metadata": {"name": "a", "namespace": "ns"}, "spec": {"hostname": "a", "subdomain": "s"}}
    path = tmp_path / "hosts"
    write_in_place(path, render_hosts(pod, "10.1.1.2", []))
    inode = path.stat().st_ino
    assert "10.1.1.2\ta.s.ns.svc.cluster.local" in path.read_text()
    assert write_in_place(path, render_hosts(pod, "10.1.1.2", ["10.1.1.3\tb.s.ns.svc.cluster.local"]))
    assert path.stat().st_ino == inode and "b.s.ns.svc.cluster.local" in path.read_text()


def test_projection_swaps_data_atomically(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    assert write_projection(vol, {"a": (b"1", 0o644), "dir/b": (b"2", 0o600)}, None)
    assert (vol / "a").read_text() == "1" and (vol / "dir" / "b").read_text() == "2"
    assert not write_projection(vol, {"a": (b"1", 0o644), "dir/b": (b"2", 0o600)}, None)
    assert write_projection(vol, {"a": (b"3", 0o644)}, None)
    assert (vol / "a").read_text() == "3" and not (vol / "dir").exists()
    assert len([p for p in os.listdir(vol) if p.startswith("..") and p != "..data"]) == 1


def _run_bpf(program: list[tuple[int, int, int, int]], nr: int, arch: int, arg0: int = 0) -> int:
    """A classic-BPF interpreter for the instructions the seccomp filter uses."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = program[pc]
        if code == 0x20:  # ld [k]
            acc = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code in (0x15, 0x35, 0x45):  # jeq, jge, jset
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if taken else jf)
        elif code == 0x06:  # ret
            return k
        else:
            raise AssertionError(f"unexpected BPF code {code:#x}")


def test_capability_sets_follow_containerd() -> None:
    names = {v: k for k, v in security.CAP_NUMBER.items()}
    assert security.bounding_set(None) is None
    assert security.bounding_set({}) == sorted(security.DEFAULT_CAPS)
    assert security.bounding_set({"drop": ["ALL"]}) == []
    assert security.bounding_set({"drop": ["all"], "add": ["net_bind_service", "CAP_KILL", "NOPE"]}) == [
        5,
        10,
    ]
    dropped = security.bounding_set({"drop": ["NET_RAW", "MKNOD"]})
    assert dropped is not None and {names[c] for c in dropped} == {
        names[c] for c in security.DEFAULT_CAPS
    } - {"NET_RAW", "MKNOD"}
    assert security.bounding_set({"add": ["ALL"], "drop": ["SYS_ADMIN"]}) == [
        c for c in range(64) if c != security.CAP_NUMBER["SYS_ADMIN"]
    ]
    assert security.process_hardening({"runAsUser": 1000, "readOnlyRootFilesystem": True}) == {}
    assert security.process_hardening({"allowPrivilegeEscalation": False}) == {"no_new_privs": True}
    assert security.process_hardening({"privileged": True, "capabilities": {"drop": ["ALL"]}}) == {}


def test_runtime_default_filter_decisions() -> None:
    x86 = security.AUDIT_ARCH["x86_64"]
    allow, eperm, enosys = security.RET_ALLOW, security.RET_ERRNO | 1, security.RET_ERRNO | 38
    nr = {name: numbers[0] for name, numbers in security.SYSCALLS.items() if numbers[0] is not None}
    default = security.runtime_default_filter(security.DEFAULT_CAPS, "x86_64")
    assert default is not None and len(default) < 4096
    for number in (0, 1, 59, 101, 257, nr["chroot"]):  # read, write, execve, ptrace, openat, chroot
        assert _run_bpf(default, number, x86) == allow, number
    for name in ("mount", "umount2", "unshare", "setns", "keyctl", "bpf", "reboot", "init_module", "acct"):
        assert _run_bpf(default, nr[name], x86) == eperm, name
    assert _run_bpf(default, nr["clone3"], x86) == enosys
    assert _run_bpf(default, nr["clone"], x86, arg0=0x01200011) == allow  # fork()
    assert _run_bpf(default, nr["clone"], x86, arg0=0x00010000 | 0x40000000) == eperm  # CLONE_NEWNET
    assert _run_bpf(default, nr["personality"], x86, arg0=0xFFFFFFFF) == allow
    assert _run_bpf(default, nr["personality"], x86, arg0=0x0008) == allow
    assert _run_bpf(default, nr["personality"], x86, arg0=0x0040000) == eperm  # ADDR_NO_RANDOMIZE
    assert _run_bpf(default, 0x40000000 | 1, x86) == security.RET_KILL_PROCESS  # x32 ABI
    assert _run_bpf(default, 1, 0x40000003) == security.RET_KILL_PROCESS  # i386
    none = security.runtime_default_filter(frozenset(), "x86_64")
    assert none is not None and _run_bpf(none, nr["chroot"], x86) == eperm
    admin = security.runtime_default_filter(security.DEFAULT_CAPS | {21}, "x86_64")
    assert admin is not None
    assert _run_bpf(admin, nr["mount"], x86) == _run_bpf(admin, nr["clone3"], x86) == allow
    assert _run_bpf(admin, nr["keyctl"], x86) == eperm
    arm = security.runtime_default_filter(security.DEFAULT_CAPS, "aarch64")
    assert arm is not None and _run_bpf(arm, 40, security.AUDIT_ARCH["aarch64"]) == eperm  # mount
    assert security.runtime_default_filter(security.DEFAULT_CAPS, "riscv64") is None
