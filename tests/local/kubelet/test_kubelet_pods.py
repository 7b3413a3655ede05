"""Pods on real processes: volumes, env, identity, network, names, logs, restarts, termination, images."""

from __future__ import annotations

import asyncio
import base64
import os
import time
import urllib.request
from pathlib import Path

import pytest
from kubelet_testlib import NS, condition, container_status, eventually, make_pod, proc_state, shell

from zkop_local.kubelet.runtime.hosts import cluster_records
from zkop_local.kubelet.runtime.runtime import PodRuntime
from zkop_local.kubelet.runtime.sources import StaticSources

pytestmark = pytest.mark.netns


async def test_two_containers_see_volumes_env_identity_hostname_and_address(
    runtime: PodRuntime, sources: StaticSources, tmp_path: Path
) -> None:
    sources.add(
        {
            "kind": "ConfigMap",
            "metadata": {"name": "app", "namespace": NS},
            "data": {"app.properties": "color=blue\n", "mode": "fast"},
        }
    )
    sources.add(
        {
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": NS},
            "data": {"password": base64.b64encode(b"s3cret").decode()},
        }
    )
    claim_dir = tmp_path / "pv" / "data"
    sources.claims[(NS, "data-claim")] = str(claim_dir)
    writer = shell(
        "writer",
        "echo env: $GREETING $POD_NAME $POD_IP $PASSWORD $MODE $CFG_mode;"
        " echo uid: $(id -u) groups: $(id -G);"
        " echo pwd: $(pwd); echo cfg: $(cat /cfg/conf/app.properties);"
        " echo perm: $(stat -c %a /cfg/conf/app.properties);"
        " echo label: $(cat /info/labels); echo name: $(cat /info/name); echo host: $(hostname);"
        " echo addr: $(ip -4 -o addr show dev eth0 | awk '{print $4}');"
        " echo hello > /shared/from-writer && echo persisted > /data/file && echo wrote; sleep 60",
        env=[
            {"name": "FOO", "value": "bar"},
            {"name": "GREETING", "value": "hello-$(FOO)"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "mode"}}},
        ],
        envFrom=[{"prefix": "CFG_", "configMapRef": {"name": "app"}}],
        workingDir="/shared",
        volumeMounts=[
            {"name": "cfg", "mountPath": "/cfg"},
            {"name": "info", "mountPath": "/info"},
            {"name": "shared", "mountPath": "/shared"},
            {"name": "data", "mountPath": "/data"},
        ],
    )
    reader = shell(
        "reader",
        "while [ ! -f /shared/from-writer ]; do sleep 0.05; done; echo read: $(cat /shared/from-writer);"
        " echo secret: $(cat /secret/password); echo host: $(hostname); sleep 60",
        volumeMounts=[
            {"name": "shared", "mountPath": "/shared"},
            {"name": "sec", "mountPath": "/secret", "readOnly": True},
        ],
    )
    pod = make_pod(
        "two",
        [writer, reader],
        hostname="two-host",
        securityContext={"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 2000},
        volumes=[
            {
                "name": "cfg",
                "configMap": {
                    "name": "app",
                    "items": [{"key": "app.properties", "path": "conf/app.properties", "mode": 0o600}],
                },
            },
            {"name": "sec", "secret": {"secretName": "creds"}},
            {"name": "shared", "emptyDir": {}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "data-claim"}},
            {
                "name": "info",
                "downwardAPI": {
                    "items": [
                        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                    ]
                },
            },
        ],
    )
    await runtime.run_pod(pod)
    await eventually(lambda: "wrote" in runtime.read_log(pod, "writer"), what="writer output")
    await eventually(lambda: "host:" in runtime.read_log(pod, "reader"), what="reader output")
    out = runtime.read_log(pod, "writer")
    ip = runtime.pod_ip(pod)
    assert ip and ip.startswith("10.244.")
    assert f"env: hello-bar two {ip} s3cret fast fast" in out
    assert "uid: 1000 groups: 1000 2000" in out
    assert "pwd: /shared" in out
    assert "cfg: color=blue" in out and "perm: 640" in out  # fsGroup adds group read
    assert 'label: app="two"' in out and "name: two" in out
    assert "host: two-host" in out
    assert f"addr: {ip}/24" in out
    reader_out = runtime.read_log(pod, "reader")
    assert "read: hello" in reader_out and "secret: s3cret" in reader_out and "host: two-host" in reader_out
    assert (claim_dir / "file").read_text() == "persisted\n"
    assert (claim_dir / "file").stat().st_uid == 1000
    assert claim_dir.stat().st_gid == 2000
    status = runtime.pod_status(pod)
    assert status["phase"] == "Running" and status["podIP"] == ip
    assert condition(status, "Ready") == "True"
    assert all(c["ready"] and "running" in c["state"] for c in status["containerStatuses"])


