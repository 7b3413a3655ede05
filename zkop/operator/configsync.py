"""ZookeeperConfigSync handlers: ConfigMaps, opted-in Secrets and cluster state mirrored into znodes.

kopf's watch events only keep an index of the syncs and mark the ones a change concerns (a ConfigMap
they list, a Node, a pod); one loop runs the passes, coalescing bursts (pods change often) and re-running
every sync each RESYNC_SECONDS, so anything missed or changed directly in ZooKeeper is repaired. A pass
is level-triggered: it reads every source and the whole owned subtree, diffs, and writes only the
difference. The `zkop.io/configsync` finalizer is zkop's own rather than kopf's, so that only the acting
replica (see `leadership.py`) ever decides that cleanup is done.

Every znode of a sync gets the ACL `zkop.plan.configsync.sync_acl` computes (zkop's admin identity, the
readers' digest identities with READ, world READ only on request); a pass also corrects the ACL of any
existing node that differs, so the periodic resync repairs ACL drift as it repairs data drift.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import kopf
from kazoo.exceptions import KazooException
from lightkube import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import Node, Pod
from lightkube.types import PatchType
from pydantic import ValidationError

from zkop.api.common import API_VERSION, GROUP, VERSION
from zkop.api.configsync import FINALIZER, KIND, PLURAL, ZookeeperConfigSyncSpec
from zkop.api.validation import field_errors
from zkop.api.znode import ZNODE_KIND, ZNODE_PLURAL
from zkop.kube.client import Kube
from zkop.kube.clock import utc_now
from zkop.operator.access import EnsembleUnavailable, connection, locate, session, superuser
from zkop.operator.handlers import BUSY_SECONDS, RESYNC_SECONDS, STATE
from zkop.operator.leadership import LEADERSHIP
from zkop.plan.configsync import (
    Desired,
    Problem,
    ReaderObjects,
    admin_acl,
    desired_znodes,
    reader_secret_name,
    sync_acl,
)
from zkop.plan.status import Verdict, wire_conditions
from zkop.render.names import FIELD_MANAGER, RenderOptions
from zkop.zookeeper.sessions import Sessions
from zkop.zookeeper.subtree import NotOwned, TransactionFailed, remove_subtree, sync_subtree

log = logging.getLogger(__name__)

ConfigSyncResource = create_namespaced_resource(GROUP, VERSION, KIND, PLURAL)
create_namespaced_resource(GROUP, VERSION, ZNODE_KIND, ZNODE_PLURAL)  # for Kube.get of readers


# -- one pass ------------------------------------------------------------------------------------------


@dataclass
class SyncOutcome:
    ok: bool
    changes: int = 0
    reason: str = ""


@dataclass
class SyncContext:
    kube: Kube
    sessions: Sessions
    options: RenderOptions = field(default_factory=RenderOptions)
    clock: Callable[[], str] = utc_now


async def sync_pass(body: dict[str, Any], ctx: SyncContext) -> SyncOutcome:
    """One level-triggered pass for one ZookeeperConfigSync."""
    meta = body["metadata"]
    try:
        spec = ZookeeperConfigSyncSpec.model_validate(body.get("spec") or {})
    except ValidationError as exc:
        if meta.get("deletionTimestamp"):
            await _remove_finalizer(ctx.kube, body)  # nothing zkop could have written: nothing to clean
            return SyncOutcome(True)
        message = "; ".join(str(e) for e in field_errors(exc, prefix=("spec",)))
        await _report(ctx, body, Problem("InvalidSpec", message), None, 0)
        return SyncOutcome(True, reason="InvalidSpec")
    if meta.get("deletionTimestamp"):
        return await _finalize(body, spec, ctx)
    if FINALIZER not in (meta.get("finalizers") or []):
        body = await _add_finalizer(ctx.kube, body)
    try:
        access = await locate(
            ctx.kube, spec.cluster_ref.namespace or meta["namespace"], spec.cluster_ref.name, ctx.options
        )
        desired = await _read_sources(ctx.kube, meta["namespace"], spec)
        admin = await superuser(ctx.kube, access)
        zk = await ctx.sessions.get(access.key, access.hosts, await connection(ctx.kube, access))
        acl = sync_acl(admin.password, desired.grants)
        changes = await ctx.sessions.run(
            zk,
            lambda client: sync_subtree(
                client,
                spec.path,
                meta["uid"],
                f"{KIND} {meta['namespace']}/{meta['name']}",
                desired.znodes,
                acl=acl,
                # Ancestors zkop creates above the path: admin only. ZooKeeper checks permissions on
                # the node a request names, never on the path to it, so readers need nothing there.
                parent_acl=[admin_acl(admin.password)],
                keep=frozenset(desired.keep),
                budget=spec.max_value_bytes,
            ),
        )
    except EnsembleUnavailable as exc:
        await _report(ctx, body, Problem("EnsembleUnavailable", str(exc)), None, 0)
        return SyncOutcome(False, reason="EnsembleUnavailable")
    except NotOwned as exc:
        await _report(ctx, body, Problem("PathNotOwned", str(exc)), None, 0)
        return SyncOutcome(False, reason="PathNotOwned")
    except (TransactionFailed, KazooException) as exc:
        await _report(ctx, body, Problem("SyncFailed", f"{type(exc).__name__}: {exc}"), None, 0)
        return SyncOutcome(False, reason="SyncFailed")
    await _report(ctx, body, None, desired, len(changes))
    if changes:
        log.info(
            "%s/%s: %d znode change(s) under %s", meta["namespace"], meta["name"], len(changes), spec.path
        )
    return SyncOutcome(True, len(changes))


async def _read_sources(kube: Kube, namespace: str, spec: ZookeeperConfigSyncSpec) -> Desired:
    """Every object the spec names, read fresh. A failed read raises: the pass must not diff against a
    partial view, or what could not be read would look deleted and be reaped."""
    config_maps = {r.name: await kube.get("v1", "ConfigMap", r.name, namespace) for r in spec.config_maps}
    secrets = {r.name: await kube.get("v1", "Secret", r.name, namespace) for r in spec.secrets}
    readers: dict[str, ReaderObjects] = {}
    for ref in spec.readers:
        znode = await kube.get(API_VERSION, ZNODE_KIND, ref.znode, namespace)
        secret = await kube.get("v1", "Secret", reader_secret_name(ref.znode), namespace) if znode else None
        readers[ref.znode] = (znode, secret)
    nodes: list[Any] | None = None
    pods: list[Any] | None = None
    state = spec.cluster_state
    if state is not None and state.nodes:
        nodes = [n.to_dict() async for n in kube.client.list(Node)]
    if state is not None and state.pods is not None:
        labels = label_filter(state.pods.selector)
        pods = []
        for ns in state.pods.namespaces or [namespace]:
            pods += [p.to_dict() async for p in kube.client.list(Pod, namespace=ns, labels=labels)]
    return desired_znodes(spec, config_maps, secrets, nodes, pods, readers)


def label_filter(selector: dict[str, Any]) -> dict[str, Any]:
    """A metav1.LabelSelector as lightkube's `labels` argument."""
    from lightkube import operators

    labels: dict[str, Any] = dict(selector.get("matchLabels") or {})
    for expression in selector.get("matchExpressions") or []:
        key, op, values = expression["key"], expression["operator"], expression.get("values") or []
        if op == "In":
            labels[key] = operators.in_(values)
        elif op == "NotIn":
            labels[key] = operators.not_in(values)
        elif op == "Exists":
            labels[key] = operators.exists()
        elif op == "DoesNotExist":
            labels[key] = operators.not_exists()
        else:
            raise ValueError(f"unknown label selector operator {op!r}")
    return labels


