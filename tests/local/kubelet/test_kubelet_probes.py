"""Probes on real processes: exec, tcpSocket and httpGet readiness; liveness restarts; startup gates."""

from __future__ import annotations

import pytest
from kubelet_testlib import condition, container_status, eventually, make_pod, shell

from zkop_local.kubelet.runtime.runtime import PodRuntime

pytestmark = pytest.mark.netns

FAST = {"periodSeconds": 1, "failureThreshold": 1, "timeoutSeconds": 1}


def _ready(runtime: PodRuntime, pod: dict[str, object], name: str) -> bool:
    return bool(container_status(runtime.pod_status(pod), name)["ready"])


async def test_readiness_probes_gate_ready_exec_tcp_http(runtime: PodRuntime) -> None:
    server = (
        "import http.server, os\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200 if os.path.exists('/tmp/healthy') else 503); self.end_headers()\n"
        "http.server.HTTPServer(('0.0.0.0', 8081), H).serve_forever()\n"
    )
    pod = make_pod(
        "probed",
        [
            shell(
                "exec", "sleep 60", readinessProbe={"exec": {"command": ["test", "-f", "/tmp/ready"]}, **FAST}
            ),
            shell(
                "tcp",
                "sleep 0.5; exec python3 -c 'import socket,time; s=socket.socket();"
                ' s.bind(("0.0.0.0", 9000));'
                " s.listen(); time.sleep(60)'",
                readinessProbe={"tcpSocket": {"port": "tcp-port"}, **FAST},
                ports=[{"name": "tcp-port", "containerPort": 9000}],
            ),
            {
                "name": "http",
                "image": "python:3",
                "command": ["python3", "-c", server],
                "readinessProbe": {"httpGet": {"path": "/", "port": 8081}, **FAST},
            },
        ],
    )
    await runtime.run_pod(pod)
    await eventually(lambda: _ready(runtime, pod, "tcp"), timeout=5, what="tcp ready")
    status = runtime.pod_status(pod)
    assert not _ready(runtime, pod, "exec") and not _ready(runtime, pod, "http")
    assert condition(status, "Ready") == "False"
    assert "exec" in next(c for c in status["conditions"] if c["type"] == "Ready")["message"]
    await runtime.exec(pod, "exec", ["touch", "/tmp/ready"])
    await runtime.exec(pod, "http", ["touch", "/tmp/healthy"])
    await eventually(
        lambda: condition(runtime.pod_status(pod), "Ready") == "True", timeout=5, what="pod ready"
    )
    await runtime.exec(pod, "http", ["rm", "/tmp/healthy"])
    await eventually(lambda: not _ready(runtime, pod, "http"), timeout=5, what="http unready")
    assert condition(runtime.pod_status(pod), "ContainersReady") == "False"


async def test_liveness_failure_restarts_and_startup_probe_gates(runtime: PodRuntime) -> None:
    pod = make_pod(
        "lively",
        [
            shell(
                "dies",
                "touch /tmp/alive; echo up; sleep 1.5; rm /tmp/alive; sleep 60",
                livenessProbe={
                    "exec": {"command": ["test", "-f", "/tmp/alive"]},
                    "initialDelaySeconds": 1,
                    **FAST,
                },
            ),
            shell(
                "slow",
                "sleep 60",
                startupProbe={
                    "exec": {"command": ["test", "-f", "/tmp/started"]},
                    "periodSeconds": 1,
                    "failureThreshold": 30,
                },
                readinessProbe={"exec": {"command": ["true"]}, **FAST},
            ),
        ],
        terminationGracePeriodSeconds=1,
    )
    await runtime.run_pod(pod)
    await eventually(
        lambda: container_status(runtime.pod_status(pod), "dies")["restartCount"] >= 1,
        timeout=8,
        what="liveness restart",
    )
    last = container_status(runtime.pod_status(pod), "dies")["lastState"]["terminated"]
    assert last["exitCode"] == 137 or last["exitCode"] == 143
    assert "Liveness probe failed" in last["message"]
    slow = container_status(runtime.pod_status(pod), "slow")
    assert not slow["started"] and not slow["ready"], "startup probe gates started and readiness"
    await runtime.exec(pod, "slow", ["touch", "/tmp/started"])
    await eventually(lambda: _ready(runtime, pod, "slow"), timeout=5, what="started then ready")
    assert container_status(runtime.pod_status(pod), "slow")["started"]
