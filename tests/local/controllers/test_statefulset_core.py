"""The StatefulSet decision core, driven against an in-memory world."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.local.controllers.factories import ready_status, statefulset
from tests.local.controllers.world import World
from zkop_local.controllers.actions import Action, Create, Delete, Patch
from zkop_local.controllers.objects import is_running_and_ready, labels_of, name_of, owner_refs_of
from zkop_local.controllers.resources import CONTROLLER_REVISION, POD, PVC, STATEFULSET
from zkop_local.controllers.statefulset import REVISION_LABEL, decide_statefulset, ordinal_of

NOW = dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.UTC)


def step(world: World) -> list[Action]:
    """One pass over every StatefulSet; returns what it did."""
    done: list[Action] = []
    for sts in world.list(STATEFULSET):
        claims = {name_of(c): c for c in world.list(PVC)}
        actions = decide_statefulset(sts, world.list(POD), world.list(CONTROLLER_REVISION), claims, NOW)
        world.apply(actions)
        done += actions
    return done


def settle(world: World, make_ready: bool = True, limit: int = 50) -> None:
    """Run passes (marking new pods Ready, as a kubelet would) until nothing but status changes."""
    for _ in range(limit):
        actions = step(world)
        fresh = [name_of(p) for p in world.list(POD) if not p.get("status")] if make_ready else []
        for name in fresh:
            set_ready(world, name)
        if not fresh and all(isinstance(a, Patch) and a.subresource == "status" for a in actions):
            return
    raise AssertionError("did not settle")


def set_ready(world: World, name: str, ready: bool = True, namespace: str = "ns") -> None:
    pod = world.get(POD, namespace, name)
    assert pod is not None
    pod["status"] = ready_status(ready=ready)


def pods(world: World) -> list[str]:
    return sorted(name_of(p) for p in world.list(POD))


def sts_status(world: World) -> dict[str, Any]:
    sts = world.get(STATEFULSET, "ns", "zk")
    assert sts is not None
    return dict(sts.get("status") or {})


def update_template(world: World, image: str) -> None:
    sts = world.get(STATEFULSET, "ns", "zk")
    assert sts is not None
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = image
    sts["metadata"]["generation"] += 1


def test_ordered_ready_creates_the_claim_then_the_first_pod_only() -> None:
    world = World()
    world.add(STATEFULSET, statefulset())
    actions = step(world)
    creates = [a for a in actions if isinstance(a, Create)]
    assert [(a.resource.kind, name_of(a.body)) for a in creates] == [
        ("ControllerRevision", name_of(creates[0].body)),
        ("PersistentVolumeClaim", "data-zk-0"),
        ("Pod", "zk-0"),
    ]
    pod = world.get(POD, "ns", "zk-0")
    assert pod is not None
    assert pod["spec"]["hostname"] == "zk-0" and pod["spec"]["subdomain"] == "zk-hs"
    labels = labels_of(pod)
    assert labels["statefulset.kubernetes.io/pod-name"] == "zk-0"
    assert labels["apps.kubernetes.io/pod-index"] == "0"
    assert labels[REVISION_LABEL] == name_of(creates[0].body)
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-zk-0"}} in pod["spec"]["volumes"]
    ref = owner_refs_of(pod)[0]
    assert ref["kind"] == "StatefulSet" and ref["controller"] and ref["blockOwnerDeletion"]
    # Not Ready yet: nothing more is created.
    step(world)
    assert pods(world) == ["zk-0"]
    set_ready(world, "zk-0")
    step(world)
    assert pods(world) == ["zk-0", "zk-1"]


def test_parallel_creates_every_pod_at_once() -> None:
    world = World()
    world.add(STATEFULSET, statefulset(policy="Parallel"))
    step(world)
    assert pods(world) == ["zk-0", "zk-1", "zk-2"]
    assert sorted(name_of(c) for c in world.list(PVC)) == ["data-zk-0", "data-zk-1", "data-zk-2"]


def test_scale_down_removes_the_highest_ordinal_first_and_keeps_claims() -> None:
    world = World()
    world.add(STATEFULSET, statefulset(replicas=3))
    settle(world)
    world.objects[(STATEFULSET, "ns", "zk")]["spec"]["replicas"] = 1
    step(world)
    assert pods(world) == ["zk-0", "zk-1"]
    step(world)
    assert pods(world) == ["zk-0"]
    assert len(world.list(PVC)) == 3  # Retain/Retain: claims outlive the pods


def test_status_counts_and_revisions() -> None:
    world = World()
    world.add(STATEFULSET, statefulset(replicas=2))
    settle(world)
    status = sts_status(world)
    assert status["replicas"] == status["readyReplicas"] == status["availableReplicas"] == 2
    assert status["currentReplicas"] == status["updatedReplicas"] == 2
    assert status["currentRevision"] == status["updateRevision"]
    assert status["observedGeneration"] == 1


def test_on_delete_keeps_old_pods_and_recreates_deleted_ones_on_the_update_revision() -> None:
    world = World()
    world.add(STATEFULSET, statefulset(strategy={"type": "OnDelete"}))
    settle(world)
    old_revision = sts_status(world)["updateRevision"]
    update_template(world, "zookeeper:3.10")
    settle(world)
    status = sts_status(world)
    assert status["updateRevision"] != old_revision
    assert status["currentRevision"] == old_revision  # OnDelete never completes a roll by itself
    assert {labels_of(p)[REVISION_LABEL] for p in world.list(POD)} == {old_revision}
    assert len(world.list(CONTROLLER_REVISION)) == 2

    world.apply([Delete(POD, "ns", "zk-1")])
    settle(world)
    recreated = world.get(POD, "ns", "zk-1")
    assert recreated is not None
    assert labels_of(recreated)[REVISION_LABEL] == status["updateRevision"]
    assert recreated["spec"]["containers"][0]["image"] == "zookeeper:3.10"
    assert recreated["spec"]["volumes"][-1]["persistentVolumeClaim"]["claimName"] == "data-zk-1"
    assert sts_status(world)["updatedReplicas"] == 1


def test_rolling_update_with_partition_goes_highest_first_and_stops_at_the_partition() -> None:
    world = World()
    world.add(STATEFULSET, statefulset(strategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}))
    settle(world)
    old = sts_status(world)["updateRevision"]
    update_template(world, "zookeeper:3.10")
    deleted = [a.name for a in step(world) if isinstance(a, Delete) and a.resource == POD]
    assert deleted == ["zk-2"]
    # zk-2 is recreated but not Ready: the roll waits before touching zk-1.
    step(world)
    step(world)
    assert not any(isinstance(a, Delete) and a.resource == POD for a in step(world))
    settle(world)
    revisions = {name_of(p): labels_of(p)[REVISION_LABEL] for p in world.list(POD)}
    new = sts_status(world)["updateRevision"]
    assert revisions == {"zk-0": old, "zk-1": new, "zk-2": new}
    # Below the partition a recreated pod stays on the current revision.
    world.apply([Delete(POD, "ns", "zk-0")])
    settle(world)
    pod = world.get(POD, "ns", "zk-0")
    assert pod is not None and labels_of(pod)[REVISION_LABEL] == old
    # Dropping the partition finishes the roll and moves currentRevision.
    world.objects[(STATEFULSET, "ns", "zk")]["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 0
    settle(world)
    assert sts_status(world)["currentRevision"] == new


def test_failed_pod_is_replaced_under_the_same_name() -> None:
    world = World()
    world.add(STATEFULSET, statefulset(replicas=2))
    settle(world)
    pod = world.get(POD, "ns", "zk-0")
    assert pod is not None
    uid = pod["metadata"]["uid"]
    pod["status"]["phase"] = "Failed"
    settle(world)
    pod = world.get(POD, "ns", "zk-0")
    assert pod is not None and pod["metadata"]["uid"] != uid


def test_retention_policy_when_scaled_delete_hands_the_claim_to_the_condemned_pod() -> None:
    world = World()
    world.add(
        STATEFULSET, statefulset(replicas=2, retention={"whenScaled": "Delete", "whenDeleted": "Retain"})
    )
    settle(world)
    assert all(not owner_refs_of(c) for c in world.list(PVC))
    world.objects[(STATEFULSET, "ns", "zk")]["spec"]["replicas"] = 1
    actions = step(world)
    patched = [a for a in actions if isinstance(a, Create | Patch | Delete) and a.resource == PVC]
    assert [a.name for a in patched if isinstance(a, Patch)] == ["data-zk-1"]
    claim = world.get(PVC, "ns", "data-zk-1")
    assert claim is not None
    ref = owner_refs_of(claim)[0]
    assert ref["kind"] == "Pod" and ref["name"] == "zk-1"


def test_retention_policy_when_deleted_delete_puts_the_set_on_every_claim() -> None:
    world = World()
    world.add(
        STATEFULSET, statefulset(replicas=2, retention={"whenScaled": "Retain", "whenDeleted": "Delete"})
    )
    settle(world)
    for claim in world.list(PVC):
        assert [r["kind"] for r in owner_refs_of(claim)] == ["StatefulSet"]


def test_rollback_reuses_the_old_revision_with_a_new_number() -> None:
    world = World()
    world.add(STATEFULSET, statefulset(replicas=1))
    settle(world)
    first = sts_status(world)["updateRevision"]
    update_template(world, "zookeeper:3.10")
    settle(world)
    update_template(world, "zookeeper:3.9")
    settle(world)
    assert sts_status(world)["updateRevision"] == first
    revision = world.get(CONTROLLER_REVISION, "ns", first)
    assert revision is not None and revision["revision"] == 3


def test_orphans_matching_the_selector_are_adopted() -> None:
    world = World()
    world.add(STATEFULSET, statefulset(replicas=1, claims=False, strategy={"type": "OnDelete"}))
    world.add(
        POD,
        {
            "metadata": {"name": "zk-0", "namespace": "ns", "labels": {"app": "zk"}},
            "spec": {},
            "status": ready_status(),
        },
    )
    step(world)
    pod = world.get(POD, "ns", "zk-0")
    assert pod is not None and owner_refs_of(pod)[0]["kind"] == "StatefulSet"


# --- properties -------------------------------------------------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("scale"), st.integers(0, 5)),
        st.tuples(st.just("ready"), st.integers(0, 5)),
        st.tuples(st.just("unready"), st.integers(0, 5)),
        st.tuples(st.just("delete"), st.integers(0, 5)),
        st.tuples(st.just("image"), st.sampled_from(["a", "b", "c"])),
        st.tuples(st.just("pass"), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(ops=operations, parallel=st.booleans(), on_delete=st.booleans())
def test_no_ordinal_is_ever_doubled_and_ordered_ready_waits(
    ops: list[tuple[str, Any]], parallel: bool, on_delete: bool
) -> None:
    strategy = {"type": "OnDelete"} if on_delete else None
    world = World()  # World.apply raises on a create of a name that exists: one pod per ordinal
    world.add(
        STATEFULSET,
        statefulset(
            replicas=3, policy="Parallel" if parallel else "OrderedReady", strategy=strategy, claims=False
        ),
    )
    for op, arg in ops:
        if op == "scale":
            world.objects[(STATEFULSET, "ns", "zk")]["spec"]["replicas"] = arg
        elif op in ("ready", "unready") and world.get(POD, "ns", f"zk-{arg}") is not None:
            set_ready(world, f"zk-{arg}", ready=op == "ready")
        elif op == "delete":
            world.apply([Delete(POD, "ns", f"zk-{arg}")])
        elif op == "image":
            update_template(world, str(arg))
        sts = world.list(STATEFULSET)[0]
        before = {name_of(p): p for p in world.list(POD)}
        actions = step(world)
        created = [ordinal_of(sts, a.body) for a in actions if isinstance(a, Create) and a.resource == POD]
        assert len(created) == len(set(created))
        if not parallel:
            assert len(created) <= 1
            for ordinal in created:
                assert ordinal is not None
                for lower in range(ordinal):
                    pod = before.get(f"zk-{lower}")
                    assert pod is not None and is_running_and_ready(pod), (ordinal, lower)
    # Once every pod may become Ready, the set converges to its spec.
    for pod in world.list(POD):
        set_ready(world, name_of(pod))
    settle(world)
    replicas = world.list(STATEFULSET)[0]["spec"]["replicas"]
    assert pods(world) == sorted(f"zk-{i}" for i in range(replicas))
    if not on_delete:
        status = sts_status(world)
        assert {labels_of(p)[REVISION_LABEL] for p in world.list(POD)} <= {status["updateRevision"]}


def test_status_always_carries_the_required_replicas_field_even_at_zero() -> None:
    from zkop_local.controllers.actions import Patch
    from zkop_local.controllers.statefulset import _status_patch

    sts = {"metadata": {"name": "zk", "namespace": "default"}, "status": {}}
    (patch,) = _status_patch(sts, {"replicas": 0, "readyReplicas": 0, "observedGeneration": 1})
    assert isinstance(patch, Patch)
    assert patch.patch["status"]["replicas"] == 0
