"""ZookeeperZnode: an application's subtree, credentials and discovery ConfigMap, reconciled.

One pass: parse, pick the path (pure), check the cluster lets this namespace in, hold the finalizer,
read or create the credentials Secret, create the subtree with its ACL and quota as zkop's superuser,
then publish the discovery ConfigMap (only after the subtree exists: clients do not create their chroot)
and report. Every step is idempotent and re-done on each pass, so the ConfigMap follows membership
changes and a subtree or quota node removed behind zkop's back comes back.

Deletion runs under zkop's own finalizer `zkop.io/znode`: with deletionPolicy Delete the subtree (and its
quota nodes) are removed first; Retain leaves the data, and the Secret that opens it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import kopf
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.security import make_digest_acl
from lightkube import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.core_v1 import Secret
from lightkube.types import PatchType

from zkop.api.common import GROUP, VERSION
from zkop.api.validation import InvalidSpec, read_status
from zkop.api.znode import (
    ZNODE_KIND,
    ZNODE_PLURAL,
    ZookeeperZnode,
    ZookeeperZnodeStatus,
    parse_znode,
    path_problem,
)
from zkop.kube.client import Kube
from zkop.kube.compare import covers
from zkop.operator.access import EnsembleAccess, EnsembleUnavailable, connection, locate, superuser
from zkop.operator.handlers import RESYNC_SECONDS, STATE
from zkop.operator.leadership import LEADERSHIP
from zkop.operator.reconcile import Context
from zkop.plan.status import Verdict
from zkop.plan.znode import namespace_allowed, quota_limits, ready_verdict, subtree_path, znode_status
from zkop.render.identity import SUPERUSER, new_password
from zkop.render.names import FIELD_MANAGER
from zkop.render.znode import (
    AppCredential,
    CredentialSecretProblem,
    app_discovery,
    app_secret,
    derived_path,
    object_name,
    read_credential_secret,
    secret_owner_references,
)
from zkop.zookeeper.quota import Usage
from zkop.zookeeper.sessions import Sessions
from zkop.zookeeper.tree import QuotaConflict, delete_subtree, ensure_quota, ensure_subtree, remove_quota

log = logging.getLogger(__name__)

FINALIZER = "zkop.io/znode"
ZnodeResource = create_namespaced_resource(GROUP, VERSION, ZNODE_KIND, ZNODE_PLURAL)
_WARNING_REASONS = {"InvalidSpec", "NamespaceNotAllowed", "Conflict", "QuotaConflict", "QuotaExceeded"}


class Blocked(RuntimeError):
    """A pass cannot go on; `reason` becomes the Ready condition's reason."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class ZnodeOutcome:
    ready: bool
    reason: str
    status_written: bool = False


async def _write_status(
    kube: Kube, body: Mapping[str, Any], previous: ZookeeperZnodeStatus | None, status: ZookeeperZnodeStatus
) -> bool:
    """Server-side apply of the status subresource, only when it changes (an idle pass writes nothing)."""
    wire = status.to_wire()
    if previous is not None and previous.to_wire() == wire:
        return False
    meta = body["metadata"]
    kube.writes += 1
    await kube.client.patch(
        ZnodeResource.Status,
        meta["name"],
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": ZNODE_KIND,
            "metadata": {"name": meta["name"]},
            "status": wire,
        },
        namespace=meta["namespace"],
        patch_type=PatchType.APPLY,
        field_manager=FIELD_MANAGER,
        force=True,
    )
    return True


async def _report(
    ctx: Context,
    body: Mapping[str, Any],
    previous: ZookeeperZnodeStatus | None,
    verdict: Verdict,
    **found: Any,
) -> ZnodeOutcome:
    """Write the status and, when the Ready reason changes, one Event saying why."""
    status = znode_status(previous, body["metadata"].get("generation"), verdict, ctx.clock(), **found)
    written = await _write_status(ctx.kube, body, previous, status)
    before = next((c for c in previous.conditions if c.type == "Ready"), None) if previous else None
    if before is None or (before.status, before.reason) != (verdict.status, verdict.reason):
        warning = verdict.reason in _WARNING_REASONS or (
            verdict.status != "True" and verdict.reason != "Creating"
        )
        await ctx.kube.event(
            dict(body),
            type_="Warning" if warning else "Normal",
            reason=verdict.reason,
            message=verdict.message,
        )
    return ZnodeOutcome(verdict.status == "True", verdict.reason, written)


