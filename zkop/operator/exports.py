"""kopf handlers for ZookeeperServiceExport: Kubernetes Services published into a ZooKeeper registry.

How a change travels: a Service or EndpointSlice event marks that Service dirty in every export that
selects it; each export's daemon waits until the Service has been quiet for DEBOUNCE_SECONDS (a rollout
emits a burst of slice updates: it is written once), then syncs. A sync lists every Service and
EndpointSlice of the export's namespaces (so it never reaps on a partial view), computes the desired
registry (pure, `zkop.registry`), diffs it with the nodes the export owns, and writes only the
difference. What the export owns is cached between syncs and re-read from ZooKeeper on every full
resync (RESYNC_SECONDS), after any failed write, and after a restart, which repairs drift.

Registry nodes are persistent, so an operator restart, a disconnect or an expired session changes
nothing in the registry: the next sync finds everything in place and writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import kopf
from lightkube.generic_resource import create_namespaced_resource
from lightkube.types import PatchType

from zkop.api.common import GROUP, VERSION
from zkop.api.export import EXPORT_KIND, EXPORT_PLURAL, ZookeeperServiceExport
from zkop.api.validation import InvalidSpec, parse_resource
from zkop.kube.clock import utc_now
from zkop.operator.access import EnsembleUnavailable, locate, session
from zkop.operator.handlers import STATE
from zkop.operator.leadership import LEADERSHIP
from zkop.plan.status import Verdict, wire_conditions
from zkop.registry.desired import SERVICE_NAME_LABEL, ServiceView, desired_registry, selects
from zkop.registry.diff import apply, diff
from zkop.zookeeper import acls
from zkop.zookeeper.registry import WriteReport, forget_export, read_owned, write

log = logging.getLogger(__name__)

ExportResource = create_namespaced_resource(GROUP, VERSION, EXPORT_KIND, EXPORT_PLURAL)

DEBOUNCE_SECONDS = float(os.environ.get("ZKOP_EXPORT_DEBOUNCE_SECONDS", "0.5"))
# A Service that never stops changing is still written at least this often.
MAX_DELAY_SECONDS = 4 * DEBOUNCE_SECONDS
RESYNC_SECONDS = float(os.environ.get("ZKOP_EXPORT_RESYNC_SECONDS", "60"))
RETRY_SECONDS = 2.0
_TICK = 0.25  # how often the daemon looks at `stopped` while idle


@dataclass
class ExportWorker:
    """One export's sync state in this process (lost on restart, rebuilt from ZooKeeper)."""

    export: ZookeeperServiceExport | None = None
    published: set[str] = field(default_factory=set)  # namespace/name of Services in the registry
    owned: dict[str, bytes | None] | None = None  # cache of the ledger's view; None: re-read
    dirty: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (first, last) event
    full_requested: bool = True
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def touch(self, key: str) -> None:
        now = asyncio.get_running_loop().time()
        first, _ = self.dirty.get(key, (now, now))
        self.dirty[key] = (first, now)
        self.wake.set()

    def request_full(self) -> None:
        self.full_requested = True
        self.wake.set()

    def due(self, now: float) -> list[str]:
        """Services quiet for DEBOUNCE_SECONDS (or dirty for MAX_DELAY_SECONDS): taken off the list."""
        ready = [
            key
            for key, (first, last) in self.dirty.items()
            if now - last >= DEBOUNCE_SECONDS or now - first >= MAX_DELAY_SECONDS
        ]
        for key in ready:
            del self.dirty[key]
        return ready

    def next_deadline(self) -> float | None:
        if not self.dirty:
            return None
        return min(
            min(last + DEBOUNCE_SECONDS, first + MAX_DELAY_SECONDS) for first, last in self.dirty.values()
        )

    def concerns(self, namespace: str, service: str, view: ServiceView | None) -> bool:
        if self.export is None or namespace not in self.export.selected_namespaces:
            return False
        key = f"{namespace}/{service}"
        return key in self.published or (view is not None and selects(self.export, view))


WORKERS: dict[str, ExportWorker] = {}


@dataclass
class SyncResult:
    ok: bool
    reason: str
    message: str
    services: int | None = None
    endpoints: int | None = None
    nodes: int | None = None
    errors: list[str] = field(default_factory=list)
    report: WriteReport | None = None


