"""The pod's /etc/hosts (there is no cluster DNS locally: names resolve through this file).

Records follow Kubernetes DNS names (cluster domain ``cluster.local``). glibc applies the resolv.conf search
path only to DNS lookups, never to the hosts file, so the short forms (``zk-0.zk-hs``, ``svc.ns``, ``svc``)
are written out as aliases.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

CLUSTER_DOMAIN = "cluster.local"

Obj = Mapping[str, Any]
HostsProvider = Callable[[Obj], Awaitable[list[str]]]
"""Given the pod whose file is written, return extra hosts lines (other pods, services)."""

_HEADER = """# Kubernetes-managed hosts file (zkop local kubelet).
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
fe00::0\tip6-mcastprefix
fe00::1\tip6-allnodes
fe00::2\tip6-allrouters
"""


def pod_hostname(pod: Obj) -> str:
    spec = pod.get("spec") or {}
    name: str = spec.get("hostname") or pod["metadata"]["name"]
    return name[:63]


def own_record(pod: Obj, pod_ip: str) -> str:
    spec = pod.get("spec") or {}
    namespace = pod["metadata"].get("namespace", "default")
    hostname = pod_hostname(pod)
    subdomain = spec.get("subdomain")
    if subdomain:
        fqdn = f"{hostname}.{subdomain}.{namespace}.svc.{CLUSTER_DOMAIN}"
        return f"{pod_ip}\t{fqdn}\t{hostname}.{subdomain}.{namespace}.svc\t{hostname}.{subdomain}\t{hostname}"
    return f"{pod_ip}\t{hostname}"


def render_hosts(pod: Obj, pod_ip: str | None, extra: Iterable[str]) -> str:
    lines = [_HEADER.rstrip("\n")]
    if pod_ip:
        lines.append(own_record(pod, pod_ip))
    aliases = (pod.get("spec") or {}).get("hostAliases") or []
    if aliases:
        lines.append("# Entries added by HostAliases.")
        for alias in aliases:
            lines.append(f"{alias['ip']}\t" + "\t".join(alias.get("hostnames") or []))
    extra_lines = [line for line in extra if line.strip()]
    if extra_lines:
        lines.append("# Cluster records (pods behind headless services, services).")
        lines.extend(extra_lines)
    return "\n".join(lines) + "\n"


def write_in_place(path: Path, content: str) -> bool:
    """Rewrite a file keeping its inode (bind mounts pin the inode). Returns whether the content changed."""
    data = content.encode()
    if path.exists():
        with open(path, "r+b") as fh:
            if fh.read() == data:
                return False
            fh.seek(0)
            fh.write(data)
            fh.truncate()
            fh.flush()
            os.fsync(fh.fileno())
        return True
    path.write_bytes(data)
    return True


def _is_ready(pod: Obj) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def _selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def cluster_records(
    pods: Iterable[Obj], services: Iterable[Obj], for_namespace: str | None = None
) -> list[str]:
    """Hosts lines for a set of pods and services, as cluster DNS would answer.

    - every pod with ``hostname`` and ``subdomain`` naming a headless Service in its namespace:
      ``<ip> <h>.<subdomain>.<ns>.svc.cluster.local <h>.<subdomain>.<ns>.svc <h>.<subdomain>``
    - every Service with a selector (no ClusterIPs exist locally): ``<svc>.<ns>.svc.cluster.local``
      mapped to ONE endpoint pod IP (the first ready pod by name; with ``publishNotReadyAddresses`` any pod
      with an IP). ``for_namespace`` adds the short ``<svc>`` alias for that namespace's services.
    """
    pod_list = [p for p in pods if (p.get("status") or {}).get("podIP")]
    pod_list = [p for p in pod_list if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    svc_list = list(services)
    headless = {
        (s["metadata"].get("namespace", "default"), s["metadata"]["name"])
        for s in svc_list
        if (s.get("spec") or {}).get("clusterIP") == "None"
    }
    lines: list[str] = []
    for pod in sorted(pod_list, key=lambda p: (p["metadata"].get("namespace", ""), p["metadata"]["name"])):
        spec = pod.get("spec") or {}
        namespace = pod["metadata"].get("namespace", "default")
        if spec.get("hostname") and spec.get("subdomain") and (namespace, spec["subdomain"]) in headless:
            h, sd = spec["hostname"], spec["subdomain"]
            lines.append(
                f"{pod['status']['podIP']}\t{h}.{sd}.{namespace}.svc.{CLUSTER_DOMAIN}\t{h}.{sd}.{namespace}.svc\t{h}.{sd}"
            )
    for svc in sorted(svc_list, key=lambda s: (s["metadata"].get("namespace", ""), s["metadata"]["name"])):
        spec = svc.get("spec") or {}
        selector = spec.get("selector") or {}
        if not selector:
            continue
        namespace = svc["metadata"].get("namespace", "default")
        name = svc["metadata"]["name"]
        publish_all = bool(spec.get("publishNotReadyAddresses"))
        candidates = [
            p
            for p in pod_list
            if p["metadata"].get("namespace", "default") == namespace
            and not p["metadata"].get("deletionTimestamp")
            and _selector_matches(selector, p["metadata"].get("labels") or {})
            and (publish_all or _is_ready(p))
        ]
        if not candidates:
            continue
        chosen = sorted(candidates, key=lambda p: p["metadata"]["name"])[0]
        names = [f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}", f"{name}.{namespace}.svc", f"{name}.{namespace}"]
        if for_namespace == namespace:
            names.append(name)
        lines.append(f"{chosen['status']['podIP']}\t" + "\t".join(names))
    return lines
