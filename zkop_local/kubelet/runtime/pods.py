"""One pod's life: sandbox (network, hosts file, volumes), init containers in order, then containers with
restarts, back-off and probes; graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import hosts, markers, rootfs, security
from .envvars import ConfigError, container_env, expand
from .images.table import ImageRuntime
from .network import PodNetwork
from .probes import ProbeSettings, ProbeTarget, exec_in_container, run_probe
from .processes import ContainerProcess, ExitInfo, launch
from .status import Conditions, ContainerTracker, now, pod_phase
from .volumes import PreparedVolume, VolumeNotReady, prepare_volumes

if TYPE_CHECKING:
    from .runtime import PodRuntime

log = logging.getLogger(__name__)

Obj = Mapping[str, Any]


@dataclass
class Identity:
    uid: int | None
    gid: int | None
    groups: list[int]


class StartError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _security(pod: Obj, container: Obj) -> dict[str, Any]:
    merged = dict((pod.get("spec") or {}).get("securityContext") or {})
    merged.update(container.get("securityContext") or {})
    return merged


def _primary_gid(uid: int, image: ImageRuntime) -> int:
    for _name, u, g, _home in image.users:
        if u == uid:
            return g
    try:
        for line in Path("/etc/passwd").read_text().splitlines():
            fields = line.split(":")
            if len(fields) > 3 and fields[2] == str(uid):
                return int(fields[3])
    except OSError:
        pass
    return 0


class PodWorker:
    def __init__(self, runtime: PodRuntime, pod: Obj) -> None:
        self.runtime = runtime
        self.pod: Obj = pod
        meta = pod["metadata"]
        self.uid: str = meta["uid"]
        self.namespace: str = meta.get("namespace", "default")
        self.name: str = meta["name"]
        spec = pod.get("spec") or {}
        self.restart_policy: str = spec.get("restartPolicy") or "Always"
        self.host_network = bool(spec.get("hostNetwork"))
        self.dir = runtime.pods_dir / self.uid
        self.network: PodNetwork | None = None
        self.pod_ip: str | None = None
        self.volumes: dict[str, PreparedVolume] = {}
        self.sandbox_ready = False
        self.sandbox_message: str | None = None
        self.start_time: str | None = None
        self.stopping = False
        self.stopped = asyncio.Event()
        self.conditions = Conditions()
        self.init_trackers = [
            ContainerTracker(c["name"], c.get("image", "")) for c in spec.get("initContainers") or []
        ]
        self.trackers = [
            ContainerTracker(c["name"], c.get("image", "")) for c in spec.get("containers") or []
        ]
        self.processes: dict[str, ContainerProcess] = {}
        self.targets: dict[str, ProbeTarget] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.fs_group: int | None = (spec.get("securityContext") or {}).get("fsGroup")

    # --- helpers -----------------------------------------------------------------------------------------
    @property
    def ref(self) -> str:
        return f"{self.name}_{self.namespace}({self.uid})"

    def changed(self) -> None:
        self.runtime.notify(self.uid)

    def tracker(self, name: str) -> ContainerTracker | None:
        for t in [*self.init_trackers, *self.trackers]:
            if t.name == name:
                return t
        return None

    async def _sleep(self, seconds: float) -> None:
        """Sleep, returning early when the pod is being stopped."""
        if self.stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_requested(), timeout=seconds)

    async def _stop_requested(self) -> None:
        while not self.stopping:
            self._wake.clear()
            await self._wake.wait()

    # --- lifecycle -----------------------------------------------------------------------------------------
    def start(self) -> None:
        self.reserve_ip()
        self._task = asyncio.create_task(self._run(), name=f"pod {self.namespace}/{self.name}")

    def reserve_ip(self) -> None:
        if self.host_network:
            self.pod_ip = self.runtime.host_ip
        else:
            self.pod_ip = self.runtime.network.reserve(self.uid)

    async def _run(self) -> None:
        try:
            await self._setup_sandbox()
            if self.stopping:
                return
            for spec, tracker in zip(
                self.pod["spec"].get("initContainers") or [], self.init_trackers, strict=True
            ):
                result = await self._supervise(spec, tracker, init=True)
                if self.stopping or result is None or result.exit_code != 0:
                    self.changed()
                    return
            self.changed()
            containers = self.pod["spec"].get("containers") or []
            await asyncio.gather(
                *(
                    self._supervise(spec, t, init=False)
                    for spec, t in zip(containers, self.trackers, strict=True)
                )
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("pod %s failed", self.ref)
            self.sandbox_message = f"{type(exc).__name__}: {exc}"
        finally:
            self.changed()

    async def _setup_sandbox(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.start_time = now()
        if not self.host_network:
            self.network = await self.runtime.network.create_pod_network(self.uid)
            self.pod_ip = self.network.ip
        hostname = hosts.pod_hostname(self.pod)
        (self.dir / "hostname").write_text(hostname + "\n")
        search = (
            f"{self.namespace}.svc.{hosts.CLUSTER_DOMAIN} svc.{hosts.CLUSTER_DOMAIN} {hosts.CLUSTER_DOMAIN}"
        )
        (self.dir / "resolv.conf").write_text(
            "# zkop local kubelet: no cluster DNS server; names resolve through /etc/hosts\n"
            f"search {search}\noptions ndots:5\n"
        )
        await self.write_hosts()
        self.changed()
        while not self.stopping:
            try:
                self.volumes, _ = await prepare_volumes(
                    self.pod, self.dir, self.runtime.sources, self.pod_ip, self.runtime.host_ip, self.fs_group
                )
                self.sandbox_message = None
                break
            except VolumeNotReady as exc:
                if self.sandbox_message != str(exc):
                    self.sandbox_message = str(exc)
                    for t in [*self.init_trackers, *self.trackers]:
                        t.waiting("ContainerCreating", f"MountVolume.SetUp failed: {exc}")
                    self.changed()
                await self._sleep(1.0)
        self.sandbox_ready = True
        self.changed()

    async def write_hosts(self) -> None:
        extra: list[str] = []
        if self.runtime.hosts_provider is not None:
            try:
                extra = await self.runtime.hosts_provider(self.pod)
            except Exception:
                log.exception("hosts provider failed for %s", self.ref)
        hosts.write_in_place(self.dir / "hosts", hosts.render_hosts(self.pod, self.pod_ip, extra))

    async def refresh_volumes(self) -> None:
        if not self.sandbox_ready or self.stopping:
            return
        with contextlib.suppress(VolumeNotReady):
            self.volumes, _ = await prepare_volumes(
                self.pod,
                self.dir,
                self.runtime.sources,
                self.pod_ip,
                self.runtime.host_ip,
                self.fs_group,
                refresh=True,
            )

    # --- containers ----------------------------------------------------------------------------------------
    def _identity(self, container: Obj, image: ImageRuntime) -> Identity:
        sc = _security(self.pod, container)
        uid = sc.get("runAsUser")
        gid = sc.get("runAsGroup")
        if sc.get("runAsNonRoot") and not uid:
            raise StartError(
                "CreateContainerConfigError", "container has runAsNonRoot and image will run as root"
            )
        if uid is not None and gid is None:
            gid = _primary_gid(int(uid), image)
        groups: list[int] = []
        if uid is not None or gid is not None:
            groups = [
                int(g)
                for g in ((self.pod.get("spec") or {}).get("securityContext") or {}).get("supplementalGroups")
                or []
            ]
            if self.fs_group is not None:
                groups.append(int(self.fs_group))
        return Identity(None if uid is None else int(uid), None if gid is None else int(gid), groups)

    async def _build_launch(self, container: Obj, image: ImageRuntime) -> tuple[dict[str, Any], ProbeTarget]:
        name: str = container["name"]
        cdir = self.dir / "containers" / name
        cdir.mkdir(parents=True, exist_ok=True)
        ident = self._identity(container, image)
        sc = _security(self.pod, container)
        hardening = security.process_hardening(sc)
        try:
            pod_env = await container_env(
                self.pod, container, self.runtime.sources, self.pod_ip, self.runtime.host_ip
            )
        except ConfigError as exc:
            raise StartError("CreateContainerConfigError", str(exc)) from exc
        # a fresh writable layer per container start, as with a new container from the same image
        layer = cdir / "layer"
        if layer.exists():
            safe_rmtree(layer)
        layer.mkdir()
        tmp = cdir / "tmp"
        if tmp.exists():
            safe_rmtree(tmp)
        tmp.mkdir()
        os.chmod(tmp, 0o1777)
        for wd in image.writable_dirs:
            d = layer / wd.path.strip("/").replace("/", "_")
            d.mkdir(parents=True, exist_ok=True)
            os.chown(d, wd.uid, wd.gid)
            os.chmod(d, wd.mode)
        if image.users:
            rootfs.users_files(image, cdir)
        (cdir / "rootfs").mkdir(exist_ok=True)
        try:
            ops = [
                *rootfs.base_ops(),
                *image_ops_checked(image, layer),
                *rootfs.pod_file_ops(self.dir, cdir, bool(image.users)),
                *rootfs.volume_ops(container, self.volumes),
            ]
        except rootfs.MountError as exc:
            raise StartError("CreateContainerConfigError", str(exc)) from exc
        home = "/root" if not ident.uid else next((h for _n, u, _g, h in image.users if u == ident.uid), "/")
        env: dict[str, str] = {"HOME": home, **image.env, "HOSTNAME": hosts.pod_hostname(self.pod)}
        env.update(self.runtime.extra_env)
        env.update(pod_env)
        env[markers.MARKER_ENV] = markers.marker_value(self.runtime.state_dir, self.uid, name)
        command = container.get("command")
        args = container.get("args")
        if command:
            argv = [expand(str(x), pod_env) for x in [*command, *(args or [])]]
        else:
            argv = [
                *image.entrypoint,
                *[expand(str(x), pod_env) for x in (args if args is not None else image.cmd)],
            ]
        spec: dict[str, Any] = {
            "netns": self.network.netns_path if self.network else None,
            "hostname": None if self.host_network else hosts.pod_hostname(self.pod),
            "rootfs": str(cdir / "rootfs"),
            "mounts": ops,
            "uid": ident.uid,
            "gid": ident.gid,
            "groups": ident.groups,
            "workdir": container.get("workingDir") or image.workdir,
            "argv": argv,
            "env": env,
            "readonly_root": bool(sc.get("readOnlyRootFilesystem")),
            "readonly_exempt": list(rootfs.WRITABLE_IN_READONLY_ROOT),
            **hardening,
        }
        ports = {p["name"]: int(p["containerPort"]) for p in container.get("ports") or [] if p.get("name")}
        target = ProbeTarget(
            pid=0,
            pod_ip=self.pod_ip or "",
            env=env,
            uid=ident.uid,
            gid=ident.gid,
            ports=ports,
            # exec probes, hooks and exec() run under the same restrictions as the container's process
            hardening={**hardening, "groups": ident.groups} if hardening else {},
        )
        return spec, target

    def _backoff(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return float(min(self.runtime.backoff_cap, self.runtime.backoff_base * 2 ** (failures - 1)))

    async def _supervise(self, container: Obj, tracker: ContainerTracker, init: bool) -> ExitInfo | None:
        name: str = container["name"]
        failures = 0
        result: ExitInfo | None = None
        while not self.stopping:
            image = self.runtime.images.resolve(container.get("image", ""))
            if image is None:
                ref = container.get("image", "")
                message = f'failed to pull image "{ref}": not in the zkop local image table'
                tracker.waiting("ErrImagePull", message)
                self.changed()
                await self._sleep(min(1.0, self.runtime.backoff_base))
                if self.stopping:
                    break
                tracker.waiting("ImagePullBackOff", f'Back-off pulling image "{ref}": {message}')
                self.changed()
                await self._sleep(self.runtime.backoff_base)
                continue
            try:
                spec, target = await self._build_launch(container, image)
            except StartError as exc:
                tracker.waiting(exc.reason, exc.message)
                self.changed()
                await self._sleep(min(2.0, self.runtime.backoff_base))
                continue
            log_path = self.runtime.log_path(
                self.uid, name, tracker.restart_count + (1 if tracker.ever_ran else 0)
            )
            proc = await launch(
                spec,
                self.dir / "containers" / name,
                log_path,
                self.runtime.registry,
                self.runtime.state_dir,
                self.uid,
                name,
            )
            started_at = now()
            self.processes[name] = proc
            if self.stopping:  # stop() began while we launched: it may not have seen this process
                await proc.stop(0)
            target.pid = proc.pid
            self.targets[name] = target
            tracker.running(f"local://{proc.pid}", image.image_id, started_at)
            probes: ProbeRunner | None = None
            if init:
                self.changed()
            else:
                probes = ProbeRunner(self, container, tracker, proc, target)
                probes.start()
            result = await proc.wait()
            if probes is not None:
                await probes.cancel()
            self.processes.pop(name, None)
            if result.start_error:
                tracker.terminated(128, None, started_at, result.start_error, reason="StartError")
            else:
                kill_reason = probes.kill_reason if probes is not None else None
                tracker.terminated(result.exit_code, result.signal, started_at, kill_reason)
            if self.stopping:
                tracker.done = True
                break
            if init:
                restart = result.exit_code != 0 and self.restart_policy != "Never"
            else:
                restart = self.restart_policy == "Always" or (
                    self.restart_policy == "OnFailure" and result.exit_code != 0
                )
            if not restart:
                tracker.done = True
                self.changed()
                return result
            failures += 1
            delay = self._backoff(failures - 1)
            if delay > 0:
                tracker.crash_loop(delay, self.ref)
            self.changed()
            await self._sleep(delay)
        self.changed()
        return result

    # --- stop -----------------------------------------------------------------------------------------------
    def grace_seconds(self, override: float | None) -> float:
        if override is not None:
            return override
        meta_grace = self.pod["metadata"].get("deletionGracePeriodSeconds")
        if meta_grace is not None:
            return float(meta_grace)
        return float((self.pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))

    async def stop(self, grace: float | None = None) -> None:
        """Graceful stop: preStop hooks, SIGTERM, grace period, SIGKILL; then the sandbox goes."""
        grace_s = self.grace_seconds(grace)
        self.stopping = True
        self._wake.set()
        deadline = asyncio.get_running_loop().time() + grace_s
        specs = {c["name"]: c for c in self.pod["spec"].get("containers") or []}

        async def stop_one(name: str, proc: ContainerProcess) -> None:
            hook = ((specs.get(name) or {}).get("lifecycle") or {}).get("preStop")
            if hook and name in self.targets:
                remaining = deadline - asyncio.get_running_loop().time()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(run_hook(hook, self.targets[name]), timeout=max(remaining, 0.01))
            remaining = deadline - asyncio.get_running_loop().time()
            await proc.stop(max(remaining, 0.0))

        await asyncio.gather(*(stop_one(n, p) for n, p in list(self.processes.items())))
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=5)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        markers_killed = kill_all(self)
        del markers_killed
        await self.runtime.network.delete_pod_network(self.uid, self.network)
        self.network = None
        self.stopped.set()
        self.changed()

    def remove_files(self) -> None:
        if self.dir.exists():
            safe_rmtree(self.dir)

    # --- status ---------------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        phase = pod_phase(self.init_trackers, self.trackers, self.restart_policy)
        self.conditions.set("PodScheduled", True)
        self.conditions.set("PodReadyToStartContainers", self.sandbox_ready and not self.stopped.is_set())
        pending_init = [
            t.name
            for t in self.init_trackers
            if not (t.done and "terminated" in t.state and t.state["terminated"]["exitCode"] == 0)
        ]
        self.conditions.set(
            "Initialized",
            not pending_init,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(pending_init)}]",
        )
        unready = [t.name for t in self.trackers if not t.ready]
        ready = not unready and not self.stopped.is_set()
        reason = "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"
        message = f"containers with unready status: [{' '.join(unready)}]"
        self.conditions.set("ContainersReady", ready, reason, message)
        gates = [g["conditionType"] for g in (self.pod.get("spec") or {}).get("readinessGates") or []]
        gate_ok = all(
            any(
                c.get("type") == g and c.get("status") == "True"
                for c in (self.pod.get("status") or {}).get("conditions") or []
            )
            for g in gates
        )
        self.conditions.set(
            "Ready", ready and gate_ok, reason, message if not ready else "readiness gates not met"
        )
        status: dict[str, Any] = {
            "phase": phase,
            "conditions": self.conditions.to_api(),
            "hostIP": self.runtime.host_ip,
            "hostIPs": [{"ip": self.runtime.host_ip}],
            "qosClass": "BestEffort",
            "containerStatuses": [t.to_api() for t in self.trackers],
        }
        if self.init_trackers:
            status["initContainerStatuses"] = [t.to_api() for t in self.init_trackers]
        if self.pod_ip and self.sandbox_ready:
            status["podIP"] = self.pod_ip
            status["podIPs"] = [{"ip": self.pod_ip}]
        if self.start_time:
            status["startTime"] = self.start_time
        if self.sandbox_message:
            status["message"] = self.sandbox_message
        return status


def image_ops_checked(image: ImageRuntime, layer: Path) -> list[dict[str, Any]]:
    for host, _target in image.ro_binds:
        if not os.path.exists(host):
            raise rootfs.MountError(f"image {image.name}: host path {host} missing")
    return rootfs.image_ops(image, layer)


def kill_all(worker: PodWorker) -> int:
    from .processes import kill_container_processes

    return kill_container_processes(worker.runtime.state_dir, worker.uid, None, 9)


async def run_hook(hook: Obj, target: ProbeTarget) -> None:
    if "exec" in hook:
        await exec_in_container(target, hook["exec"].get("command") or [], None)
    elif "httpGet" in hook:
        await run_probe({"httpGet": hook["httpGet"], "timeoutSeconds": 30}, target)
    elif "sleep" in hook:
        await asyncio.sleep(float(hook["sleep"].get("seconds", 0)))


def safe_rmtree(path: Path) -> None:
    """rmtree that never descends into another filesystem (a mount would otherwise lose host files)."""
    root_dev = path.lstat().st_dev

    def onerror(func: Callable[..., Any], p: str, exc: Any) -> None:
        log.warning("could not remove %s: %s", p, exc)

    for dirpath, dirnames, _files in os.walk(path):
        for d in list(dirnames):
            full = os.path.join(dirpath, d)
            if os.path.ismount(full) or os.lstat(full).st_dev != root_dev:
                raise OSError(f"refusing to remove {path}: {full} is a mount point")
    shutil.rmtree(path, onerror=onerror)


class ProbeRunner:
    """Startup, readiness and liveness probes of one container instance."""

    def __init__(
        self,
        worker: PodWorker,
        container: Obj,
        tracker: ContainerTracker,
        proc: ContainerProcess,
        target: ProbeTarget,
    ) -> None:
        self.worker = worker
        self.container = container
        self.tracker = tracker
        self.proc = proc
        self.target = target
        self.tasks: list[asyncio.Task[None]] = []
        self.kill_reason: str | None = None

    def start(self) -> None:
        self.tasks.append(asyncio.create_task(self._main()))

    async def cancel(self) -> None:
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    async def _kill(self, why: str) -> None:
        self.kill_reason = why
        grace = self.worker.grace_seconds(None)
        probe = self.container.get("livenessProbe") or {}
        if probe.get("terminationGracePeriodSeconds") is not None:
            grace = float(probe["terminationGracePeriodSeconds"])
        await self.proc.stop(grace)

    async def _main(self) -> None:
        startup = self.container.get("startupProbe")
        if startup:
            ok = await self._loop(startup, "startup")
            if not ok:
                return
        self.tracker.started = True
        readiness = self.container.get("readinessProbe")
        if not readiness:
            self.tracker.ready = True
        self.worker.changed()
        loops: list[Awaitable[bool]] = []
        if readiness:
            loops.append(self._loop(readiness, "readiness"))
        liveness = self.container.get("livenessProbe")
        if liveness:
            loops.append(self._loop(liveness, "liveness"))
        if loops:
            await asyncio.gather(*loops)

    async def _loop(self, probe: Obj, kind: str) -> bool:
        """Run a probe until it decides something final (startup success, liveness failure) or forever."""
        settings = ProbeSettings.of(probe)
        successes = 0
        failures = 0
        await asyncio.sleep(settings.initial_delay)
        while self.proc.running:
            ok = await run_probe(probe, self.target)
            if ok:
                successes += 1
                failures = 0
            else:
                failures += 1
                successes = 0
            if kind == "startup":
                if ok:
                    return True
                if failures >= settings.failure_threshold:
                    await self._kill(f"Startup probe failed {failures} times")
                    return False
            elif kind == "readiness":
                if ok and successes >= settings.success_threshold and not self.tracker.ready:
                    self.tracker.ready = True
                    self.worker.changed()
                elif not ok and failures >= settings.failure_threshold and self.tracker.ready:
                    self.tracker.ready = False
                    self.worker.changed()
            elif kind == "liveness" and failures >= settings.failure_threshold:
                await self._kill(f"Liveness probe failed {failures} times")
                return False
            await asyncio.sleep(settings.period)
        return False
