"""securityContext on real processes: readOnlyRootFilesystem, capabilities, allowPrivilegeEscalation
(no_new_privs) and the RuntimeDefault seccomp profile, for the container's process and for exec."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubelet_testlib import NS, condition, container_status, eventually, four_letter, make_pod, shell

from zkop_local.kubelet.runtime.runtime import PodRuntime
from zkop_local.kubelet.runtime.security import CAP_NUMBER, DEFAULT_CAPS
from zkop_local.kubelet.runtime.sources import StaticSources

pytestmark = pytest.mark.netns

STATUS = "grep -E '^(Cap|NoNewPrivs|Seccomp:|Uid)' /proc/self/status"
WRITABLE = (
    'for p in {paths}; do if touch $p/.probe 2>/dev/null; then echo "rw $p"; else echo "ro $p"; fi; done'
)
HARDENED_POD = {
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "runAsGroup": 1000,
    "fsGroup": 1000,
    "seccompProfile": {"type": "RuntimeDefault"},
}
HARDENED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
VOLUMES = [
    {"name": "tmp", "emptyDir": {}},
    {"name": "logs", "emptyDir": {}},
    {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
]
MOUNTS = [
    {"name": "tmp", "mountPath": "/tmp"},
    {"name": "logs", "mountPath": "/logs"},
    {"name": "data", "mountPath": "/data"},
]


def status_fields(text: str) -> dict[str, str]:
    """The /proc/<pid>/status lines of ``text`` as a dict (values with their tabs squeezed)."""
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key and " " not in key:
            fields[key] = " ".join(value.split())
    return fields


def caps_mask(*names: str) -> str:
    return f"{sum(1 << CAP_NUMBER[n] for n in names):016x}"


async def run_to_done(runtime: PodRuntime, pod: dict[str, Any], *containers: str) -> dict[str, str]:
    """Each container's log once all of them have printed DONE."""

    def done() -> bool:
        return all("DONE" in runtime.read_log(pod, name) for name in containers)

    await eventually(done, timeout=20, what=f"output of {', '.join(containers)}")
    return {name: runtime.read_log(pod, name) for name in containers}


async def test_read_only_root_filesystem_leaves_volumes_dev_and_etc_hosts_writable(
    runtime: PodRuntime, sources: StaticSources, tmp_path: Path
) -> None:
    claim = tmp_path / "pv"
    sources.claims[(NS, "data")] = str(claim)
    sources.add({"kind": "ConfigMap", "metadata": {"name": "app", "namespace": NS}, "data": {"k": "v"}})
    paths = "/ /etc /usr /var/tmp /run /root /tmp /logs /data /dev/shm /dev"
    script = (
        WRITABLE.format(paths=paths) + "; touch /x 2>&1; touch /etc/x 2>&1;"
        " echo > /dev/null && echo 'dev/null ok';"
        ' awk \'$2 == "/etc/hosts" || $2 == "/etc/hostname" || $2 == "/etc/resolv.conf"'
        ' {split($4, o, ","); print "mount", $2, o[1]}\' /proc/mounts;'
        " echo cfg $(cat /etc/app/k); echo persisted > /data/file; pwd; echo DONE; sleep 60"
    )
    pod = make_pod(
        "ro",
        [
            # as root: only the read-only mounts keep it from writing
            shell(
                "ro",
                script,
                workingDir="/work/dir",
                securityContext={"readOnlyRootFilesystem": True},
                volumeMounts=[*MOUNTS, {"name": "cfg", "mountPath": "/etc/app"}],
            ),
            # the same pod without it: unchanged, a writable throw-away root
            shell(
                "rw",
                WRITABLE.format(paths="/ /etc /var/tmp /tmp") + "; echo DONE; sleep 60",
            ),
        ],
        volumes=[*VOLUMES, {"name": "cfg", "configMap": {"name": "app"}}],
    )
    await runtime.run_pod(pod)
    logs = await run_to_done(runtime, pod, "ro", "rw")
    out = logs["ro"].splitlines()
    for path in ("/", "/etc", "/usr", "/var/tmp", "/run", "/root"):
        assert f"ro {path}" in out, logs["ro"]
    for path in ("/tmp", "/logs", "/data", "/dev/shm", "/dev"):
        assert f"rw {path}" in out, logs["ro"]
    assert "touch: cannot touch '/x': Read-only file system" in out
    assert "touch: cannot touch '/etc/x': Read-only file system" in out
    assert "dev/null ok" in out
    # as containerd mounts them: the kubelet's hosts file writable, hostname and resolv.conf read-only
    assert "mount /etc/hosts rw" in out
    assert "mount /etc/hostname ro" in out and "mount /etc/resolv.conf ro" in out
    assert "cfg v" in out  # a volume below the read-only /etc
    assert "/work/dir" in out  # the working directory was made before the root went read-only
    assert (claim / "file").read_text() == "persisted\n"
    rw_out = logs["rw"].splitlines()
    assert {"rw /", "rw /etc", "rw /var/tmp", "rw /tmp"} <= set(rw_out), logs["rw"]
    assert container_status(runtime.pod_status(pod), "ro")["restartCount"] == 0


