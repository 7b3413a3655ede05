"""The rendered RBAC is enough, and not much more: the operator, run with exactly the arguments its
rendered Deployment gives it, goes through clusters, znodes, exports, config syncs, a restart and
deletions; every request it makes (told apart in the API server's request log by its User-Agent: zkop's
own clients send `zkop/<identity>`, kopf's `kopf/<version>`) must be allowed by the rendered Roles and
ClusterRoles, and every rule must be used, bar a short list of rules the scenario cannot reach.

The local control plane does not enforce RBAC; this test is the enforcement."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import ApiError
from lightkube.codecs import from_dict
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from tests.e2e.conftest import leftovers, ready_status
from tests.e2e.day2 import cluster_body
from tests.support.rbac import Attributes, Grant, authorizations, grants, rbac_allows, rule_allows
from tests.support.waiting import eventually
from zkop.api.common import GROUP, VERSION
from zkop.api.znode import ZNODE_KIND, ZNODE_PLURAL
from zkop.kube.client import ZookeeperClusterResource
from zkop.operator.configsync import ConfigSyncResource
from zkop.operator.exports import ExportResource
from zkop.render import rbac
from zkop_local.cluster import LocalCluster

pytestmark = [pytest.mark.netns, pytest.mark.zookeeper]

NS = "default"
ZnodeResource = create_namespaced_resource(GROUP, VERSION, ZNODE_KIND, ZNODE_PLURAL)

# Plain text: the scenario is about Kubernetes requests; TLS adds Secrets, which the rules cover alike.

# Rules the scenario cannot exercise, each for a reason; anything else unused is too broad.
NOT_EXERCISED = {
    # Authorized by the OwnerReferencesPermissionEnforcement admission plugin, not requested.
    ("update", "zookeeperclusters/finalizers"),
    ("update", "zookeeperznodes/finalizers"),
    # Only when a cluster's spec.networkPolicy is turned off after it was on.
    ("delete", "networkpolicies"),
}


class Operator:
    """`zkop <args>` as the rendered Deployment runs it, with its requests copied out of the bounded log."""

    def __init__(self, plane: LocalCluster, name: str, args: list[str]) -> None:
        self.plane = plane
        self.agent = f"zkop/{name}_"
        self.started = time.time()
        log = open(plane.state_dir / f"operator-{name}.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zkop", *args],
            env={
                **os.environ,
                "KUBECONFIG": str(plane.kubeconfig),
                "ZKOP_RESYNC_SECONDS": "2",
                "POD_NAME": name,
                "POD_NAMESPACE": NS,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.seen: dict[int, list[Attributes]] = {}

    def collect(self) -> None:
        for record in self.plane.server.requests:
            agent = record.user_agent
            ours = agent.startswith(self.agent) or agent.startswith("kopf/")
            # Writes once answered (a 201 tells an apply that created); reads at once (watches stay open).
            answered = bool(record.status) or record.method == "GET"
            if ours and answered and record.time >= self.started:
                self.seen[id(record)] = authorizations(
                    record.method, record.path, record.query, record.content_type, record.status
                )

    async def collect_forever(self) -> None:
        while True:
            self.collect()
            await asyncio.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # graceful: the Lease is released
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.collect()


@contextlib.asynccontextmanager
async def running(plane: LocalCluster, name: str, args: list[str]) -> AsyncIterator[Operator]:
    operator = Operator(plane, name, args)
    collector = asyncio.create_task(operator.collect_forever())
    try:
        yield operator
    finally:
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector
        operator.stop()


@pytest.fixture
async def plane(tmp_path: Path) -> AsyncIterator[LocalCluster]:
    state_dir = tmp_path / "local"
    cluster = LocalCluster(state_dir, run_operator=False, backoff_base=1.0)
    await cluster.start()
    try:
        yield cluster
    finally:
        await cluster.stop()
        assert leftovers(state_dir) == []


def denied(requests: set[Attributes], rules: list[Grant]) -> list[str]:
    return sorted(
        str(a)
        for a in requests
        if not rbac_allows(rules, a.verb, a.group, a.resource, a.subresource, a.namespace, a.name)
    )


def unused(requests: set[Attributes], rules: list[Grant]) -> set[tuple[str, str]]:
    """(verb, resource[/subresource]) of every rule that no request needed."""
    found = set()
    for grant in rules:
        rule = grant.rule
        for verb in rule["verbs"]:
            for resource in rule["resources"]:
                plural, _, sub = resource.partition("/")
                single = {**rule, "verbs": [verb], "resources": [resource]}
                if not any(
                    (grant.namespace is None or grant.namespace == a.namespace)
                    and rule_allows(single, a.verb, a.group, plural, sub, a.name)
                    for a in requests
                ):
                    found.add((verb, resource))
    return found


def znode_body(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperZnode",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"clusterRef": {"name": "zk"}, "deletionPolicy": "Delete"},
    }


async def status_of(plane: LocalCluster, resource: Any, name: str) -> dict[str, Any]:
    assert plane.client is not None
    try:
        obj = await plane.client.get(resource, name, namespace=NS)
    except ApiError:
        return {}
    status: dict[str, Any] = obj.to_dict().get("status") or {}
    return status


async def ready(plane: LocalCluster, resource: Any, name: str) -> dict[str, Any] | None:
    status = await status_of(plane, resource, name)
    condition = next((c for c in status.get("conditions", []) if c["type"] == "Ready"), {})
    return status if condition.get("status") == "True" else None


async def gone(plane: LocalCluster, resource: Any, name: str) -> bool:
    assert plane.client is not None
    try:
        await plane.client.get(resource, name, namespace=NS)
    except ApiError as exc:
        return exc.status.code == 404
    return False


async def restart_member(plane: LocalCluster) -> None:
    """A change that needs a restart: zkop deletes the member's pod."""
    client = plane.client
    assert client is not None
    before = (await client.get(Pod, "zk-0", namespace=NS)).metadata.uid
    await client.patch(
        ZookeeperClusterResource,
        "zk",
        {"spec": {"config": {"maxClientCnxns": 77}}},
        namespace=NS,
        patch_type=PatchType.MERGE,
    )

    async def restarted() -> bool:
        try:
            pod = await client.get(Pod, "zk-0", namespace=NS)
        except ApiError:
            return False
        return pod.metadata.uid != before

    await eventually(restarted, timeout=90, what="zk-0 restarted by zkop")
    await eventually(lambda: ready_status(plane), timeout=120, what="zk Ready after the restart")


