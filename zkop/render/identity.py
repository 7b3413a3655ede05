"""Who the members run as (ServiceAccount) and zkop's ZooKeeper superuser credential (Secret)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from zkop.render.names import ClusterNames

SUPERUSER = "super"
ANNOTATION_GENERATED = "zkop.io/generated"


def service_account(names: ClusterNames) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": names.service_account, "namespace": names.namespace, "labels": names.labels()},
        # ZooKeeper never talks to the Kubernetes API.
        "automountServiceAccountToken": False,
    }


def new_password() -> str:
    return secrets.token_urlsafe(32)


def super_digest(password: str) -> str:
    """ZooKeeper's DigestAuthenticationProvider form: `super:base64(sha1("super:<password>"))`."""
    digest = hashlib.sha1(f"{SUPERUSER}:{password}".encode()).digest()
    return f"{SUPERUSER}:{base64.b64encode(digest).decode()}"


def superuser_secret(names: ClusterNames, password: str | None) -> dict[str, Any]:
    """The superuser Secret. With no password (printing, dry runs) it carries no credential at all."""
    secret: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": names.superuser_secret,
            "namespace": names.namespace,
            "labels": names.labels(),
            "annotations": {ANNOTATION_GENERATED: "once; zkop never overwrites it"},
        },
        "type": "Opaque",
    }
    if password is not None:
        secret["data"] = {
            "username": base64.b64encode(SUPERUSER.encode()).decode(),
            "password": base64.b64encode(password.encode()).decode(),
            "digest": base64.b64encode(super_digest(password).encode()).decode(),
        }
    return secret
