"""How zkop connects to members: its superuser digest, with TLS its client certificate, and with SASL
its SASL DIGEST-MD5 login (user `zkop`; needs the `pure-sasl` package, kazoo's SASL client).

zkop dials members by pod IP (it needs one particular member, and needs no DNS), so it verifies that a
member's certificate chains to the cluster's own trust bundle but does not match host names: every
cluster has its own CA, so a certificate from it *is* the cluster's identity. Members verify each other
by name (ssl.quorum.hostnameVerification).

kazoo and Python's ssl load certificates and keys from files only: the PEM texts are written once per
certificate into a private directory (0700, memory-backed /dev/shm where there is one) and removed at
exit. Secret material never reaches a log line: reprs name only fingerprints.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zkop.render.identity import SUPERUSER
from zkop.zookeeper.membership import CLIENT_PORT, SECURE_CLIENT_PORT
from zkop.zookeeper.observe import PLAIN, Dial

_lock = threading.Lock()
_dir: Path | None = None


def _private_dir() -> Path:
    global _dir
    with _lock:
        if _dir is None:
            base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
            _dir = Path(tempfile.mkdtemp(prefix="zkop-tls-", dir=base))
            _dir.chmod(0o700)
            atexit.register(shutil.rmtree, _dir, True)
        return _dir


@dataclass(frozen=True)
class SuperuserCredential:
    """zkop's digest superuser (never skipACL)."""

    password: str

    def auth_data(self) -> list[tuple[str, str]]:
        return [("digest", f"{SUPERUSER}:{self.password}")]

    def __repr__(self) -> str:  # never let the password reach a log line
        return "SuperuserCredential(<redacted>)"


@dataclass(frozen=True)
class SaslCredential:
    """A SASL DIGEST-MD5 login (clusters with `authentication.clients: sasl`). kazoo logs in with it
    right after the session is created, before it sends the digest `auth_data`, so zkop is `sasl:zkop`
    (what lets it in at all) and its digest superuser (what gives it every right) on one session."""

    username: str
    password: str

    def kazoo_args(self) -> dict[str, Any]:
        # A fresh dict each time: kazoo adds its own keys (the service name) to the one it is given.
        return {
            "sasl_options": {"mechanism": "DIGEST-MD5", "username": self.username, "password": self.password}
        }

    def __repr__(self) -> str:  # never let the password reach a log line
        return f"SaslCredential({self.username}, <redacted>)"


@dataclass(frozen=True)
class ClientTls:
    """A client certificate, its key, and the bundle of CAs to trust, all PEM."""

    cert_pem: str = field(repr=False)
    key_pem: str = field(repr=False)
    ca_pem: str = field(repr=False)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256((self.cert_pem + self.ca_pem).encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"ClientTls(fingerprint={self.fingerprint})"

    def files(self) -> tuple[str, str, str]:
        """Paths of (certificate, key, CA bundle), written on first use."""
        folder = _private_dir() / self.fingerprint
        with _lock:
            if not (folder / "ca.crt").exists():
                folder.mkdir(mode=0o700, exist_ok=True)
                for name, text in (
                    ("tls.crt", self.cert_pem),
                    ("tls.key", self.key_pem),
                    ("ca.crt", self.ca_pem),
                ):
                    path = folder / f"{name}.tmp"
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    with os.fdopen(fd, "w") as handle:
                        handle.write(text)
                    path.rename(folder / name)
        return str(folder / "tls.crt"), str(folder / "tls.key"), str(folder / "ca.crt")

    def context(self) -> ssl.SSLContext:
        """A client context: TLS 1.2+, the bundle as the only trust, our certificate presented."""
        certfile, keyfile, _ = self.files()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = False  # dialled by IP; the chain to the cluster's own CA is checked
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cadata=self.ca_pem)
        context.load_cert_chain(certfile, keyfile)
        return context

    def kazoo_args(self) -> dict[str, Any]:
        certfile, keyfile, ca = self.files()
        return {"use_ssl": True, "verify_certs": True, "certfile": certfile, "keyfile": keyfile, "ca": ca}


@dataclass(frozen=True)
class Connection:
    """Everything zkop needs to talk to one ensemble's members."""

    credential: SuperuserCredential
    tls: ClientTls | None = None
    sasl: SaslCredential | None = None

    @property
    def port(self) -> int:
        return SECURE_CLIENT_PORT if self.tls else CLIENT_PORT

    def hosts(self, addresses: list[str] | tuple[str, ...]) -> str:
        """A kazoo connect string; addresses without a port get the client port."""
        return ",".join(a if ":" in a else f"{a}:{self.port}" for a in addresses)

    def kazoo_args(self) -> dict[str, Any]:
        """Keyword arguments for KazooClient: authentication (SASL login, then the superuser digest) and
        TLS."""
        return {
            "auth_data": self.credential.auth_data(),
            **(self.tls.kazoo_args() if self.tls else {}),
            **(self.sasl.kazoo_args() if self.sasl else {}),
        }

    def dial(self) -> Dial:
        """How observation reaches the AdminServer and the four-letter words."""
        return Dial(self.tls.context()) if self.tls else PLAIN
