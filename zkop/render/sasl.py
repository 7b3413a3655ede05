"""SASL DIGEST-MD5 client authentication as the members run it. Pure.

Files: the Secret `<cluster>-sasl` (one key per user, its password as value, zkop's own user `zkop`
included) is mounted read-only at SASL_MOUNT. ZooKeeper reads its users from a JAAS file given by
`-Djava.security.auth.login.config`: the start script writes that file from the keys of the users the
pod template lists (ZKOP_SASL_USERS) into the memory-backed runtime directory (never onto the volume,
never from a ConfigMap). ZooKeeper reads it at start only, so the list is part of the pod template and
the passwords' fingerprint part of the restart hash.

Enforcement: `enforce.auth.enabled` with `enforce.auth.schemes=sasl` (ZooKeeper 3.7+) closes the session of
any client that sends a request before it has logged in by SASL, whatever the znode's ACL says; a failed
login closes the session too. `authProvider.sasl` makes `sasl:<user>` usable in ACLs.
"""

from __future__ import annotations

import re

from zkop.api.cluster import ZKOP_SASL_USER, ZookeeperCluster

SASL_MOUNT = "/etc/zkop-sasl"
MECHANISM = "DIGEST-MD5"
LOGIN_MODULE = "org.apache.zookeeper.server.auth.DigestLoginModule"
# What a password may hold to sit between the JAAS file's double quotes unescaped (the start script
# checks the same). zkop generates URL-safe passwords, well inside it.
PASSWORD_PATTERN = re.compile(r"[A-Za-z0-9._~+/=-]+")  # fullmatch
PASSWORD_CHARACTERS = "A-Z a-z 0-9 . _ ~ + / = -"


def enabled(cluster: ZookeeperCluster) -> bool:
    return cluster.spec.client_auth == "sasl"


def accepted_users(cluster: ZookeeperCluster) -> list[str]:
    """The users members accept, zkop's own included, sorted (reordering spec.authentication.sasl.users
    restarts nothing); empty without SASL. Names only: the pod template lists them (ZKOP_SASL_USERS) and
    the start script loads exactly these keys of the mounted Secret."""
    if not enabled(cluster):
        return []
    return sorted({ZKOP_SASL_USER, *cluster.spec.sasl_users})


def static_settings(cluster: ZookeeperCluster) -> dict[str, str]:
    """zoo.cfg settings for SASL (empty unless clients authenticate by SASL)."""
    if not enabled(cluster):
        return {}
    return {
        "authProvider.sasl": "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
        "enforce.auth.enabled": "true",
        "enforce.auth.schemes": "sasl",
    }


def client_jaas(user: str, password: str) -> str:
    """The JAAS section a Java client (ZooKeeper's own, Curator, Kafka) needs to log in as `user`."""
    lines = [
        "Client {",
        f"  {LOGIN_MODULE} required",
        f'  username="{user}"',
        f'  password="{password}";',
        "};",
    ]
    return "\n".join(lines) + "\n"