async def _patch_finalizers(kube: Kube, body: Mapping[str, Any], add: bool) -> None:
    """Add or remove zkop's finalizer with a JSON patch that first tests the resourceVersion, so a
    finalizer someone else (kopf) changes at the same moment is never lost; retried on a fresh read."""
    meta = body["metadata"]
    for _ in range(5):
        live = await kube.get(f"{GROUP}/{VERSION}", ZNODE_KIND, meta["name"], meta["namespace"])
        if live is None:
            return
        finalizers = list(live["metadata"].get("finalizers") or [])
        if (FINALIZER in finalizers) == add:
            return
        ops: list[dict[str, Any]] = [
            {"op": "test", "path": "/metadata/resourceVersion", "value": live["metadata"]["resourceVersion"]}
        ]
        if add:
            ops.append({"op": "add", "path": "/metadata/finalizers", "value": [*finalizers, FINALIZER]})
        else:
            ops.append({"op": "remove", "path": f"/metadata/finalizers/{finalizers.index(FINALIZER)}"})
        kube.writes += 1
        try:
            await kube.client.patch(
                ZnodeResource, meta["name"], ops, namespace=meta["namespace"], patch_type=PatchType.JSON
            )
            return
        except ApiError as exc:
            if exc.status.code not in (409, 422):
                raise
    raise RuntimeError(
        f"could not {'add' if add else 'remove'} finalizer {FINALIZER}: the object kept changing"
    )


async def _credential(kube: Kube, znode: ZookeeperZnode) -> AppCredential:
    """The application's credential: generated into its Secret the first time, read from it afterwards,
    never overwritten (an application may hold it already). Only the Secret's owner reference follows the
    deletion policy."""
    name = object_name(znode)
    secret = await kube.get("v1", "Secret", name, znode.namespace)
    if secret is None:
        credential = AppCredential.for_znode(znode, new_password())
        if await kube.create(app_secret(znode, credential)):
            return credential
        secret = await kube.get("v1", "Secret", name, znode.namespace)
        if secret is None:
            raise Blocked("Conflict", f"Secret {name} appeared and vanished while being created")
    try:
        username, password = read_credential_secret(secret, znode.name)
    except CredentialSecretProblem as problem:
        if problem.kind == "foreign":
            raise Blocked(
                "Conflict",
                f"Secret {name} exists and was not made by zkop for this ZookeeperZnode: rename one of them",
            ) from None
        raise Blocked(
            "Conflict", f"Secret {name} has no username or password: delete it to generate new ones"
        ) from None
    refs = secret["metadata"].get("ownerReferences") or []
    foreign = [r for r in refs if r.get("kind") != ZNODE_KIND]
    wanted = foreign + secret_owner_references(znode)
    if [r.get("uid") for r in refs] != [r.get("uid") for r in wanted]:
        await kube.client.patch(
            Secret,
            name,
            {"metadata": {"ownerReferences": wanted or None}},
            namespace=znode.namespace,
            patch_type=PatchType.MERGE,
        )
        kube.writes += 1
    return AppCredential(username, password)


async def _discovery(
    kube: Kube, znode: ZookeeperZnode, hosts: str, path: str, client: dict[str, str]
) -> None:
    desired = app_discovery(znode, hosts, path, client)
    live = await kube.get("v1", "ConfigMap", desired["metadata"]["name"], znode.namespace)
    if live is not None:
        owners = {r.get("uid") for r in live["metadata"].get("ownerReferences") or []}
        if znode.uid not in owners:
            raise Blocked(
                "Conflict",
                f"ConfigMap {desired['metadata']['name']} exists and is not this ZookeeperZnode's: "
                "rename one of them",
            )
        if covers(live, desired):
            return
    await kube.apply(desired)


