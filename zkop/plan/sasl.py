"""SASL DIGEST-MD5 users: what the cluster's SASL Secrets should hold now. Pure (the caller passes the
Secrets it read; the only side effect is generating passwords, through `generate`).

With `spec.authentication.clients: sasl` zkop keeps:
- `<cluster>-sasl`: one key per user (the application users of `spec.authentication.sasl.users` and
  zkop's own user `zkop`), its password as value. Mounted into every member, where the start script
  turns the keys of the users the pod template lists (`ZKOP_SASL_USERS`) into the JAAS file ZooKeeper
  reads at start. Adding a user changes the Secret, removing one the list; both are rolled out by the
  leader-last rolling restart (the list is part of the pod template, the passwords' fingerprint part of
  the restart hash, so a password edited by hand is rolled out too).
- `<cluster>-sasl-<user>` per application user: `username`, `password` and `jaas.conf` (a ready `Client`
  section for Java clients), for the application to mount. It follows `<cluster>-sasl`.

Passwords are generated once and never overwritten: a user's password is the one in `<cluster>-sasl`,
else (that Secret lost) the one its own Secret still holds, else a new one. zkop only ever adds keys to
`<cluster>-sasl`: a removed user's key stays (the members no longer load it) and so does its own Secret
(zkop does not delete Secrets), so listing the user again gives it back the same password.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from zkop.api.cluster import ZKOP_SASL_USER, ZookeeperCluster
from zkop.plan.tls import SecretData, SecretWrite
from zkop.render import sasl as render_sasl
from zkop.render.identity import new_password
from zkop.render.names import ClusterNames

COMPONENT = "sasl"


def fingerprint(cluster: ZookeeperCluster, server: SecretData | None) -> str | None:
    """Identifies the passwords members load at start (the accepted users' keys); part of the restart
    hash. A hash, so that no password reaches the pod template."""
    users = render_sasl.accepted_users(cluster)
    if not users or not server:
        return None
    canonical = json.dumps([(u, server.get(u)) for u in users], separators=(",", ":"))
    return hashlib.sha256(f"zkop-sasl:{canonical}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class SaslPlan:
    """What to write, the passwords of the users members will accept, and what to report."""

    writes: tuple[SecretWrite, ...] = ()
    passwords: dict[str, str] = field(default_factory=dict, repr=False)  # accepted user -> password
    fingerprint: str | None = None
    error: str | None = None  # a problem the user must fix (named Secret and fix)
    events: tuple[tuple[str, str], ...] = ()

    @property
    def zkop_password(self) -> str | None:
        """zkop's own SASL password, None without SASL."""
        return self.passwords.get(ZKOP_SASL_USER)


def user_secret_data(user: str, password: str) -> dict[str, str]:
    return {"username": user, "password": password, "jaas.conf": render_sasl.client_jaas(user, password)}


def plan_sasl(
    cluster: ZookeeperCluster,
    names: ClusterNames,
    *,
    server: SecretData | None,
    users: Mapping[str, SecretData | None],
    generate: Callable[[], str] = new_password,
) -> SaslPlan:
    """The SASL Secrets as they should be now (see the module docstring). `server` is `<cluster>-sasl`
    as read, `users` each listed user's own Secret as read (None when absent)."""
    users_accepted = render_sasl.accepted_users(cluster)
    if not users_accepted:
        return SaslPlan()
    current = dict(server or {})
    passwords: dict[str, str] = {}
    events: list[tuple[str, str]] = []
    for user in users_accepted:
        own = dict(users.get(user) or {}) if user != ZKOP_SASL_USER else {}
        if current.get(user):
            password, source = current[user], f"Secret {names.sasl_secret}, key {user}"
        elif own.get("password"):
            password, source = own["password"], f"Secret {names.sasl_user_secret(user)}, key password"
        else:
            password, source = generate(), ""
            where = names.sasl_secret if user == ZKOP_SASL_USER else names.sasl_user_secret(user)
            who = "zkop's own SASL user" if user == ZKOP_SASL_USER else f"SASL user {user}"
            events.append(("SaslUserCreated", f"created {who}; its password is in Secret {where}"))
        if not render_sasl.PASSWORD_PATTERN.fullmatch(password):
            return SaslPlan(
                error=f"spec.authentication.sasl.users: {source} holds a password with characters other "
                f"than {render_sasl.PASSWORD_CHARACTERS}, which the members' JAAS file cannot carry: "
                "set one without them, or delete the key to let zkop generate one"
            )
        passwords[user] = password
    writes: list[SecretWrite] = []
    if any(current.get(u) != p for u, p in passwords.items()):
        # Every key kept: zkop adds, it never removes (see the module docstring).
        writes.append(SecretWrite(names.sasl_secret, {**current, **passwords}, component=COMPONENT))
    for user in users_accepted:
        if user == ZKOP_SASL_USER:
            continue
        desired = user_secret_data(user, passwords[user])
        own = dict(users.get(user) or {})
        if {k: own.get(k) for k in desired} != desired:
            writes.append(SecretWrite(names.sasl_user_secret(user), desired, component=COMPONENT))
    return SaslPlan(
        writes=tuple(writes),
        passwords=passwords,
        fingerprint=fingerprint(cluster, passwords),
        events=tuple(events),
    )
