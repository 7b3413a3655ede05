"""Real ZooKeeper members started from zkop's *rendered* ConfigMap and start script, on loopback.

Each member runs the rendered `start.sh` exactly as a pod would, with three stand-ins for what a pod gives
it: its own address (a loopback alias, the same ports for every member), its own /etc/hosts (a private
mount namespace with the cluster DNS names bind-mounted over /etc/hosts), and the stock image's
`zkServer.sh` (a shim that runs Debian's ZooKeeper with the classpath fixes from the shared notes).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zkop.api.cluster import ZKOP_SASL_USER
from zkop.api.validation import parse_cluster
from zkop.plan.sasl import SaslPlan, plan_sasl
from zkop.plan.tls import TlsPlan, plan_tls
from zkop.render import Rendered, render
from zkop.render.identity import new_password
from zkop.render.names import ClusterNames, RenderOptions
from zkop.zookeeper.connection import ClientTls, Connection, SaslCredential
from zkop.zookeeper.membership import Membership
from zkop.zookeeper.observe import EnsembleState, observe_ensemble
from zkop.zookeeper.reconfig import SuperuserCredential

DEBIAN_JARS = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/slf4j-log4j12.jar",
    "/usr/share/java/log4j-1.2.jar",
    "/usr/share/java/servlet-api.jar",
    "/usr/share/java/netty-codec.jar",
]
MARKER = "ZKOP_TEST_ENSEMBLE"
MEMBER_UID = 1000

_SHIM = """#!/bin/bash
# Stand-in for the official image's zkServer.sh: `zkServer.sh start-foreground [cfg]`.
set -euo pipefail
[ "${1:-}" = start-foreground ] || { echo "shim supports start-foreground only" >&2; exit 2; }
cfg="${2:-$ZOOCFGDIR/zoo.cfg}"
exec java -Xmx${ZK_SERVER_HEAP:-128}m -Xss512k -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \\
  ${SERVER_JVMFLAGS:-} -Dzookeeper.root.logger=INFO,CONSOLE \\
  -Dlog4j.configuration=file:%(log4j)s -cp "$ZOOCFGDIR:%(classpath)s" \\
  org.apache.zookeeper.server.quorum.QuorumPeerMain "$cfg"
