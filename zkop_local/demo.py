"""`make demo`: bring up the local control plane and the operator, create a 3-member ensemble, and show it.

Everything goes through the same doors a user would use: `zkop local up`, kubectl, the resource's status.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from zkop_local.cli import DEFAULT_STATE_DIR

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EXAMPLE = ROOT / "examples" / "zookeeper-cluster.yaml"
TIMEOUT = float(os.environ.get("ZKOP_DEMO_TIMEOUT", "240"))


def zkop(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "zkop", "local", "--state-dir", str(DEFAULT_STATE_DIR), *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def kubectl(kubeconfig: str, *args: str, capture: bool = True) -> str:
    result = subprocess.run(
        [str(BIN / "kubectl"), "--kubeconfig", kubeconfig, *args],
        check=True,
        capture_output=capture,
        text=True,
    )
    return result.stdout if capture else ""


def cluster_status(kubeconfig: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(kubectl(kubeconfig, "get", "zk", "zk", "-o", "json"))
    status: dict[str, Any] = body.get("status") or {}
    return status


def ready_condition(status: dict[str, Any]) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})


def main() -> None:
    print("== starting the local control plane (API server, controllers, kubelet) and the zkop operator")
    print(zkop("up"), end="")
    kubeconfig = zkop("kubeconfig").strip().splitlines()[-1]
    print(f"== kubectl apply -f {EXAMPLE.relative_to(ROOT)}")
    kubectl(kubeconfig, "apply", "-f", str(EXAMPLE), capture=False)
    print("== waiting for the ensemble to be Ready")
    deadline = time.monotonic() + TIMEOUT
    last = ""
    while True:
        status = cluster_status(kubeconfig)
        ready = ready_condition(status)
        line = (
            f"   Ready={ready['status']} {ready['reason']}: {ready.get('message', '')}"
            if ready
            else "   (no status yet)"
        )
        if line != last:
            print(line, flush=True)
            last = line
        if ready.get("status") == "True":
            break
        if time.monotonic() > deadline:
            print(f"!! not Ready after {TIMEOUT:.0f}s; operator log: {DEFAULT_STATE_DIR / 'operator.log'}")
            sys.exit(1)
        time.sleep(2)
    print("== kubectl get zk")
    kubectl(kubeconfig, "get", "zk", capture=False)
    print("== members")
    print(f"   {'POD':8} {'ADDRESS':15} {'ROLE':9} {'ZXID':14} SYNCED")
    for member in status.get("members", []):
        print(
            f"   {member['pod']:8} {member.get('address') or '-':15} {member['role']:9} "
            f"{member.get('zxid') or '-':14} {member['synced']}"
        )
    print(f"   leader: {status.get('leader')}, membership version {status.get('configVersion')}")
    print(f"   connection string: {status.get('connectionString')}")
    tls = status.get("tls") or {}
    print(
        f"   TLS: {tls.get('mode', 'disabled')}, issuer {tls.get('issuer', '-')}, "
        f"certificate valid until {tls.get('certificateNotAfter', '-')}"
    )
    port = 2281 if tls.get("mode", "disabled") != "disabled" else 2181
    addresses = ",".join(f"{m['address']}:{port}" for m in status.get("members", []) if m.get("address"))
    print("== connect")
    print(f"   export KUBECONFIG={kubeconfig}")
    print(f"   {BIN / 'kubectl'} get zk zk -o yaml        # full status")
    if port == 2281:
        # The client certificate zkop issued (what an application mounts), written where the demo can use it.
        files = DEFAULT_STATE_DIR / "zk-client-tls"
        files.mkdir(mode=0o700, parents=True, exist_ok=True)
        secret = json.loads(kubectl(kubeconfig, "get", "secret", "zk-client-tls", "-o", "json"))
        for key, value in secret["data"].items():
            path = files / key
            path.write_bytes(base64.b64decode(value))
            path.chmod(0o600)
        print(f"   # mutual TLS: the client certificate from Secret zk-client-tls, saved in {files}")
        print(
            f"   {BIN / 'python'} -c \"from kazoo.client import KazooClient as K; c=K('{addresses}', "
            f"use_ssl=True, certfile='{files}/tls.crt', keyfile='{files}/tls.key', ca='{files}/ca.crt'); "
            "c.start(); print(c.get_children('/'))\""
        )
    else:
        print(f"   /usr/share/zookeeper/bin/zkCli.sh -server {addresses}")
        print(
            f"   {BIN / 'python'} -c \"from kazoo.client import KazooClient as K; c=K('{addresses}'); "
            "c.start(); print(c.get_children('/'))\""
        )
    print("== stop")
    print(
        "   make clean-local      # or: zkop local down (removes every process, namespace and file it made)"
    )


if __name__ == "__main__":
    main()