async def _finalize(body: dict[str, Any], spec: ZookeeperConfigSyncSpec, ctx: SyncContext) -> SyncOutcome:
    meta = body["metadata"]
    if FINALIZER not in (meta.get("finalizers") or []):
        return SyncOutcome(True)
    if spec.deletion_policy == "Delete":
        cluster_ns = spec.cluster_ref.namespace or meta["namespace"]
        cluster = await ctx.kube.get(API_VERSION, "ZookeeperCluster", spec.cluster_ref.name, cluster_ns)
        if cluster is not None and not (cluster["metadata"].get("deletionTimestamp")):
            try:
                access = await locate(ctx.kube, cluster_ns, spec.cluster_ref.name, ctx.options)
                zk = await session(ctx.kube, ctx.sessions, access)
                await ctx.sessions.run(
                    zk,
                    lambda client: remove_subtree(
                        client, spec.path, meta["uid"], budget=spec.max_value_bytes
                    ),
                )
            except (EnsembleUnavailable, TransactionFailed, KazooException) as exc:
                # The finalizer stays until the subtree is gone: retried by the next pass.
                await _report(ctx, body, Problem("CleanupFailed", str(exc)), None, 0)
                return SyncOutcome(False, reason="CleanupFailed")
        # A cluster that is gone (or going) takes its data with it: nothing left to clean.
    await _remove_finalizer(ctx.kube, body)
    return SyncOutcome(True)


