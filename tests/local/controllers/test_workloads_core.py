"""Deployment/ReplicaSet, namespace and node-lifecycle decisions."""

from __future__ import annotations

import datetime as dt

from tests.local.controllers.factories import ready_status
from tests.local.controllers.world import World
from zkop_local.controllers.actions import Create, Delete
from zkop_local.controllers.deployment import decide_deployment, decide_replicaset
from zkop_local.controllers.namespaces import decide_service_accounts
from zkop_local.controllers.nodes import decide_node_lifecycle
from zkop_local.controllers.objects import Obj, labels_of, name_of
from zkop_local.controllers.resources import DEPLOYMENT, POD, REPLICASET

NOW = dt.datetime(2026, 1, 1, 0, 10, tzinfo=dt.UTC)


def deployment(image: str = "zkop:1", replicas: int = 1) -> Obj:
    return {
        "metadata": {"name": "zkop", "namespace": "ops"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "zkop"}},
            "template": {
                "metadata": {"labels": {"app": "zkop"}},
                "spec": {"containers": [{"name": "op", "image": image}]},
            },
        },
    }


def run(world: World, rounds: int = 20) -> None:
    for _ in range(rounds):
        for d in world.list(DEPLOYMENT):
            world.apply(decide_deployment(d, world.list(REPLICASET), NOW))
        for rs in world.list(REPLICASET):
            world.apply(decide_replicaset(rs, world.list(POD), NOW))
        for pod in world.list(POD):
            world.objects[(POD, "ops", name_of(pod))]["status"] = ready_status()


def test_deployment_runs_its_pods_through_a_replicaset() -> None:
    world = World()
    world.add(DEPLOYMENT, deployment(replicas=2))
    run(world)
    [rs] = world.list(REPLICASET)
    assert name_of(rs) == f"zkop-{labels_of(rs)['pod-template-hash']}"
    pods = world.list(POD)
    assert len(pods) == 2 and all(name_of(p).startswith(name_of(rs) + "-") for p in pods)
    status = world.list(DEPLOYMENT)[0]["status"]
    assert status["availableReplicas"] == status["updatedReplicas"] == 2


def test_template_change_replaces_the_pods() -> None:
    world = World()
    world.add(DEPLOYMENT, deployment())
    run(world)
    world.objects[(DEPLOYMENT, "ops", "zkop")]["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "zkop:2"
    )
    run(world)
    [pod] = world.list(POD)
    assert pod["spec"]["containers"][0]["image"] == "zkop:2"
    assert sorted(rs["spec"]["replicas"] for rs in world.list(REPLICASET)) == [0, 1]


def test_replicaset_scale_down_deletes_surplus_pods() -> None:
    world = World()
    world.add(DEPLOYMENT, deployment(replicas=3))
    run(world)
    world.objects[(DEPLOYMENT, "ops", "zkop")]["spec"]["replicas"] = 1
    run(world)
    assert len(world.list(POD)) == 1


def test_every_active_namespace_gets_a_default_service_account() -> None:
    namespaces = [{"metadata": {"name": n}} for n in ("a", "b")]
    namespaces.append({"metadata": {"name": "c", "deletionTimestamp": "2026-01-01T00:00:00Z"}})
    accounts = [{"metadata": {"name": "default", "namespace": "a"}}]
    [create] = decide_service_accounts(namespaces, accounts)
    assert isinstance(create, Create) and create.body["metadata"] == {"name": "default", "namespace": "b"}


def node(status: str, since: str, heartbeat: str = "2026-01-01T00:09:59Z") -> Obj:
    return {
        "metadata": {"name": "local"},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": status,
                    "lastTransitionTime": since,
                    "lastHeartbeatTime": heartbeat,
                }
            ]
        },
    }


def test_pods_on_a_lost_node_are_force_deleted_after_the_delay() -> None:
    pods = {"local": [{"metadata": {"name": "zk-0", "namespace": "ns"}, "spec": {"nodeName": "local"}}]}
    grace, delay = dt.timedelta(seconds=40), dt.timedelta(seconds=5)
    assert decide_node_lifecycle([node("False", "2026-01-01T00:09:58Z")], {}, pods, NOW, grace, delay) == []
    [[delete]] = decide_node_lifecycle([node("False", "2026-01-01T00:09:00Z")], {}, pods, NOW, grace, delay)
    assert isinstance(delete, Delete) and delete.grace_period == 0 and delete.name == "zk-0"
    assert decide_node_lifecycle([node("True", "2026-01-01T00:00:00Z")], {}, pods, NOW, grace, delay) == []


def test_stale_heartbeat_marks_the_node_unknown() -> None:
    grace, delay = dt.timedelta(seconds=40), dt.timedelta(seconds=5)
    stale = node("True", "2026-01-01T00:00:00Z", heartbeat="2026-01-01T00:05:00Z")
    [[patch]] = decide_node_lifecycle([stale], {}, {}, NOW, grace, delay)
    assert patch.patch["status"]["conditions"][0]["status"] == "Unknown"  # type: ignore[union-attr]