async def sync(body: kopf.Body, worker: ExportWorker, *, full: bool) -> SyncResult:
    """One pass for one export: list, compute, diff against what it owns, write the difference."""
    assert STATE.context is not None, "startup handler did not run"
    kube = STATE.context.kube
    try:
        export = parse_resource(ZookeeperServiceExport, dict(body))
    except InvalidSpec as exc:
        return SyncResult(False, "InvalidSpec", str(exc)[:1000])
    worker.export = export
    if not LEADERSHIP.acting:
        worker.owned = None  # another replica writes meanwhile: our cache would go stale
        return SyncResult(True, "NotLeader", "another zkop replica holds the lease")

    log.debug("%s/%s: sync (full=%s)", export.namespace, export.name, full)
    # A complete listing first: nothing is ever reaped on the strength of a partial view.
    services: list[dict[str, Any]] = []
    slices: list[dict[str, Any]] = []
    for namespace in export.selected_namespaces:
        services += await kube.list("v1", "Service", namespace, {})
        slices += await kube.list("discovery.k8s.io/v1", "EndpointSlice", namespace, {})
    desired = desired_registry(export, services, slices)
    worker.published = set(desired.services)

    try:
        access = await locate(kube, export.cluster_namespace, export.spec.cluster_ref.name, STATE.options)
        zk = await session(kube, STATE.sessions, access)
    except EnsembleUnavailable as exc:
        return SyncResult(False, "ClusterUnavailable", str(exc))

    cached = None if full else worker.owned
    log.debug("%s/%s: %d desired nodes, writing", export.namespace, export.name, len(desired.nodes))

    def work(client: Any) -> tuple[dict[str, bytes | None], Any, WriteReport]:
        owned = dict(cached) if cached is not None else read_owned(client, export.uid)
        changes = diff(desired.nodes, owned)
        parents = acls.shared_parent(zk.connection.credential.password)
        return owned, changes, write(client, export.uid, changes, parent_acl=parents)

    try:
        owned, changes, report = await STATE.sessions.run(zk, work)
    except Exception as exc:  # connection loss mid-write: which batches landed is unknown
        worker.owned = None
        return SyncResult(False, "SyncFailed", f"writing into ZooKeeper failed: {exc!r}")
    if report.failed:
        worker.owned = None
    else:
        after = apply(owned, changes)
        for path in report.conflicts:
            after.pop(path, None)
        worker.owned = after
    if not changes.empty:
        log.info(
            "%s/%s: registry sync wrote %d operations in %d transactions (%d nodes changed)",
            export.namespace,
            export.name,
            report.operations,
            report.transactions,
            changes.touched,
        )
    errors = list(desired.problems) + [
        f"{path}: a node zkop does not own is in the way" for path in report.conflicts
    ]
    if report.failed:
        errors.append("some changes could not be written; retried on the next sync")
    nodes = len(worker.owned) if worker.owned is not None else None
    message = f"{len(desired.services)} services, {desired.endpoints} ready endpoints published"
    return SyncResult(
        not report.failed,
        "Synced" if not report.failed else "SyncFailed",
        message,
        len(desired.services),
        desired.endpoints,
        nodes,
        errors,
        report,
    )


def _status(body: kopf.Body, result: SyncResult, synced_at: str) -> dict[str, Any]:
    previous = dict(body.get("status") or {})
    generation = body["metadata"].get("generation")
    ready = Verdict("True" if result.ok else "False", result.reason, result.message)
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": wire_conditions(
            previous.get("conditions") or [], {"Ready": ready}, generation, synced_at
        ),
        "errors": result.errors[:20],
        "lastSyncTime": synced_at if result.ok else previous.get("lastSyncTime"),
    }
    for key, value in (
        ("servicesPublished", result.services),
        ("endpointsPublished", result.endpoints),
        ("nodesOwned", result.nodes),
    ):
        status[key] = value if value is not None else previous.get(key)
    return {k: v for k, v in status.items() if v is not None}


async def _report(body: kopf.Body, result: SyncResult, force: bool) -> None:
    """Write status when it says something new, or (lastSyncTime) on full resyncs: not on every event."""
    assert STATE.context is not None
    if result.reason == "NotLeader":
        return
    status = _status(body, result, utc_now())
    previous = dict(body.get("status") or {})
    unchanged = {k: v for k, v in status.items() if k != "lastSyncTime"} == {
        k: v for k, v in previous.items() if k != "lastSyncTime"
    }
    if unchanged and not force:
        return
    meta = body["metadata"]
    STATE.context.kube.writes += 1
    await STATE.context.kube.client.patch(
        ExportResource.Status,
        meta["name"],
        {"status": status},
        namespace=meta["namespace"],
        patch_type=PatchType.MERGE,
    )


