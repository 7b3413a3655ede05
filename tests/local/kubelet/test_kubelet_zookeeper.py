"""A real 3-member ZooKeeper ensemble from pods running the `zookeeper` image (Debian's ZooKeeper behind the
official image's contract), configured through configMap volumes, found by name through /etc/hosts."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from kubelet_testlib import NS, condition, eventually, four_letter, make_pod

from zkop_local.kubelet.runtime.hosts import cluster_records
from zkop_local.kubelet.runtime.runtime import PodRuntime
from zkop_local.kubelet.runtime.sources import StaticSources

pytestmark = [pytest.mark.netns, pytest.mark.zookeeper]

CFG = """tickTime=2000
initLimit=10
syncLimit=5
dataDir=/data
standaloneEnabled=false
reconfigEnabled=true
4lw.commands.whitelist=srvr,ruok
admin.serverPort=8080
dynamicConfigFile=/conf/zoo.cfg.dynamic
"""
DYNAMIC = "".join(
    f"server.{i + 1}=zk-{i}.zk-hs.{NS}.svc.cluster.local:2888:3888:participant;0.0.0.0:2181\n"
    for i in range(3)
)
HEADLESS = {
    "metadata": {"name": "zk-hs", "namespace": NS},
    "spec": {"clusterIP": "None", "selector": {"app": "zk"}, "publishNotReadyAddresses": True},
}


def _member(i: int) -> dict[str, object]:
    pod = make_pod(
        f"zk-{i}",
        [
            {
                "name": "zookeeper",
                "image": "docker.io/library/zookeeper:3.8.4",
                # ZooKeeper rewrites zoo.cfg: copy it from the read-only configMap into the writable /conf
                "command": ["bash", "-c"],
                "args": [
                    f"cp /config/* /conf/ && echo {i + 1} > /data/myid && exec zkServer.sh start-foreground"
                ],
                "securityContext": {"runAsUser": 1000, "runAsGroup": 1000},
                "env": [{"name": "SERVER_JVMFLAGS", "value": "-Dzookeeper.admin.enableServer=false"}],
                "volumeMounts": [{"name": "config", "mountPath": "/config"}],
                "readinessProbe": {
                    "exec": {"command": ["zkServer.sh", "status"]},
                    "periodSeconds": 2,
                    "timeoutSeconds": 10,
                },
            }
        ],
        hostname=f"zk-{i}",
        subdomain="zk-hs",
        volumes=[{"name": "config", "configMap": {"name": "zk-config"}}],
    )
    pod["metadata"]["labels"] = {"app": "zk"}  # type: ignore[index]
    return pod


async def test_three_member_ensemble_forms_a_quorum(runtime: PodRuntime, sources: StaticSources) -> None:
    if not await asyncio.to_thread(os.path.exists, "/usr/share/java/zookeeper.jar"):
        pytest.fail("Debian's zookeeper package is not installed: run `make test`, which installs it")
    sources.add(
        {
            "kind": "ConfigMap",
            "metadata": {"name": "zk-config", "namespace": NS},
            "data": {"zoo.cfg": CFG, "zoo.cfg.dynamic": DYNAMIC},
        }
    )

    async def provider(pod: object) -> list[str]:
        return cluster_records(runtime.pods_with_status(), [HEADLESS], for_namespace=NS)

    runtime.hosts_provider = provider
    members = [_member(i) for i in range(3)]
    for pod in members:
        await runtime.run_pod(pod)
    ips = [runtime.pod_ip(p) for p in members]

    def modes() -> list[str]:
        result = []
        for ip in ips:
            out = four_letter(str(ip), "srvr")
            result.append(next((line[6:] for line in out.splitlines() if line.startswith("Mode: ")), out))
        return result

    final = await eventually(
        lambda: (m := modes()) and sorted(m) == ["follower", "follower", "leader"] and m,
        timeout=40,
        interval=0.5,
        what="a leader and two followers",
    )
    assert final.count("leader") == 1
    worker = runtime.workers[members[0]["metadata"]["uid"]]  # type: ignore[index]
    java_pid = worker.processes["zookeeper"].pid
    assert os.stat(f"/proc/{java_pid}").st_uid == 1000, "runs as the zookeeper user (uid 1000)"
    cmdline = await asyncio.to_thread(Path(f"/proc/{java_pid}/cmdline").read_bytes)
    assert b"QuorumPeerMain" in cmdline
    log = runtime.read_log(members[0], "zookeeper")
    assert "INFO" in log and "QuorumPeer" in log, "log4j console logging reaches the container log"
    await eventually(
        lambda: all(condition(runtime.pod_status(p), "Ready") == "True" for p in members),
        timeout=15,
        interval=0.5,
        what="zkServer.sh status readiness",
    )
