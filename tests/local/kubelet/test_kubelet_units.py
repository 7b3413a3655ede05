"""Pure pieces of the runtime (no namespaces needed): $(VAR) expansion, image references, hosts records,
projected-volume writes."""

from __future__ import annotations

import os
from pathlib import Path

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