async def reconcile_znode(body: Mapping[str, Any], ctx: Context, sessions: Sessions) -> ZnodeOutcome:
    """Bring one ZookeeperZnode's subtree, Secret and ConfigMap in line with its spec; report status."""
    previous = read_status(ZookeeperZnodeStatus, body)
    try:
        znode = parse_znode(dict(body))
        path = subtree_path(znode)
    except InvalidSpec as exc:
        return await _report(ctx, body, previous, Verdict("False", "InvalidSpec", str(exc)))
    cluster = f"{znode.cluster_namespace}/{znode.spec.cluster_ref.name}"
    found: dict[str, Any] = {"path": path, "cluster": cluster}
    try:
        cluster_body = await ctx.kube.get(
            f"{GROUP}/{VERSION}", "ZookeeperCluster", znode.spec.cluster_ref.name, znode.cluster_namespace
        )
        if cluster_body is None:
            raise Blocked("ClusterNotReady", f"ZookeeperCluster {cluster} not found")
        annotations = cluster_body["metadata"].get("annotations")
        if not namespace_allowed(znode.cluster_namespace, annotations, znode.namespace):
            raise Blocked(
                "NamespaceNotAllowed",
                f"ZookeeperCluster {cluster} does not list namespace {znode.namespace} in its annotation "
                "zkop.io/allowed-namespaces",
            )
        # Before anything exists in ZooKeeper, the finalizer is in place and the path is recorded: a
        # deletion then always knows what to delete, even after a pass that crashed half-way.
        if FINALIZER not in (body["metadata"].get("finalizers") or []):
            await _patch_finalizers(ctx.kube, body, add=True)
        if previous is None or previous.path != path:
            creating = Verdict("False", "Creating", f"creating {path} in {cluster}")
            await _report(ctx, body, previous, creating, **found)
            previous = znode_status(
                previous, body["metadata"].get("generation"), creating, ctx.clock(), **found
            )
        credential = await _credential(ctx.kube, znode)
        found["secret_name"] = object_name(znode)
        try:
            access = await locate(ctx.kube, znode.cluster_namespace, znode.spec.cluster_ref.name, ctx.options)
        except InvalidSpec as exc:
            raise Blocked("ClusterNotReady", f"ZookeeperCluster {cluster} is invalid: {exc}") from None
        usage = await _write_subtree(ctx, sessions, access, znode, path, credential, previous)
        if not access.connection_string:
            raise Blocked("ClusterNotReady", f"ZookeeperCluster {cluster} reports no connection string yet")
        await _discovery(ctx.kube, znode, access.connection_string, path, access.client_keys)
    except EnsembleUnavailable as exc:
        return await _report(ctx, body, previous, Verdict("False", "ClusterNotReady", str(exc)), **found)
    except Blocked as exc:
        return await _report(ctx, body, previous, Verdict("False", exc.reason, str(exc)), **found)
    limits = quota_limits(znode.spec.quota)
    name = object_name(znode)
    verdict = ready_verdict(path, cluster, name, name, usage, limits)
    return await _report(
        ctx, body, previous, verdict, **found, config_map_name=name, usage=usage, usage_known=True
    )


async def _write_subtree(
    ctx: Context,
    sessions: Sessions,
    access: EnsembleAccess,
    znode: ZookeeperZnode,
    path: str,
    credential: AppCredential,
    previous: ZookeeperZnodeStatus | None,
) -> Usage | None:
    """Create the subtree with its ACL, and set (or remove) its quota, as zkop's superuser."""
    admin = await superuser(ctx.kube, access)
    session = await sessions.get(access.key, access.hosts, await connection(ctx.kube, access))
    # zkop's superuser passes every ACL check through the servers' superDigest anyway; an explicit entry
    # keeps zkop's access (and says who administers the node) even on servers started without it.
    admin_acl = [make_digest_acl(SUPERUSER, admin.password, all=True)]
    owner_acl = [credential.acl(all=True)]
    reader_acl = [credential.acl(read=True)]
    limits = quota_limits(znode.spec.quota)
    had_quota = previous is not None and previous.usage is not None

    def work(client: Any) -> Usage | None:
        ensure_subtree(client, path, owner_acl, admin_acl)
        if limits is not None:
            return ensure_quota(client, path, limits, admin_acl, reader_acl)
        if had_quota:  # only a quota zkop set is removed; an administrator's own stays
            remove_quota(client, path)
        return None

    try:
        return await sessions.run(session, work)
    except QuotaConflict as exc:
        raise Blocked("QuotaConflict", str(exc)) from None
    except (KazooException, KazooTimeoutError) as exc:
        raise Blocked("ClusterNotReady", f"ZooKeeper refused or did not answer: {exc!r}") from None