async def test_hardened_pod_drops_everything_and_exec_is_hardened_too(
    runtime: PodRuntime, sources: StaticSources, tmp_path: Path
) -> None:
    sources.claims[(NS, "data")] = str(tmp_path / "pv")
    script = (
        f"{STATUS}; echo groups $(id -G); "
        + WRITABLE.format(paths="/ /etc /tmp /logs /data")
        + "; touch /etc/x 2>&1; echo DONE; sleep 60"
    )
    pod = make_pod(
        "hardened",
        [
            shell(
                "c",
                script,
                securityContext=HARDENED_CONTAINER,
                volumeMounts=MOUNTS,
                readinessProbe={
                    "exec": {"command": ["sh", "-c", "grep -q '^NoNewPrivs:.*1' /proc/self/status"]},
                    "periodSeconds": 1,
                },
            )
        ],
        securityContext=HARDENED_POD,
        volumes=VOLUMES,
    )
    await runtime.run_pod(pod)
    log = (await run_to_done(runtime, pod, "c"))["c"]
    fields = status_fields(log)
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert fields[cap] == "0000000000000000", log
    assert fields["NoNewPrivs"] == "1" and fields["Seccomp"] == "2"
    assert fields["Uid"] == "1000 1000 1000 1000"
    out = log.splitlines()
    assert "groups 1000" in out
    assert {"ro /", "ro /etc", "rw /tmp", "rw /logs", "rw /data"} <= set(out), log
    assert "touch: cannot touch '/etc/x': Read-only file system" in out
    # exec (kubectl exec, exec probes, hooks) runs under the same restrictions, in the container's cwd
    code, exec_out = await runtime.exec(pod, "c", ["sh", "-c", f"{STATUS}; id -u; id -G; pwd"])
    assert code == 0, exec_out
    exec_fields = status_fields(exec_out)
    assert exec_fields["CapBnd"] == exec_fields["CapEff"] == "0000000000000000"
    assert exec_fields["NoNewPrivs"] == "1" and exec_fields["Seccomp"] == "2"
    assert exec_out.splitlines()[-3:] == ["1000", "1000", "/"]
    assert (await runtime.exec(pod, "c", ["touch", "/x"]))[0] == 1
    assert (await runtime.exec(pod, "c", ["no-such-command"]))[0] == 127
    await eventually(lambda: condition(runtime.pod_status(pod), "Ready") == "True", what="exec probe")


@pytest.fixture
def suid_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory where setuid bits count: a fresh tmpfs (mounted without nosuid), whatever filesystem
    the test's temporary directory is on. Unmounted afterwards."""
    path = tmp_path / "bin"
    path.mkdir()
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "zkop-test-suid", str(path)], check=True
    )
    try:
        assert not os.statvfs(path).f_flag & os.ST_NOSUID
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=True)


