"""Writes and time per steady-state reconcile pass: zkop's "write only what differs" against the naive
"apply everything every pass", both against the same local API server in the same run."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, KubeConfig
from lightkube.codecs import from_dict

from zkop.api.crd import all_crds
from zkop.api.validation import parse_cluster
from zkop.kube.client import Kube, ZookeeperClusterResource
from zkop.operator.reconcile import Context, reconcile
from zkop.render import render
from zkop.zookeeper.observe import EnsembleState
from zkop_local.apiserver.server import ApiServer

PASSES = 30


async def _silent_ensemble(addresses: Mapping[int, str | None]) -> EnsembleState:
    return EnsembleState(())


async def _naive_pass(kube: Kube, body: dict[str, Any]) -> None:
    rendered = render(parse_cluster(body))
    for manifest in rendered.objects:
        await kube.apply(manifest)
    await kube.apply_status(body["metadata"]["name"], body["metadata"]["namespace"], body.get("status") or {})


async def measure() -> dict[str, float]:
    server = ApiServer()
    await server.start()
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = server.kubeconfig(Path(tmp) / "kubeconfig")
        client = AsyncClient(KubeConfig.from_file(str(kubeconfig)))
        try:
            for crd in all_crds():
                await client.create(from_dict(crd))
            body = {
                "apiVersion": "zkop.io/v1alpha1",
                "kind": "ZookeeperCluster",
                "metadata": {"name": "zk", "namespace": "default"},
                "spec": {"replicas": 3},
            }
            await client.create(ZookeeperClusterResource.from_dict(body))
            kube = Kube(client)
            context = Context(kube, observe=_silent_ensemble)

            async def current() -> dict[str, Any]:
                obj = await client.get(ZookeeperClusterResource, "zk", namespace="default")
                return obj.to_dict()  # type: ignore[no-any-return,no-untyped-call]

            for _ in range(3):  # settle: create, then observe what was created
                await reconcile(await current(), context)
            results: dict[str, float] = {}
            for name in ("zkop", "naive"):
                kube.writes = 0
                elapsed = 0.0
                for _ in range(PASSES):
                    body = await current()
                    started = time.perf_counter()
                    if name == "zkop":
                        await reconcile(body, context)
                    else:
                        await _naive_pass(kube, body)
                    elapsed += time.perf_counter() - started
                results[f"{name}_writes_per_pass"] = kube.writes / PASSES
                results[f"{name}_ms_per_pass"] = 1000 * elapsed / PASSES
            return results
        finally:
            await client.close()
            await server.stop()


def run() -> list[str]:
    r = asyncio.run(measure())
    ratio_time = r["zkop_ms_per_pass"] / r["naive_ms_per_pass"]
    return [
        f"steady-state reconcile pass (3-member cluster, local API server, {PASSES} passes each)",
        f"  API writes per pass: zkop {r['zkop_writes_per_pass']:.1f}, naive apply-all "
        f"{r['naive_writes_per_pass']:.1f} (target 0)",
        f"  time per pass: zkop {r['zkop_ms_per_pass']:.1f} ms, naive {r['naive_ms_per_pass']:.1f} ms, "
        f"ratio zkop/naive {ratio_time:.2f}",
    ]