@kopf.daemon(GROUP, VERSION, EXPORT_PLURAL, cancellation_timeout=10)
async def export_loop(body: kopf.Body, stopped: kopf.DaemonStopped, **_: Any) -> None:
    """Debounced syncs on Service/EndpointSlice events, and a full resync every RESYNC_SECONDS."""
    uid = body["metadata"]["uid"]
    worker = WORKERS.setdefault(uid, ExportWorker())
    worker.request_full()
    loop = asyncio.get_running_loop()
    next_full = loop.time()
    while not stopped:
        now = loop.time()
        full = worker.full_requested or now >= next_full
        due = worker.due(now)
        if (full or due) and not body["metadata"].get("deletionTimestamp"):
            worker.full_requested = False
            try:
                async with STATE.lock(uid):
                    result = await sync(body, worker, full=full)
                await _report(body, result, force=full)
            except Exception as exc:  # a failed pass is retried; kopf would stop the daemon
                log.exception("%s: export sync failed", body["metadata"]["name"])
                worker.owned = None
                result = SyncResult(False, "SyncFailed", repr(exc))
            if full or not result.ok:
                next_full = loop.time() + (RESYNC_SECONDS if result.ok else RETRY_SECONDS)
        worker.wake.clear()
        deadline = min(d for d in (next_full, worker.next_deadline()) if d is not None)
        # Never zero: a deadline already past (an export being deleted is not synced) must not spin
        # the event loop that runs every other handler.
        timeout = min(max(deadline - loop.time(), 0.01), _TICK)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(worker.wake.wait(), timeout)


@kopf.on.update(GROUP, VERSION, EXPORT_PLURAL, field="spec")
async def on_export_spec(body: kopf.Body, **_: Any) -> None:
    worker = WORKERS.get(body["metadata"]["uid"])
    if worker is not None:
        worker.request_full()


@kopf.on.delete(GROUP, VERSION, EXPORT_PLURAL, retries=60)
async def on_export_delete(body: kopf.Body, retry: int, **_: Any) -> None:
    """Remove every node the export wrote (its ledger says which), then its ledger; nothing else."""
    assert STATE.context is not None, "startup handler did not run"
    if not LEADERSHIP.acting:
        raise kopf.TemporaryError("another zkop replica holds the lease", delay=5)
    uid = body["metadata"]["uid"]
    export = parse_resource(ZookeeperServiceExport, dict(body))
    kube = STATE.context.kube
    async with STATE.lock(uid):
        WORKERS.pop(uid, None)
        try:
            access = await locate(kube, export.cluster_namespace, export.spec.cluster_ref.name, STATE.options)
        except EnsembleUnavailable as exc:
            if "not found" in str(exc):
                return  # the ensemble and its registry are gone with it
            raise kopf.TemporaryError(f"cannot clean the registry yet: {exc}", delay=5) from exc
        zk = await session(kube, STATE.sessions, access)

        def work(client: Any) -> WriteReport:
            changes = diff({}, read_owned(client, uid))
            report = write(client, uid, changes)
            if not report.failed:
                forget_export(client, uid)
            return report

        report = await STATE.sessions.run(zk, work)
        if report.failed:
            raise kopf.TemporaryError("some registry nodes could not be removed yet", delay=2)
    STATE.locks.pop(uid, None)


def _touch(namespace: str, service: str, view: ServiceView | None) -> None:
    for worker in WORKERS.values():
        if worker.concerns(namespace, service, view):
            worker.touch(f"{namespace}/{service}")


@kopf.on.event("v1", "services")
async def on_service_event(body: kopf.Body, **_: Any) -> None:
    meta = body["metadata"]
    _touch(meta.get("namespace") or "default", meta["name"], ServiceView.of(dict(body)))


@kopf.on.event("discovery.k8s.io", "v1", "endpointslices")
async def on_endpointslice_event(body: kopf.Body, **_: Any) -> None:
    meta = body["metadata"]
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if service:
        _touch(meta.get("namespace") or "default", service, None)