async def test_capabilities_add_and_drop_and_setuid_binaries_cannot_regain_them(
    runtime: PodRuntime, sources: StaticSources, suid_dir: Path
) -> None:
    bin_dir = suid_dir
    setuid_cat = bin_dir / "cat"
    shutil.copy("/usr/bin/cat", setuid_cat)
    os.chown(setuid_cat, 0, 0)
    os.chmod(setuid_cat, 0o4755)
    suid = [{"name": "bin", "mountPath": "/suid"}]
    as_user = {"runAsUser": 1000, "runAsGroup": 1000}
    print_status = f"{STATUS}; echo DONE; sleep 60"
    suid_status = "/suid/cat /proc/self/status | grep -E '^(Cap|Uid)'; echo DONE; sleep 60"
    pod = make_pod(
        "caps",
        [
            shell("default", print_status),
            shell("drop-all", print_status, securityContext={"capabilities": {"drop": ["ALL"]}}),
            shell(
                "add-one",
                print_status,
                securityContext={"capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}},
            ),
            shell("drop-one", print_status, securityContext={"capabilities": {"drop": ["NET_RAW"]}}),
            shell(
                "user-add-one",
                print_status,
                securityContext={
                    **as_user,
                    "capabilities": {"drop": ["ALL"], "add": ["CAP_NET_BIND_SERVICE"]},
                },
            ),
            # a setuid-root binary makes the process root again, but the bounding set stays empty
            shell(
                "suid",
                suid_status,
                securityContext={**as_user, "capabilities": {"drop": ["ALL"]}},
                volumeMounts=suid,
            ),
            # ... and with no_new_privs the setuid bit does nothing at all
            shell(
                "suid-nnp",
                suid_status,
                securityContext={**as_user, "allowPrivilegeEscalation": False},
                volumeMounts=suid,
            ),
        ],
        volumes=[{"name": "bin", "hostPath": {"path": str(bin_dir)}}],
    )
    await runtime.run_pod(pod)
    names = ["default", "drop-all", "add-one", "drop-one", "user-add-one", "suid", "suid-nnp"]
    logs = {name: status_fields(text) for name, text in (await run_to_done(runtime, pod, *names)).items()}
    host = status_fields(await asyncio.to_thread(Path("/proc/self/status").read_text))
    # unchanged without a securityContext: host root's capabilities, no no_new_privs, no filter
    assert logs["default"]["CapBnd"] == host["CapBnd"] and logs["default"]["CapEff"] == host["CapEff"]
    assert logs["default"]["NoNewPrivs"] == "0" and logs["default"]["Seccomp"] == "0"
    zero = "0000000000000000"
    assert logs["drop-all"]["CapBnd"] == logs["drop-all"]["CapEff"] == logs["drop-all"]["CapPrm"] == zero
    assert logs["add-one"]["CapBnd"] == logs["add-one"]["CapEff"] == caps_mask("NET_BIND_SERVICE")
    default_set = {n for n, i in CAP_NUMBER.items() if i in DEFAULT_CAPS} - {"NET_RAW"}
    assert logs["drop-one"]["CapBnd"] == logs["drop-one"]["CapEff"] == caps_mask(*default_set)
    # non-root: the bounding set holds the added capability, the process itself has none (no ambient caps)
    assert logs["user-add-one"]["CapBnd"] == caps_mask("NET_BIND_SERVICE")
    assert logs["user-add-one"]["CapEff"] == zero
    assert logs["suid"]["Uid"] == "1000 0 0 0"  # euid 0 from the setuid bit...
    assert logs["suid"]["CapEff"] == logs["suid"]["CapPrm"] == zero  # ...but no capabilities
    assert logs["suid-nnp"]["Uid"] == "1000 1000 1000 1000"
    assert logs["suid-nnp"]["CapEff"] == zero


async def test_seccomp_runtime_default_refuses_namespace_and_kernel_calls(runtime: PodRuntime) -> None:
    script = (
        f"{STATUS}; unshare --uts true && echo 'unshare ok' || echo 'unshare refused';"
        " python3 -c \"import threading; t = threading.Thread(target=print, args=('thread ok',)); t.start();"
        ' t.join()"; echo DONE; sleep 60'
    )
    pod = make_pod(
        "seccomp",
        [
            # root with all of host root's capabilities: only the filter refuses unshare (CAP_SYS_ADMIN is
            # not in the default set the profile is computed for)
            shell("filtered", script, securityContext={"seccompProfile": {"type": "RuntimeDefault"}}),
            shell("unconfined", script),
            shell(
                "sys-admin",
                script,
                securityContext={
                    "seccompProfile": {"type": "RuntimeDefault"},
                    "capabilities": {"add": ["SYS_ADMIN"]},
                },
            ),
        ],
    )
    await runtime.run_pod(pod)
    logs = await run_to_done(runtime, pod, "filtered", "unconfined", "sys-admin")
    assert status_fields(logs["filtered"])["Seccomp"] == "2"
    assert "unshare refused" in logs["filtered"] and "Operation not permitted" in logs["filtered"]
    assert "thread ok" in logs["filtered"]  # clone3 is refused with ENOSYS: libc falls back to clone
    assert status_fields(logs["unconfined"])["Seccomp"] == "0"
    assert "unshare ok" in logs["unconfined"] and "thread ok" in logs["unconfined"]
    assert "unshare ok" in logs["sys-admin"], logs["sys-admin"]


@pytest.mark.zookeeper
async def test_zookeeper_runs_with_the_hardened_security_context(
    runtime: PodRuntime, sources: StaticSources, tmp_path: Path
) -> None:
    if not await asyncio.to_thread(os.path.exists, "/usr/share/java/zookeeper.jar"):
        pytest.fail("Debian's zookeeper package is not installed: run `make test`, which installs it")
    sources.claims[(NS, "data")] = str(tmp_path / "pv")
    cfg = "tickTime=2000\ndataDir=/data\nclientPort=2181\n4lw.commands.whitelist=ruok,srvr\n"
    sources.add({"kind": "ConfigMap", "metadata": {"name": "zk", "namespace": NS}, "data": {"zoo.cfg": cfg}})
    pod = make_pod(
        "zk",
        [
            {
                "name": "zookeeper",
                "image": "zookeeper:3.8",
                "securityContext": HARDENED_CONTAINER,
                "env": [{"name": "SERVER_JVMFLAGS", "value": "-Dzookeeper.admin.enableServer=false"}],
                "volumeMounts": [*MOUNTS, {"name": "conf", "mountPath": "/conf"}],
                "readinessProbe": {
                    "exec": {"command": ["zkServer.sh", "status"]},
                    "periodSeconds": 2,
                    "timeoutSeconds": 10,
                },
            }
        ],
        securityContext=HARDENED_POD,
        volumes=[*VOLUMES, {"name": "conf", "configMap": {"name": "zk"}}],
    )
    await runtime.run_pod(pod)
    ip = runtime.pod_ip(pod)
    await eventually(lambda: four_letter(str(ip), "ruok") == "imok", timeout=30, interval=0.5, what="imok")
    await eventually(
        lambda: condition(runtime.pod_status(pod), "Ready") == "True",
        timeout=20,
        interval=0.5,
        what="zkServer.sh status readiness",
    )
    java_pid = runtime.workers[pod["metadata"]["uid"]].processes["zookeeper"].pid
    fields = status_fields(await asyncio.to_thread(Path(f"/proc/{java_pid}/status").read_text))
    assert fields["CapBnd"] == fields["CapEff"] == "0000000000000000"
    assert fields["NoNewPrivs"] == "1" and fields["Seccomp"] == "2"
    assert fields["Uid"] == "1000 1000 1000 1000"
    assert (tmp_path / "pv" / "myid").read_text() == "1\n"  # written by the entrypoint, as uid 1000