# -- Kubernetes writes ---------------------------------------------------------------------------------


async def _add_finalizer(kube: Kube, body: dict[str, Any]) -> dict[str, Any]:
    meta = body["metadata"]
    finalizers = meta.get("finalizers")
    # A JSON patch guarded by the resourceVersion: never clobbers a finalizer someone else just added.
    ops: list[dict[str, Any]] = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]}
    ]
    if finalizers:
        ops.append({"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER})
    else:
        ops.append({"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]})
    kube.writes += 1
    result = await kube.client.patch(
        ConfigSyncResource, meta["name"], ops, namespace=meta["namespace"], patch_type=PatchType.JSON
    )
    updated: dict[str, Any] = result.to_dict()  # type: ignore[no-untyped-call]
    return updated


async def _remove_finalizer(kube: Kube, body: dict[str, Any]) -> None:
    meta = body["metadata"]
    finalizers = list(meta.get("finalizers") or [])
    if FINALIZER not in finalizers:
        return
    index = finalizers.index(FINALIZER)
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]},
        {"op": "remove", "path": f"/metadata/finalizers/{index}"},
    ]
    kube.writes += 1
    try:
        await kube.client.patch(
            ConfigSyncResource, meta["name"], ops, namespace=meta["namespace"], patch_type=PatchType.JSON
        )
    except ApiError as exc:
        if exc.status.code != 404:
            raise


async def _report(
    ctx: SyncContext,
    body: dict[str, Any],
    failure: Problem | None,
    desired: Desired | None,
    changes: int,
) -> None:
    """Write status when it says something new (a pass that changed nothing writes nothing), and post
    a Warning Event for each problem that was not already reported."""
    meta = body["metadata"]
    previous: dict[str, Any] = body.get("status") or {}
    problems = [failure] if failure else list(desired.problems if desired else [])
    errors = [p.message for p in problems]
    if failure is not None:
        ready, reason, message = False, failure.reason, failure.message
    elif problems:
        ready, reason, message = False, problems[0].reason, "; ".join(errors)
    else:
        ready, reason, message = True, "Synced", f"{desired.keys if desired else 0} key(s) mirrored"
    now = ctx.clock()
    # The time znodes last changed (or the first successful pass): a pass that finds everything in
    # place must not write status, or every resync of every sync would be a write.
    first_success = desired is not None and not previous.get("lastSyncTime")
    last_sync = now if changes or first_success else previous.get("lastSyncTime")
    status: dict[str, Any] = {
        "observedGeneration": meta.get("generation", 0),
        "conditions": wire_conditions(
            previous.get("conditions") or [],
            {"Ready": Verdict("True" if ready else "False", reason, message[:1024])},
            meta.get("generation", 0),
            now,
        ),
        "syncedKeys": desired.keys if desired else previous.get("syncedKeys", 0),
        "errors": errors,
        "readers": desired.readers if desired else previous.get("readers"),
        "lastSyncTime": last_sync,
    }
    status = {k: v for k, v in status.items() if v is not None}
    if status != {k: previous.get(k) for k in status}:
        ctx.kube.writes += 1
        await ctx.kube.client.patch(
            ConfigSyncResource.Status,
            meta["name"],
            {"status": status},
            namespace=meta["namespace"],
            patch_type=PatchType.MERGE,
            field_manager=FIELD_MANAGER,
        )
    for problem in problems:
        if problem.message not in (previous.get("errors") or []):
            await ctx.kube.event(body, type_="Warning", reason=problem.reason, message=problem.message)


# -- triggering and the loop ---------------------------------------------------------------------------


class SyncIndex:
    """The syncs this process knows (latest body from the watch) and which of them need a pass."""

    def __init__(self) -> None:
        self.bodies: dict[str, dict[str, Any]] = {}
        self.dirty: set[str] = set()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def mark(self, uids: list[str] | set[str]) -> None:
        if uids:
            self.dirty.update(uids)
            self.wake.set()

    def selecting(self, predicate: Callable[[dict[str, Any]], bool]) -> list[str]:
        return [uid for uid, body in self.bodies.items() if predicate(body)]


INDEX = SyncIndex()


def _spec(body: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = body.get("spec") or {}
    return spec


def _lists(body: dict[str, Any], field_name: str, namespace: str, name: str) -> bool:
    return body["metadata"].get("namespace") == namespace and any(
        s.get("name") == name for s in _spec(body).get(field_name) or []
    )


def _watches_pods(body: dict[str, Any], namespace: str) -> bool:
    pods = (_spec(body).get("clusterState") or {}).get("pods")
    if pods is None:
        return False
    return namespace in (pods.get("namespaces") or [body["metadata"].get("namespace")])


@kopf.on.event(GROUP, VERSION, PLURAL)
async def configsync_event(
    type: str, body: kopf.Body, **_: Any
) -> None:  # kopf passes the event type as `type`
    body_copy: dict[str, Any] = copy.deepcopy(dict(body))
    uid = body_copy["metadata"]["uid"]
    if type == "DELETED":
        INDEX.bodies.pop(uid, None)
        INDEX.dirty.discard(uid)
        return
    INDEX.bodies[uid] = body_copy
    INDEX.mark([uid])


@kopf.on.event("v1", "configmaps")
async def configmap_event(namespace: str | None, name: str | None, **_: Any) -> None:
    INDEX.mark(INDEX.selecting(lambda b: _lists(b, "configMaps", namespace or "", name or "")))


def _reads_with(body: dict[str, Any], namespace: str, secret: str) -> bool:
    """Whether `secret` is the credentials Secret of one of the sync's readers."""
    return body["metadata"].get("namespace") == namespace and any(
        reader_secret_name(str(r.get("znode"))) == secret for r in _spec(body).get("readers") or []
    )


@kopf.on.event("v1", "secrets")
async def secret_event(namespace: str | None, name: str | None, **_: Any) -> None:
    INDEX.mark(
        INDEX.selecting(
            lambda b: (
                _lists(b, "secrets", namespace or "", name or "")
                or _reads_with(b, namespace or "", name or "")
            )
        )
    )


@kopf.on.event("v1", "nodes")
async def node_event(**_: Any) -> None:
    INDEX.mark(INDEX.selecting(lambda b: bool((_spec(b).get("clusterState") or {}).get("nodes"))))


@kopf.on.event("v1", "pods")
async def pod_event(namespace: str | None, **_: Any) -> None:
    INDEX.mark(INDEX.selecting(lambda b: _watches_pods(b, namespace or "")))


async def _sync_one(uid: str, ctx: SyncContext) -> None:
    body = INDEX.bodies.get(uid)
    if body is None:
        return
    async with STATE.lock(uid):
        try:
            outcome = await sync_pass(body, ctx)
        except Exception:  # the loop must survive any one sync; the retry below covers it
            log.exception(
                "%s/%s: config sync pass failed", body["metadata"]["namespace"], body["metadata"]["name"]
            )
            outcome = SyncOutcome(False)
    if not outcome.ok:
        asyncio.get_running_loop().call_later(BUSY_SECONDS, INDEX.mark, [uid])


async def sync_loop(index: SyncIndex = INDEX) -> None:
    """Run the passes marked by events, and every sync each RESYNC_SECONDS; only while acting."""
    loop = asyncio.get_running_loop()
    next_resync = loop.time() + RESYNC_SECONDS
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(index.wake.wait(), timeout=max(0.0, next_resync - loop.time()))
        index.wake.clear()
        if loop.time() >= next_resync:
            index.dirty.update(index.bodies)
            next_resync = loop.time() + RESYNC_SECONDS
        if not LEADERSHIP.acting or STATE.context is None:
            await LEADERSHIP.wait_until_acting()
            # Whatever happened while another replica acted is unknown here: look at everything.
            index.dirty.update(index.bodies)
            await asyncio.sleep(0.1)  # let the startup handler finish setting up the client
            continue
        ctx = SyncContext(STATE.context.kube, STATE.sessions, STATE.options)
        uids, index.dirty = index.dirty, set()
        await asyncio.gather(*(_sync_one(uid, ctx) for uid in uids))


@kopf.on.startup()
async def _start_sync_loop(**_: Any) -> None:
    INDEX.task = asyncio.create_task(sync_loop())


@kopf.on.cleanup()
async def _stop_sync_loop(**_: Any) -> None:
    if INDEX.task is not None:
        INDEX.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await INDEX.task
