"""The kubelet loop: syncs pods bound to this node from the API server into the process runtime.

- watches pods (all namespaces) and services; every change (and a periodic resync) triggers a reconcile that
  lists them, binds unassigned pods to this node (acting as a trivial scheduler), starts new pods, stops
  deleted ones (graceful stop, then DELETE with gracePeriodSeconds=0), and refreshes every pod's /etc/hosts;
- writes pod status through the ``status`` subresource whenever the runtime reports a change;
- registers a Node with a Ready condition and the bridge address, heart-beating its status;
- serves ``pods/log`` through `log_provider`, which the API server calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import Node, Pod, Service
from lightkube.types import PatchType

from .api_sources import ApiSources, as_dict
from .runtime.hosts import cluster_records
from .runtime.runtime import PodRuntime

log = logging.getLogger(__name__)

Obj = Mapping[str, Any]


class LogRequestLike(Protocol):
    namespace: str
    pod: str
    container: str
    follow: bool
    previous: bool
    tail_lines: int | None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Kubelet:
    """Run with ``await kubelet.start()`` / ``await kubelet.stop()`` (or ``async with``)."""

    def __init__(
        self,
        client: AsyncClient,
        runtime: PodRuntime,
        *,
        node_name: str | None = None,
        schedule_unassigned: bool = True,
        resync_seconds: float = 2.0,
        heartbeat_seconds: float = 10.0,
    ) -> None:
        self.client = client
        self.runtime = runtime
        self.node_name = node_name or runtime.node_name
        self.schedule_unassigned = schedule_unassigned
        self.resync_seconds = resync_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self._pods: list[dict[str, Any]] = []
        self._services: list[dict[str, Any]] = []
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping: dict[str, asyncio.Task[None]] = {}
        self._written: dict[str, dict[str, Any]] = {}
        self.runtime.hosts_provider = self._hosts_lines
        if not isinstance(runtime.sources, ApiSources):
            runtime.sources = ApiSources(client)

    # --- lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        if not self.runtime.network.octet:
            await self.runtime.start()
        await self._register_node()
        self._tasks = [
            asyncio.create_task(self._watch(Pod), name="kubelet watch pods"),
            asyncio.create_task(self._watch(Service), name="kubelet watch services"),
            asyncio.create_task(self._reconcile_loop(), name="kubelet reconcile"),
            asyncio.create_task(self._status_loop(), name="kubelet status"),
            asyncio.create_task(self._heartbeat_loop(), name="kubelet heartbeat"),
        ]

    async def stop(self, shutdown_runtime: bool = True) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        for task in list(self._stopping.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if shutdown_runtime:
            await self.runtime.shutdown()

    async def __aenter__(self) -> Kubelet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- node ---------------------------------------------------------------------------------------------
    def _node_status(self) -> dict[str, Any]:
        ready = not self.runtime.lost
        stamp = _now()
        cpus = str(os.cpu_count() or 1)
        mem_kib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 1024
        resources = {"cpu": cpus, "memory": f"{mem_kib}Ki", "pods": "110"}
        return {
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "Unknown",
                    "reason": "KubeletReady" if ready else "NodeStatusUnknown",
                    "message": "zkop local kubelet is posting ready status",
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                }
            ],
            "addresses": [
                {"type": "InternalIP", "address": self.runtime.host_ip},
                {"type": "Hostname", "address": self.node_name},
            ],
            "capacity": resources,
            "allocatable": resources,
            "nodeInfo": {
                "architecture": "amd64",
                "operatingSystem": "linux",
                "kubeletVersion": "v1.37.0-zkop-local",
                "containerRuntimeVersion": "zkop-local://1",
                "osImage": "zkop local process runtime",
                "kernelVersion": os.uname().release,
                "kubeProxyVersion": "",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
        }

    async def _register_node(self) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.node_name,
                "labels": {
                    "kubernetes.io/hostname": self.node_name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                },
            },
            "spec": {},
        }
        try:
            await self.client.create(Node.from_dict(node))  # type: ignore[call-overload]
        except ApiError as exc:
            if exc.status.code != 409:
                raise
        await self._post_node_status()

    async def _post_node_status(self) -> None:
        try:
            await self.client.patch(
                Node.Status, self.node_name, {"status": self._node_status()}, patch_type=PatchType.MERGE
            )
        except ApiError as exc:
            log.warning("node status update failed: %s", exc)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            if self.runtime.lost:
                continue  # a lost node stops reporting; the controller side notices
            await self._post_node_status()

    # --- watching and reconciling ------------------------------------------------------------------------
    async def _watch(self, res: Any) -> None:
        while True:
            try:
                async for _event, _obj in self.client.watch(res, namespace="*"):
                    self._dirty.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("watch %s ended: %s", res.__name__, exc)
            await asyncio.sleep(0.5)

    async def _reconcile_loop(self) -> None:
        while True:
            self._dirty.clear()
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("kubelet reconcile failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), timeout=self.resync_seconds)

    async def reconcile(self) -> None:
        if self.runtime.lost:
            return
        self._pods = [as_dict(p) async for p in self.client.list(Pod, namespace="*")]
        self._services = [as_dict(s) async for s in self.client.list(Service, namespace="*")]
        seen: set[str] = set()
        for pod in self._pods:
            meta = pod["metadata"]
            spec = pod.get("spec") or {}
            node = spec.get("nodeName")
            if not node:
                if self.schedule_unassigned and not meta.get("deletionTimestamp"):
                    await self._bind(pod)
                continue
            if node != self.node_name:
                continue
            uid = meta["uid"]
            seen.add(uid)
            if meta.get("deletionTimestamp"):
                if uid not in self._stopping:
                    self._stopping[uid] = asyncio.create_task(self._terminate(pod))
                continue
            if uid in self.runtime.workers:
                self.runtime.workers[uid].pod = pod
                continue
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue  # finished before (e.g. a kubelet restart): never run again
            await self.runtime.run_pod(pod)
        for uid in list(self.runtime.workers):
            if uid not in seen and uid not in self._stopping:
                # deleted without grace (force delete): stop at once
                self._stopping[uid] = asyncio.create_task(self._forget(uid))
        await self.runtime.refresh_hosts()

    async def _bind(self, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            await self.client.patch(
                Pod,
                meta["name"],
                {"spec": {"nodeName": self.node_name}},
                namespace=meta.get("namespace", "default"),
                patch_type=PatchType.MERGE,
            )
        except ApiError as exc:
            log.warning("binding %s/%s failed: %s", meta.get("namespace"), meta["name"], exc)

    async def _terminate(self, pod: Obj) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        try:
            grace = meta.get("deletionGracePeriodSeconds")
            await self.runtime.stop_pod(uid, None if grace is None else float(grace), remove=False)
            with contextlib.suppress(KeyError):
                await self._write_status(uid)
            with contextlib.suppress(ApiError):
                await self.client.delete(Pod, meta["name"], namespace=meta.get("namespace"), grace_period=0)
            await self.runtime.stop_pod(uid, 0, remove=True)
        finally:
            self._stopping.pop(uid, None)
            self._written.pop(uid, None)

    async def _forget(self, uid: str) -> None:
        try:
            await self.runtime.stop_pod(uid, 0, remove=True)
        finally:
            self._stopping.pop(uid, None)
            self._written.pop(uid, None)

    async def _hosts_lines(self, pod: Obj) -> list[str]:
        known = {p["metadata"]["uid"]: p for p in self._pods}
        # the runtime knows fresher addresses than the last list: overlay them
        for worker in self.runtime.workers.values():
            current = known.get(worker.uid)
            if current is not None and worker.pod_ip and not (current.get("status") or {}).get("podIP"):
                known[worker.uid] = {
                    **current,
                    "status": {**(current.get("status") or {}), "podIP": worker.pod_ip},
                }
        namespace = pod["metadata"].get("namespace", "default")
        return cluster_records(known.values(), self._services, for_namespace=namespace)

    # --- status -------------------------------------------------------------------------------------------
    async def _status_loop(self) -> None:
        while True:
            uid = await self.runtime.changes.get()
            dirty = {uid}
            await asyncio.sleep(0.05)  # coalesce bursts
            while not self.runtime.changes.empty():
                dirty.add(self.runtime.changes.get_nowait())
            for item in dirty:
                try:
                    await self._write_status(item)
                except KeyError:
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("status write for %s failed: %s", item, exc)
            self._dirty.set()  # readiness may change hosts records and endpoints

    async def _write_status(self, uid: str) -> None:
        if self.runtime.lost:
            return
        worker = self.runtime.workers[uid]
        status = worker.status()
        if self._written.get(uid) == status:
            return
        try:
            await self.client.patch(
                Pod.Status,
                worker.name,
                {"status": status},
                namespace=worker.namespace,
                patch_type=PatchType.MERGE,
            )
            self._written[uid] = status
        except ApiError as exc:
            if exc.status.code != 404:
                raise

    # --- logs ---------------------------------------------------------------------------------------------
    async def log_provider(self, request: LogRequestLike) -> str | AsyncIterator[bytes]:
        """For ``ApiServer.set_log_provider``: a pod's container log (optionally followed)."""
        worker = self.runtime.worker_by_name(request.namespace, request.pod)
        if worker is None:
            return ""
        container = request.container or (worker.trackers[0].name if worker.trackers else "")
        try:
            text = self.runtime.read_log(worker.uid, container, request.tail_lines, request.previous)
        except FileNotFoundError:
            return ""
        if not request.follow or request.previous:
            return text
        return self._follow(worker.uid, container, text)

    async def _follow(self, uid: str, container: str, initial: str) -> AsyncIterator[bytes]:
        yield initial.encode()
        worker = self.runtime.workers.get(uid)
        tracker = worker.tracker(container) if worker else None
        if worker is None or tracker is None:
            return
        path = self.runtime.log_path(uid, container, tracker.restart_count)
        offset = path.stat().st_size if path.exists() else 0
        while container in worker.processes:
            await asyncio.sleep(0.2)
            try:
                chunk = await asyncio.to_thread(_read_from, path, offset)
            except OSError:
                continue
            if chunk:
                offset += len(chunk)
                yield chunk


def _read_from(path: Path, offset: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read()