async def test_configmap_update_reaches_running_container(
    runtime: PodRuntime, sources: StaticSources
) -> None:
    cm = {"kind": "ConfigMap", "metadata": {"name": "live", "namespace": NS}, "data": {"v": "one"}}
    sources.add(cm)
    pod = make_pod(
        "live",
        [shell("c", "sleep 60", volumeMounts=[{"name": "cfg", "mountPath": "/cfg"}])],
        volumes=[{"name": "cfg", "configMap": {"name": "live"}}],
    )
    await runtime.run_pod(pod)
    await eventually(lambda: runtime.pod_status(pod)["phase"] == "Running")
    assert (await runtime.exec(pod, "c", ["cat", "/cfg/v"]))[1] == "one"
    sources.add({**cm, "data": {"v": "two"}})

    async def updated() -> bool:
        return (await runtime.exec(pod, "c", ["cat", "/cfg/v"]))[1] == "two"

    await eventually(updated, timeout=5, what="configMap update in the volume")


async def test_pod_reaches_another_pod_by_dns_name_and_host_reaches_pod_ip(runtime: PodRuntime) -> None:
    service = {
        "metadata": {"name": "hs", "namespace": NS},
        "spec": {"clusterIP": "None", "selector": {"app": "web"}},
    }

    async def provider(pod: object) -> list[str]:
        return cluster_records(runtime.pods_with_status(), [service], for_namespace=NS)

    runtime.hosts_provider = provider
    web = make_pod(
        "web",
        [
            {
                "name": "http",
                "image": "python:3.11",
                "command": ["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0"],
                "workingDir": "/etc",
                "readinessProbe": {"httpGet": {"path": "/hostname", "port": 8080}, "periodSeconds": 1},
            }
        ],
        hostname="web",
        subdomain="hs",
    )
    client = make_pod(
        "client",
        [
            shell(
                "c",
                'until python3 -c "import urllib.request as u;'
                " print('GOT', u.urlopen('http://web.hs.ns.svc.cluster.local:8080/hostname').read().decode())\";"
                " do sleep 0.2; done; getent hosts web.hs;"
                " until getent hosts hs; do sleep 0.1; done; echo DONE; sleep 60",
            )
        ],
    )
    await runtime.run_pod(web)
    await runtime.run_pod(client)
    await eventually(lambda: condition(runtime.pod_status(web), "Ready") == "True", what="web ready")
    await runtime.refresh_hosts()  # readiness changed: the service name now has an endpoint
    out = await eventually(
        lambda: (log := runtime.read_log(client, "c")) and "DONE" in log and log,
        what="client reached web by name",
    )
    web_ip = runtime.pod_ip(web)
    lines = [line.split() for line in out.splitlines()]
    assert ["GOT", "web"] in lines
    assert [web_ip, "web.hs.ns.svc.cluster.local", "web.hs.ns.svc", "web.hs"] in lines
    assert [web_ip, "hs.ns.svc.cluster.local", "hs.ns.svc", "hs.ns", "hs"] in lines
    body = await asyncio.to_thread(
        lambda: urllib.request.urlopen(f"http://{web_ip}:8080/hostname", timeout=2).read()
    )
    assert body.decode().strip() == "web"


async def test_logs_previous_and_tail_and_restart_backoff(runtime: PodRuntime) -> None:
    pod = make_pod(
        "crashy",
        [shell("c", "echo start; echo line2; echo line3; exit 3")],
        restartPolicy="OnFailure",
    )
    await runtime.run_pod(pod)
    seen_reasons: set[str] = set()

    def restarted_twice() -> bool:
        cs = container_status(runtime.pod_status(pod), "c")
        seen_reasons.update(v.get("reason", "") for v in cs["state"].values())
        return bool(cs["restartCount"] >= 2)

    await eventually(restarted_twice, timeout=10, interval=0.02, what="two restarts")
    cs = container_status(runtime.pod_status(pod), "c")
    assert cs["lastState"]["terminated"]["exitCode"] == 3
    assert cs["lastState"]["terminated"]["reason"] == "Error"
    assert "CrashLoopBackOff" in seen_reasons
    assert runtime.pod_status(pod)["phase"] == "Running"
    previous = runtime.read_log(pod, "c", previous=True)
    assert previous == "start\nline2\nline3\n"
    assert runtime.read_log(pod, "c", tail_lines=1, previous=True) == "line3\n"


