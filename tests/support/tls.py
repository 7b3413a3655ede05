"""What a test client needs to reach a TLS ensemble on the local control plane: the client certificate
zkop issued into `<cluster>-client-tls`, read through the API, as an application would mount it.

`MountedSecret` behaves like a Secret volume: fixed file paths whose content is replaced when the Secret
changes (kazoo reads them again at every connection attempt, as a client that follows its mounted Secret
would), so a test client keeps working through certificate renewal and CA rotation.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from pathlib import Path
from typing import Any

from lightkube.resources.core_v1 import Secret

from zkop.zookeeper.connection import ClientTls
from zkop.zookeeper.observe import PLAIN, Dial

KEYS = ("tls.crt", "tls.key", "ca.crt")


async def secret_data(client: Any, name: str, namespace: str = "default") -> dict[str, str]:
    secret = await client.get(Secret, name, namespace=namespace)
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


async def client_tls(client: Any, cluster: str, namespace: str = "default") -> ClientTls:
    data = await secret_data(client, f"{cluster}-client-tls", namespace)
    return ClientTls(data["tls.crt"], data["tls.key"], data["ca.crt"])


class MountedSecret:
    """A client certificate Secret as files that follow the Secret (see the module docstring)."""

    def __init__(self, data: dict[str, str]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="zkop-test-tls-"))
        self.data: dict[str, str] = {}
        self.update(data)

    def update(self, data: dict[str, str]) -> bool:
        if all(data.get(k) == self.data.get(k) for k in KEYS):
            return False
        for key in KEYS:
            tmp = self.dir / f".{key}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(data[key])
            tmp.rename(self.dir / key)
        self.data = dict(data)
        return True

    async def follow(self, client: Any, cluster: str, namespace: str = "default") -> bool:
        return self.update(await secret_data(client, f"{cluster}-client-tls", namespace))

    def kazoo_args(self) -> dict[str, Any]:
        return {
            "use_ssl": True,
            "verify_certs": True,
            "certfile": str(self.dir / "tls.crt"),
            "keyfile": str(self.dir / "tls.key"),
            "ca": str(self.dir / "ca.crt"),
        }


def dial(tls: object | None) -> Dial:
    """How test observers reach the AdminServer: HTTPS without verification when the cluster runs TLS
    (as a kubelet probe does; the observers check roles, not identities)."""
    if tls is None:
        return PLAIN
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if isinstance(tls, MountedSecret):  # the four-letter words go to the client port: mTLS
        context.load_cert_chain(tls.dir / "tls.crt", tls.dir / "tls.key")
    return Dial(context)


def port(tls: object | None) -> int:
    return 2281 if tls else 2181


def kazoo_args(tls: ClientTls | MountedSecret | None) -> dict[str, Any]:
    return tls.kazoo_args() if tls else {}
