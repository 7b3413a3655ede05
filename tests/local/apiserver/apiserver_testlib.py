"""Shared test data and helpers for the API server tests (kept out of conftest so tests can import it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

import aiohttp

KUBECTL = Path(__file__).resolve().parents[3] / ".venv" / "bin" / "kubectl"
ZK_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "zookeeperclusters.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "kind": "ZooKeeperCluster",
            "plural": "zookeeperclusters",
            "singular": "zookeepercluster",
            "shortNames": ["zkc"],
            "categories": ["all"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                        "labelSelectorPath": ".status.selector",
                    },
                },
                "additionalPrinterColumns": [
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                ],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "replicas": {"type": "integer", "minimum": 0, "default": 3},
                                    "image": {"type": "string"},
                                    "tags": {
                                        "type": "array",
                                        "items": {"type": "string"},
                                        "x-kubernetes-list-type": "set",
                                    },
                                    "config": {
                                        "type": "object",
                                        "additionalProperties": {"type": "string"},
                                    },
                                },
                            },
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}


def cr(name: str, replicas: int = 3, namespace: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "ZooKeeperCluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": replicas, **spec},
    }


async def kubectl(
    kubeconfig: Path, cache_dir: Path, *args: str, stdin: bytes | None = None
) -> tuple[int, str, str]:
    """Run the venv's kubectl (never /usr/bin/kubectl) against the test server."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(cache_dir)}
    process = await asyncio.create_subprocess_exec(
        str(KUBECTL),
        "--cache-dir",
        str(cache_dir / "cache"),
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


class Http:
    """Raw HTTP against the server, for protocol details no client library exposes."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session = aiohttp.ClientSession()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        all_headers = dict(headers or {})
        body = data
        if json_body is not None:
            body = json.dumps(json_body).encode()
            all_headers.setdefault("Content-Type", content_type or "application/json")
        elif content_type:
            all_headers["Content-Type"] = content_type
        async with self.session.request(method, self.base + path, data=body, headers=all_headers) as response:
            raw = await response.read()
            try:
                parsed: Any = json.loads(raw)
            except ValueError:
                parsed = raw.decode()
            return response.status, dict(response.headers), parsed

    async def watch_lines(
        self, path: str, *, until: int | None = None, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        """Read watch events until ``until`` events arrived, the stream ended, or ``timeout``."""
        events: list[dict[str, Any]] = []

        async def read() -> None:
            async with self.session.get(self.base + path) as response:
                assert response.status == 200, await response.text()
                assert response.headers["Content-Type"] == "application/json"
                async for line in response.content:
                    if line.strip():
                        events.append(json.loads(line))
                        if until is not None and len(events) >= until:
                            return

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(read(), timeout)
        return events

    async def close(self) -> None:
        await self.session.close()