async def scenario(plane: LocalCluster) -> None:
    """A cluster, an app subtree, an export, a config sync mirroring Nodes and pods, a member restart,
    and every deletion."""
    client = plane.client
    assert client is not None
    await client.create(ZookeeperClusterResource.from_dict(cluster_body("zk", 1)))
    await eventually(lambda: ready_status(plane), timeout=180, what="zk Ready")
    for manifest in [
        znode_body("app"),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": NS, "labels": {"export": "yes"}},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]},
        },
        {
            "apiVersion": "zkop.io/v1alpha1",
            "kind": "ZookeeperServiceExport",
            "metadata": {"name": "web-export", "namespace": NS},
            "spec": {"clusterRef": {"name": "zk"}, "labelSelector": {"matchLabels": {"export": "yes"}}},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": NS},
            "data": {"greeting": "hello"},
        },
    ]:
        await client.create(from_dict(manifest))
    await eventually(lambda: ready(plane, ZnodeResource, "app"), timeout=60, what="znode app Ready")
    sync = {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperConfigSync",
        "metadata": {"name": "settings-sync", "namespace": NS},
        "spec": {
            "clusterRef": {"name": "zk"},
            "path": "/config/settings",
            "deletionPolicy": "Delete",
            "configMaps": [{"name": "settings"}],
            "readers": [{"znode": "app"}],
            "clusterState": {
                "nodes": True,
                "pods": {"selector": {"matchLabels": {"app.kubernetes.io/instance": "zk"}}},
            },
        },
    }
    await client.create(from_dict(sync))
    await eventually(lambda: ready(plane, ExportResource, "web-export"), timeout=60, what="export Ready")
    await eventually(lambda: ready(plane, ConfigSyncResource, "settings-sync"), timeout=60, what="sync Ready")

    await restart_member(plane)

    for resource, name in [
        (ConfigSyncResource, "settings-sync"),
        (ExportResource, "web-export"),
        (ZnodeResource, "app"),
    ]:
        await client.delete(resource, name, namespace=NS)
    for resource, name in [
        (ConfigSyncResource, "settings-sync"),
        (ExportResource, "web-export"),
        (ZnodeResource, "app"),
    ]:
        await eventually(lambda r=resource, n=name: gone(plane, r, n), timeout=60, what=f"{name} deleted")


async def test_every_request_of_the_operator_is_allowed_by_the_rendered_rules(plane: LocalCluster) -> None:
    # Namespaced, as `zkop deploy --namespace default --replicas 2` renders it: leader election on.
    namespaced = rbac.DeployOptions(namespace=NS, replicas=2)
    namespaced_rules = grants(rbac.rbac(namespaced), NS, namespaced.name)
    async with running(plane, "zkop-ns", rbac.operator_args(namespaced)) as operator:
        await scenario(plane)
    requests = {a for checks in operator.seen.values() for a in checks}
    assert any(a.resource == "leases" and a.verb == "update" for a in requests)  # it led, and released
    assert denied(requests, namespaced_rules) == []
    too_broad = unused(requests, namespaced_rules) - NOT_EXERCISED
    assert not too_broad, f"rules no request needed: {sorted(too_broad)}"

    # Cluster-wide, one replica: it resumes the cluster left behind, and serves a new app subtree.
    wide = rbac.DeployOptions(namespace=NS, cluster_wide=True)
    wide_rules = grants(rbac.rbac(wide), NS, wide.name)
    async with running(plane, "zkop-all", rbac.operator_args(wide)) as operator:
        assert plane.client is not None
        await plane.client.create(ZnodeResource.from_dict(znode_body("other")))
        await eventually(lambda: ready(plane, ZnodeResource, "other"), timeout=60, what="znode other Ready")
        await plane.client.delete(ZnodeResource, "other", namespace=NS)
        await eventually(lambda: gone(plane, ZnodeResource, "other"), timeout=60, what="other deleted")
    requests = {a for checks in operator.seen.values() for a in checks}
    assert any(a.namespace is None and a.resource == "zookeeperclusters" for a in requests)
    assert denied(requests, wide_rules) == []