"""
_LOG4J = """log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d %-5p [%t] %c{1}: %m%n
"""


def zookeeper_available() -> bool:
    return all(Path(j).exists() for j in DEBIAN_JARS) and shutil.which("java") is not None


@dataclass
class LocalEnsemble:
    """Members 1..N of one rendered cluster; start, kill and inspect them like pods."""

    root: Path
    name: str = "zk"
    namespace: str = "zkop-test"
    replicas: int = 3
    password: str = field(default_factory=new_password)
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    # TLS as zkop renders it by default (mtls, quorum TLS, HTTPS admin); off unless asked, so that
    # tests of other things can use plain clients.
    tls: bool = False
    spec: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        spec: dict[str, Any] = {"replicas": self.replicas, **self.spec}
        if not self.tls:
            spec |= {"tls": {"enabled": False}}
        self.cluster = parse_cluster(
            {"metadata": {"name": self.name, "namespace": self.namespace}, "spec": spec}
        )
        self.names = ClusterNames.of(self.cluster, RenderOptions())
        self.tls_plan: TlsPlan | None = None
        self.sasl_plan: SaslPlan | None = None
        self.secrets: dict[str, dict[str, str]] = {}
        self.annotations: dict[str, dict[str, str]] = {}
        # A random 127.a.b.0/24 per ensemble, so ensembles in one run never share an address.
        self.prefix = f"127.{random.randint(20, 250)}.{random.randint(1, 250)}"
        self.bin = self.root / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        for parent in self.root.parents:  # pytest's tmp dirs are 0700: let the member user through
            if str(parent).startswith(tempfile.gettempdir()) and parent != Path(tempfile.gettempdir()):
                parent.chmod(parent.stat().st_mode | 0o011)
        (self.root / "log4j.properties").write_text(_LOG4J)
        shim = self.bin / "zkServer.sh"
        shim.write_text(_SHIM % {"log4j": self.root / "log4j.properties", "classpath": ":".join(DEBIAN_JARS)})
        shim.chmod(0o755)
        hosts = ["127.0.0.1 localhost"]
        hosts += [f"{self.address(i)} {self.names.member_host(i)}" for i in range(1, 10)]
        (self.root / "hosts").write_text("\n".join(hosts) + "\n")
        self.rendered: Rendered = self.render()
        if self.cluster.spec.tls.enabled:
            self.issue()
        if self.cluster.spec.client_auth == "sasl":
            self.plan_sasl()

    @property
    def credential(self) -> SuperuserCredential:
        return SuperuserCredential(self.password)

    def address(self, member_id: int) -> str:
        return f"{self.prefix}.{member_id}"

    def addresses(self, ids: list[int] | None = None) -> dict[int, str]:
        return {i: self.address(i) for i in (ids or list(range(1, self.replicas + 1)))}

    def issue(self, *, settled: bool = False) -> TlsPlan:
        """Plan the CA and certificates as zkop does, and keep what its Secrets would hold in
        `self.secrets` (name -> data). Members reach each other over loopback from 127.0.0.1 here, so
        the member certificate also names that address. Restart members to make them use it."""
        names = self.names
        plan = plan_tls(
            self.cluster,
            names,
            ca=self.secrets.get(names.ca_secret),
            member=self.secrets.get(names.tls_secret),
            client=self.secrets.get(names.client_tls_secret),
            member_annotations=self.annotations.get(names.tls_secret),
            ca_annotations=self.annotations.get(names.ca_secret),
            now=dt.datetime.now(dt.UTC),
            is_settled=settled,
            extra_ip_addresses=("127.0.0.1",),
        )
        assert plan.error is None, plan.error
        for write in plan.writes:
            self.secrets[write.name] = write.data
            self.annotations[write.name] = write.annotations
        self.tls_plan = plan
        self.render()
        return plan

    def plan_sasl(self) -> SaslPlan:
        """Plan the SASL Secrets as zkop does and keep what they would hold in `self.secrets`. Restart
        members to make them load the users."""
        plan = plan_sasl(
            self.cluster,
            self.names,
            server=self.secrets.get(self.names.sasl_secret),
            users={u: self.secrets.get(self.names.sasl_user_secret(u)) for u in self.cluster.spec.sasl_users},
        )
        assert plan.error is None, plan.error
        for write in plan.writes:
            self.secrets[write.name] = write.data
        self.sasl_plan = plan
        self.render()
        return plan

    def sasl_login(self, user: str, password: str | None = None) -> dict[str, Any]:
        """kazoo's `sasl_options` for an application user, from its Secret `<cluster>-sasl-<user>`."""
        secret = self.secrets[self.names.sasl_user_secret(user)]
        return SaslCredential(secret["username"], password or secret["password"]).kazoo_args()

    @staticmethod
    def _pair(data: dict[str, str]) -> ClientTls:
        return ClientTls(data["tls.crt"], data["tls.key"], data["ca.crt"])

    @property
    def client_tls(self) -> ClientTls:
        """A client certificate from the ensemble's CA (what zkop's `<cluster>-client-tls` holds)."""
        return self._pair(self.secrets[self.names.client_tls_secret])

    @property
    def connection(self) -> Connection:
        """How zkop reaches these members: superuser digest, with TLS the members' key pair, with SASL
        zkop's own SASL login."""
        member = self.secrets.get(self.names.tls_secret)
        zkop_login = self.sasl_plan.zkop_password if self.sasl_plan else None
        sasl = SaslCredential(ZKOP_SASL_USER, zkop_login) if zkop_login else None
        return Connection(self.credential, self._pair(member) if member else None, sasl)

    def render(self, membership: Membership | None = None) -> Rendered:
        self.rendered = render(
            self.cluster,
            membership=membership,
            superuser_password=self.password,
            tls_fingerprint=self.tls_plan.fingerprint if self.tls_plan else None,
            sasl_fingerprint=self.sasl_plan.fingerprint if self.sasl_plan else None,
        )
        return self.rendered

    def rendered_env(self, *keys: str) -> dict[str, str]:
        """Plain values of the rendered member container's environment (what the pod would get)."""
        sts = next(o for o in self.rendered.objects if o["kind"] == "StatefulSet")
        env = sts["spec"]["template"]["spec"]["containers"][0]["env"]
        return {e["name"]: e["value"] for e in env if e["name"] in keys and "value" in e}

    def config_files(self) -> dict[str, str]:
        config_map = next(o for o in self.rendered.objects if o["kind"] == "ConfigMap")
        return dict(config_map["data"])

    def digest(self) -> str:
        from zkop.render.identity import super_digest

        return super_digest(self.password)

    def member_dir(self, member_id: int) -> Path:
        return self.root / f"member-{member_id}"

    def start(self, member_id: int) -> None:
        """Start a member the way its pod would: the rendered start script, templates mounted read-only."""
        base = self.member_dir(member_id)
        templates = base / "templates"
        if templates.exists():
            shutil.rmtree(templates)
        templates.mkdir(parents=True)
        for key, text in self.config_files().items():
            (templates / key).write_text(text)
            (templates / key).chmod(0o444)  # the ConfigMap volume's defaultMode
        (base / "data").mkdir(exist_ok=True)
        runtime = base / "runtime"  # the pod's memory-backed /tmp
        shutil.rmtree(runtime, ignore_errors=True)
        runtime.mkdir()
        tls_dir = base / "tls"  # the mounted member Secret
        shutil.rmtree(tls_dir, ignore_errors=True)
        member_secret = self.secrets.get(self.names.tls_secret)
        if member_secret:
            tls_dir.mkdir()
            for key, text in member_secret.items():
                (tls_dir / key).write_text(text)
                (tls_dir / key).chmod(0o440)
        sasl_dir = base / "sasl"  # the mounted SASL Secret
        shutil.rmtree(sasl_dir, ignore_errors=True)
        sasl_secret = self.secrets.get(self.names.sasl_secret)
        if sasl_secret:
            sasl_dir.mkdir()
            for key, text in sasl_secret.items():
                (sasl_dir / key).write_text(text)
                (sasl_dir / key).chmod(0o440)
        # The member runs as the image's user (uid/gid 1000, fsGroup 1000), not as root.
        for path in [base, *base.rglob("*")]:
            os.chown(path, MEMBER_UID, MEMBER_UID)
        env = {
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "HOME": str(base),
            "POD_NAME": self.names.pod(member_id),
            "POD_IP": self.address(member_id),
            "ZKOP_PEER_DOMAIN": self.names.peer_domain,
            "ZKOP_TEMPLATES": str(templates),
            "ZKOP_DATA": str(base / "data"),
            "ZKOP_SUPER_DIGEST": self.digest(),
            "ZKOP_RUNTIME": str(runtime),
            **({"ZKOP_TLS_DIR": str(tls_dir)} if tls_dir.exists() else {}),
            **(
                {"ZKOP_SASL_DIR": str(sasl_dir), **self.rendered_env("ZKOP_SASL_USERS")}
                if sasl_secret
                else {}
            ),
            "ZK_SERVER_HEAP": "96",
            MARKER: str(self.root),
        }
        script = templates / "start.sh"
        wrapper = (
            f'mount --bind "{self.root / "hosts"}" /etc/hosts && '
            f'exec setpriv --reuid {MEMBER_UID} --regid {MEMBER_UID} --clear-groups /bin/bash "{script}"'
        )
        log = open(base / "out.log", "ab")  # noqa: SIM115 - the child owns it
        self.processes[member_id] = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", wrapper],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def start_all(self) -> None:
        for member_id in range(1, self.replicas + 1):
            self.start(member_id)

    def kill(self, member_id: int, sig: int = signal.SIGKILL) -> None:
        process = self.processes.pop(member_id, None)
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)

    def wipe(self, member_id: int) -> None:
        shutil.rmtree(self.member_dir(member_id) / "data", ignore_errors=True)

    def log(self, member_id: int) -> str:
        path = self.member_dir(member_id) / "out.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        for member_id in list(self.processes):
            self.kill(member_id)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll until predicate() is truthy; return its value or fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def observe(ensemble: LocalEnsemble, ids: list[int] | None = None) -> EnsembleState:
    """The members as zkop observes them (over TLS when the ensemble runs it)."""
    return asyncio.run(
        observe_ensemble(ensemble.addresses(ids), timeout=2.0, dial=ensemble.connection.dial())
    )


def formed(ensemble: LocalEnsemble, ids: list[int] | None = None) -> EnsembleState | None:
    """The state once there is a leader, every member is synced and the membership is known."""
    state = observe(ensemble, ids)
    return state if state.leader and all(m.synced for m in state.members) and state.membership else None