async def finalize_znode(body: Mapping[str, Any], ctx: Context, sessions: Sessions) -> str:
    """Run the deletion policy, then release the object. Returns what was done (for the Event and tests).
    Raises Blocked when the subtree cannot be deleted yet; the caller retries."""
    meta = body["metadata"]
    # A fresh read: kopf's copy may predate the pass that recorded the path.
    live = await ctx.kube.get(f"{GROUP}/{VERSION}", ZNODE_KIND, meta["name"], meta["namespace"]) or body
    if FINALIZER not in (live["metadata"].get("finalizers") or []):
        return "nothing"
    # Read the raw fields: an object whose spec no longer parses must still be deletable.
    spec = live.get("spec") or {}
    path = (live.get("status") or {}).get("path")
    if not path and not spec.get("path") and meta.get("uid"):
        path = derived_path(meta["namespace"], meta["name"], meta["uid"])
    ref = spec.get("clusterRef") or {}
    cluster_namespace = ref.get("namespace") or meta["namespace"]
    done = "retained"
    if spec.get("deletionPolicy") == "Delete" and path and not path_problem(path):
        cluster_body = await ctx.kube.get(
            f"{GROUP}/{VERSION}", "ZookeeperCluster", ref.get("name", ""), cluster_namespace
        )
        if cluster_body is None:
            done = "cluster gone"  # nothing left to delete from; holding the object would block forever
        else:
            access = await locate(ctx.kube, cluster_namespace, ref["name"], ctx.options)
            session = await sessions.get(access.key, access.hosts, await connection(ctx.kube, access))

            def work(client: Any) -> None:
                remove_quota(client, path)
                delete_subtree(client, path)

            try:
                await sessions.run(session, work)
            except (KazooException, KazooTimeoutError) as exc:
                raise Blocked("DeletionBlocked", f"deleting {path}: {exc!r}") from None
            done = "deleted"
    await _patch_finalizers(ctx.kube, live, add=False)
    if path:
        await ctx.kube.event(
            dict(body),
            type_="Normal",
            reason={"deleted": "SubtreeDeleted", "retained": "SubtreeRetained"}.get(done, "ClusterGone"),
            message=f"{path}: {done}",
        )
    return done


# ---- kopf handlers (registered by zkop.operator.handlers importing this module) -----------------------


def _context() -> Context:
    assert STATE.context is not None, "startup handler did not run"
    return STATE.context


async def _pass(body: kopf.Body) -> ZnodeOutcome | None:
    if not LEADERSHIP.acting or body["metadata"].get("deletionTimestamp"):
        return None  # another replica acts; or deletion is under way and must not re-create anything
    async with STATE.lock(body["metadata"]["uid"]):
        return await reconcile_znode(body, _context(), STATE.sessions)


@kopf.on.create(GROUP, VERSION, ZNODE_PLURAL)
@kopf.on.update(GROUP, VERSION, ZNODE_PLURAL, field="spec")
@kopf.on.resume(GROUP, VERSION, ZNODE_PLURAL)
async def znode_changed(body: kopf.Body, **_: Any) -> None:
    await _pass(body)


@kopf.timer(GROUP, VERSION, ZNODE_PLURAL, interval=RESYNC_SECONDS, initial_delay=RESYNC_SECONDS)
async def znode_resync(body: kopf.Body, **_: Any) -> None:
    """Re-render on every interval: the ensemble's membership (and so the ConfigMap) and the quota usage
    change without any event on this object."""
    try:
        await _pass(body)
    except Exception:  # the next interval retries; a raising timer would only add kopf's own backoff
        log.exception("%s/%s: znode pass failed", body["metadata"]["namespace"], body["metadata"]["name"])


@kopf.on.delete(GROUP, VERSION, ZNODE_PLURAL, optional=True)
async def znode_deleted(body: kopf.Body, **_: Any) -> None:
    # optional: zkop's own finalizer (added by the pass) holds the object, not kopf's.
    if not LEADERSHIP.acting:
        raise kopf.TemporaryError("not the acting replica", delay=5)
    async with STATE.lock(body["metadata"]["uid"]):
        try:
            await finalize_znode(body, _context(), STATE.sessions)
        except (Blocked, EnsembleUnavailable, InvalidSpec) as exc:
            await _context().kube.event(
                dict(body), type_="Warning", reason="DeletionBlocked", message=str(exc)
            )
            raise kopf.TemporaryError(str(exc), delay=10) from None