async def test_init_containers_run_in_order_then_pod_succeeds_or_fails(runtime: PodRuntime) -> None:
    vol = [{"name": "w", "emptyDir": {}}]
    mount = [{"name": "w", "mountPath": "/w"}]
    ok = make_pod(
        "ordered",
        [shell("main", "cat /w/order", volumeMounts=mount)],
        initContainers=[
            shell("first", "sleep 0.3; printf 1 >> /w/order", volumeMounts=mount),
            shell("second", "printf 2 >> /w/order", volumeMounts=mount),
        ],
        restartPolicy="Never",
        volumes=vol,
    )
    failing = make_pod("failing", [shell("main", "exit 4")], restartPolicy="Never")
    await runtime.run_pod(ok)
    await runtime.run_pod(failing)
    assert runtime.pod_status(ok)["phase"] == "Pending"
    await eventually(lambda: runtime.pod_status(ok)["phase"] == "Succeeded", what="Succeeded")
    assert runtime.read_log(ok, "main") == "12"
    status = runtime.pod_status(ok)
    assert condition(status, "Initialized") == "True"
    assert container_status(status, "first")["state"]["terminated"]["reason"] == "Completed"
    await eventually(lambda: runtime.pod_status(failing)["phase"] == "Failed", what="Failed")
    term = container_status(runtime.pod_status(failing), "main")["state"]["terminated"]
    assert term["exitCode"] == 4 and term["reason"] == "Error"


async def test_graceful_termination_sends_sigterm_then_sigkill_after_grace(runtime: PodRuntime) -> None:
    stubborn = make_pod(
        "stubborn",
        [shell("c", "trap 'echo got TERM' TERM; echo up; while :; do sleep 0.1; done")],
        terminationGracePeriodSeconds=1,
    )
    polite = make_pod(
        "polite", [shell("c", "trap 'echo bye; exit 0' TERM; echo up; while :; do sleep 0.1; done")]
    )
    await runtime.run_pod(stubborn)
    await runtime.run_pod(polite)
    await eventually(
        lambda: "up" in runtime.read_log(stubborn, "c") and "up" in runtime.read_log(polite, "c")
    )
    pid = runtime.workers[stubborn["metadata"]["uid"]].processes["c"].pid
    started = time.monotonic()
    await runtime.stop_pod(stubborn, remove=False)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 5.0
    assert "got TERM" in runtime.read_log(stubborn, "c")
    term = container_status(runtime.pod_status(stubborn), "c")["state"]["terminated"]
    assert term["exitCode"] == 137
    assert not await asyncio.to_thread(os.path.exists, f"/proc/{pid}")
    started = time.monotonic()
    await runtime.stop_pod(polite, grace_seconds=10, remove=False)
    assert time.monotonic() - started < 2.0
    assert "bye" in runtime.read_log(polite, "c")
    assert container_status(runtime.pod_status(polite), "c")["state"]["terminated"]["exitCode"] == 0


async def test_unmapped_image_fails_visibly(runtime: PodRuntime) -> None:
    pod = make_pod("ghost", [{"name": "c", "image": "registry.example.com/nothing/here:1.0"}])
    await runtime.run_pod(pod)
    reasons: set[str] = set()

    def both_reasons() -> bool:
        state = container_status(runtime.pod_status(pod), "c")["state"]
        if "waiting" in state and state["waiting"]["reason"] != "ContainerCreating":
            reasons.add(state["waiting"]["reason"])
            assert "registry.example.com/nothing/here:1.0" in state["waiting"]["message"]
        return {"ErrImagePull", "ImagePullBackOff"} <= reasons

    await eventually(both_reasons, timeout=5, interval=0.05, what="ErrImagePull then ImagePullBackOff")
    assert runtime.pod_status(pod)["phase"] == "Pending"


async def test_fault_injection_kill_restarts_freeze_thaw_and_wipe_claim(
    runtime: PodRuntime, sources: StaticSources, tmp_path: Path
) -> None:
    claim_dir = tmp_path / "pv"
    sources.claims[(NS, "data")] = str(claim_dir)
    pod = make_pod(
        "victim",
        [
            shell(
                "c",
                "echo kept > /data/file; echo up; sleep 60",
                volumeMounts=[{"name": "d", "mountPath": "/data"}],
            )
        ],
        volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
    )
    await runtime.run_pod(pod)
    await eventually(lambda: "up" in runtime.read_log(pod, "c"))
    assert (await runtime.exec(pod, "c", ["ls", "/data"]))[1] == "file\n"
    assert await runtime.wipe_claim(NS, "data") == 1
    assert (await runtime.exec(pod, "c", ["ls", "/data"]))[1] == ""
    pid = runtime.workers[pod["metadata"]["uid"]].processes["c"].pid
    runtime.freeze(pod)
    await eventually(lambda: proc_state(pid) == "T", what="stopped process")
    runtime.thaw(pod)
    await eventually(lambda: proc_state(pid) in "SR", what="thawed process")
    assert runtime.kill_processes(pod) >= 1
    await eventually(
        lambda: container_status(runtime.pod_status(pod), "c")["restartCount"] == 1, what="restart"
    )
    cs = container_status(runtime.pod_status(pod), "c")
    assert cs["lastState"]["terminated"]["exitCode"] == 137
    await eventually(lambda: "running" in container_status(runtime.pod_status(pod), "c")["state"])
    assert not await asyncio.to_thread(os.path.exists, f"/proc/{pid}/stat") or proc_state(pid) == "Z"
