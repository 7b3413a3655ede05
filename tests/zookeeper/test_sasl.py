"""SASL DIGEST-MD5 client authentication as zkop renders it, on real members: users from the mounted
Secret, enforcement (a client that has not logged in can do nothing), `sasl:<user>` ACLs, zkop's own
login next to its superuser digest, membership changes, and users added and removed by a roll."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, NoAuthError, SessionClosedRequireSaslError, SessionExpiredError
from kazoo.security import ACL, OPEN_ACL_UNSAFE, Id, Permissions

from tests.support.ensemble import LocalEnsemble, formed, observe, wait_for, zookeeper_available
from zkop.api.validation import parse_cluster
from zkop.render.config import member
from zkop.render.names import ANNOTATION_RESTART_HASH
from zkop.zookeeper.connection import Connection, SaslCredential, SuperuserCredential
from zkop.zookeeper.reconfig import ReconfigError, read_membership, reconfigure
from zkop.zookeeper.sessions import EnsembleKey, Session, Sessions

pytestmark = pytest.mark.zookeeper

USERS = ["orders", "billing-api"]
# What a client whose login was refused gets for its requests: its connection is gone (kazoo's connection
# thread ends on the refusal, see test_a_wrong_password_or_unknown_user_can_do_nothing).
REFUSED = (ConnectionLoss, SessionExpiredError, SessionClosedRequireSaslError)
# kazoo does not catch the refusal of a login in its connection thread: the thread ends with it.
kazoo_thread_ends = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


def sasl_spec(users: list[str]) -> dict[str, Any]:
    return {"authentication": {"clients": "sasl", "sasl": {"users": users}}}


def start(root: Path, *, tls: bool = True, replicas: int = 3) -> LocalEnsemble:
    if not zookeeper_available():
        pytest.fail("Debian's zookeeper package is not installed: run `make setup` (make test does)")
    members = LocalEnsemble(root, tls=tls, replicas=replicas, spec=sasl_spec(USERS))
    members.start_all()
    return members


@pytest.fixture
def ensemble(tmp_path: Path) -> Iterator[LocalEnsemble]:
    members = start(tmp_path / "sasl")
    try:
        wait_for(lambda: formed(members), timeout=60, what="a formed SASL ensemble")
        yield members
    finally:
        members.stop_all()


def client(ensemble: LocalEnsemble, **kwargs: Any) -> KazooClient:
    """A client as an application would connect: TLS trusting the cluster's CA but presenting no
    certificate (clients need none with sasl), plain text without TLS."""
    tls = ensemble.cluster.spec.tls.enabled
    hosts = ",".join(f"{a}:{2281 if tls else 2181}" for a in ensemble.addresses().values())
    args: dict[str, Any] = {}
    if tls:
        args = {"use_ssl": True, "verify_certs": True, "ca": ensemble.client_tls.files()[2]}
    zk = KazooClient(
        hosts=hosts, timeout=4, connection_retry={"max_tries": 2, "delay": 0.1}, **args, **kwargs
    )
    zk.start(timeout=6)
    return zk


def admin(ensemble: LocalEnsemble) -> KazooClient:
    """zkop's own session, as zkop opens it (zkop.zookeeper.acls): the SASL user zkop, then the
    superuser digest, over TLS with the members' key pair."""
    connection = ensemble.connection
    assert connection.sasl is not None
    zk = KazooClient(hosts=connection.hosts(list(ensemble.addresses().values())), **connection.kazoo_args())
    zk.start(timeout=6)
    return zk


def closed(zk: KazooClient) -> None:
    zk.stop()
    zk.close()


def test_a_user_with_its_password_reads_and_writes(ensemble: LocalEnsemble) -> None:
    secret = ensemble.secrets[ensemble.names.sasl_user_secret("orders")]
    assert secret["username"] == "orders"
    assert f'password="{secret["password"]}";' in secret["jaas.conf"]
    assert "required" in secret["jaas.conf"]
    # Members loaded exactly the listed users and zkop's own, from the Secret, into the runtime directory.
    jaas = (ensemble.member_dir(1) / "runtime" / "zkop-sasl" / "jaas.conf").read_text()
    assert sorted(line.split("=")[0].strip() for line in jaas.splitlines() if "user_" in line) == [
        "user_billing-api",
        "user_orders",
        "user_zkop",
    ]
    logs = "".join(ensemble.log(i) for i in (1, 2, 3))
    assert not any(p in logs for p in ensemble.secrets[ensemble.names.sasl_secret].values())  # never printed
    zk = client(ensemble, sasl_options=ensemble.sasl_login("orders")["sasl_options"])
    try:
        zk.create("/orders-probe", b"one")
        zk.set("/orders-probe", b"two")
        assert zk.get("/orders-probe")[0] == b"two"
        assert "zookeeper" in zk.get_children("/")
    finally:
        closed(zk)
    assert "adding SASL authorization for authorizationID: orders" in "".join(
        ensemble.log(i) for i in (1, 2, 3)
    )


def test_a_client_that_has_not_logged_in_can_do_nothing(ensemble: LocalEnsemble) -> None:
    zkop = admin(ensemble)
    try:
        zkop.create("/open", b"for everyone", acl=OPEN_ACL_UNSAFE)
    finally:
        closed(zkop)
    # No SASL: the session is created, and closed by the member at the first request, whatever the
    # znode's ACL (world-readable here): ZooKeeper answers SESSIONCLOSEDREQUIRESASLAUTH.
    for attempt in (
        lambda zk: zk.get("/open"),
        lambda zk: zk.exists("/open"),
        lambda zk: zk.get_children("/"),
        lambda zk: zk.create("/intruder", b"x"),
        lambda zk: zk.set("/open", b"changed"),
    ):
        anonymous = client(ensemble)
        try:
            with pytest.raises(SessionClosedRequireSaslError):
                attempt(anonymous)
        finally:
            closed(anonymous)
    # A digest identity is no login either, not even the superuser's.
    digest_only = client(ensemble, auth_data=ensemble.credential.auth_data())
    try:
        with pytest.raises(SessionClosedRequireSaslError):
            digest_only.get("/open")
    finally:
        closed(digest_only)
    logs = "".join(ensemble.log(i) for i in (1, 2, 3))
    assert "does not match with any of the expected authentication scheme [sasl], closing session" in logs
    zkop = admin(ensemble)
    try:
        assert zkop.get("/open")[0] == b"for everyone"
        assert not zkop.exists("/intruder")
    finally:
        closed(zkop)


@kazoo_thread_ends
@pytest.mark.parametrize(
    ("user", "password", "server_says"),
    [
        ("orders", "not-the-password", "failed to SASL authenticate"),
        ("ghost", "whatever", "User 'ghost' not found in list of DIGEST-MD5 authenticateable users"),
    ],
)
def test_a_wrong_password_or_unknown_user_can_do_nothing(
    ensemble: LocalEnsemble, caplog: pytest.LogCaptureFixture, user: str, password: str, server_says: str
) -> None:
    caplog.set_level(logging.ERROR, logger="kazoo.client")
    login = SaslCredential(user, password).kazoo_args()
    # kazoo reports the session as connected before it logs in; the login is answered with
    # SESSIONCLOSEDREQUIRESASLAUTH and the member drops the connection, so nothing gets through.
    zk = client(ensemble, **login)
    try:
        with pytest.raises(REFUSED):
            zk.get("/zookeeper")
        with pytest.raises(REFUSED):
            zk.create("/guessed", b"x")
    finally:
        closed(zk)
    refusals = [r for r in caplog.records if r.exc_info and r.exc_info[0] is SessionClosedRequireSaslError]
    assert refusals, "kazoo's login should have been refused with SESSIONCLOSEDREQUIRESASLAUTH"
    logs = "".join(ensemble.log(i) for i in (1, 2, 3))
    assert server_says in logs
    assert "Closing client connection due to server requires client SASL authenticaiton" in logs
    zkop = admin(ensemble)
    try:
        assert not zkop.exists("/guessed")
    finally:
        closed(zkop)


def test_a_sasl_identity_acl_limits_a_znode_to_its_user(ensemble: LocalEnsemble) -> None:
    zkop = admin(ensemble)
    try:
        zkop.create("/orders-only", b"secret", acl=[ACL(Permissions.ALL, Id("sasl", "orders"))])
        assert zkop.get("/orders-only")[0] == b"secret"  # the superuser digest still opens everything
    finally:
        closed(zkop)
    orders = client(ensemble, **ensemble.sasl_login("orders"))
    try:
        orders.set("/orders-only", b"mine")
        orders.create("/orders-only/child", b"")
        assert orders.get("/orders-only")[0] == b"mine"
    finally:
        closed(orders)
    billing = client(ensemble, **ensemble.sasl_login("billing-api"))
    try:
        assert billing.exists("/orders-only") is not None  # exists needs no permission
        with pytest.raises(NoAuthError):
            billing.get("/orders-only")
        with pytest.raises(NoAuthError):
            billing.set("/orders-only", b"theirs")
        with pytest.raises(NoAuthError):
            billing.create("/orders-only/theirs", b"")
    finally:
        closed(billing)
    # zkop's SASL user alone (without its superuser digest) is just another user.
    login_only = client(ensemble, **ensemble.connection.sasl.kazoo_args())  # type: ignore[union-attr]
    try:
        with pytest.raises(NoAuthError):
            login_only.get("/orders-only")
    finally:
        closed(login_only)


def test_zkop_changes_membership_with_sasl_enforced(ensemble: LocalEnsemble) -> None:
    connection: Connection = ensemble.connection
    addresses = list(ensemble.addresses([1, 2, 3]).values())
    before = asyncio.run(read_membership(addresses, connection))  # SASL login, no digest: config is readable
    ensemble.start(4)
    wait_for(
        lambda: (s := observe(ensemble, [1, 2, 3, 4])).member(4) and s.member(4).synced,  # type: ignore[union-attr]
        timeout=40,
        what="member 4 to sync",
    )
    after = asyncio.run(
        reconfigure(
            addresses,
            connection,
            joining=[member(ensemble.cluster.spec, ensemble.names, 4)],
            from_version=before.version,
        )
    )
    assert after.ids == (1, 2, 3, 4)
    removed = asyncio.run(reconfigure(addresses, connection, leaving=[4], from_version=after.version))
    assert removed.ids == (1, 2, 3)
    # Neither credential alone will do: the SASL login without the superuser digest may not reconfigure,
    # the superuser digest without the SASL login may not even read.
    wrong_digest = Connection(SuperuserCredential("wrong"), connection.tls, connection.sasl)
    with pytest.raises(ReconfigError) as refused:
        asyncio.run(reconfigure(addresses, wrong_digest, leaving=[3], from_version=removed.version))
    assert refused.value.reason == "NotAuthorized"
    no_login = Connection(connection.credential, connection.tls)
    with pytest.raises(SessionClosedRequireSaslError):
        asyncio.run(reconfigure(addresses, no_login, leaving=[3], from_version=removed.version))
    assert asyncio.run(read_membership(addresses, connection)).ids == (1, 2, 3)


@kazoo_thread_ends
def test_users_added_and_removed_take_effect_with_the_roll(ensemble: LocalEnsemble) -> None:
    old_hash = ensemble.rendered.restart_hash
    orders_password = ensemble.secrets[ensemble.names.sasl_user_secret("orders")]["password"]
    old_billing = ensemble.sasl_login("billing-api")
    body = {"metadata": {"name": ensemble.name, "namespace": ensemble.namespace}}
    spec = {"replicas": 3, **sasl_spec(["orders", "payments"])}
    ensemble.cluster = parse_cluster({**body, "spec": spec})
    plan = ensemble.plan_sasl()
    assert {w.name for w in plan.writes} == {"zk-sasl", "zk-sasl-payments"}
    assert ensemble.rendered.restart_hash != old_hash
    template = next(o for o in ensemble.rendered.objects if o["kind"] == "StatefulSet")["spec"]["template"]
    assert template["metadata"]["annotations"][ANNOTATION_RESTART_HASH] == ensemble.rendered.restart_hash
    # Not before the members restart: they read their users at start only.
    with pytest.raises(REFUSED):
        closed_after(client(ensemble, **ensemble.sasl_login("payments")), "/zookeeper")
    for member_id in (1, 2, 3):
        ensemble.kill(member_id)
        ensemble.start(member_id)
        wait_for(lambda: formed(ensemble), timeout=60, what=f"member {member_id} back after the roll")
    payments = client(ensemble, **ensemble.sasl_login("payments"))
    try:
        payments.create("/payments-probe", b"ok")
    finally:
        closed(payments)
    orders = client(ensemble, **ensemble.sasl_login("orders"))
    try:
        assert orders.exists("/payments-probe")
    finally:
        closed(orders)
    assert ensemble.secrets[ensemble.names.sasl_user_secret("orders")]["password"] == orders_password
    with pytest.raises(REFUSED):
        closed_after(client(ensemble, **old_billing), "/zookeeper")
    zkop = admin(ensemble)
    closed(zkop)


def closed_after(zk: KazooClient, path: str) -> None:
    try:
        zk.get(path)
    finally:
        closed(zk)


@kazoo_thread_ends
def test_zkop_replaces_a_session_whose_login_was_refused(ensemble: LocalEnsemble) -> None:
    """A stale zkop password (the Secret edited, members not rolled yet) ends kazoo's connection for
    good; the operator's shared session is then replaced at the next use, not kept dead."""
    good = ensemble.connection
    stale = Connection(good.credential, good.tls, SaslCredential("zkop", "stale-password"))
    hosts = list(ensemble.addresses().values())
    key = EnsembleKey(ensemble.namespace, ensemble.name)

    async def scenario() -> None:
        sessions = Sessions()

        async def attempt(connection: Connection) -> Session | None:
            try:
                return await sessions.get(key, hosts, connection)
            except Exception:  # the refusal may also race kazoo's start() and fail it
                return None

        try:
            first = await attempt(stale)
            if first is not None:
                await asyncio.to_thread(wait_for, lambda: first.ended, 20.0, 0.2, "the refused session")
                assert await attempt(stale) is not first
            working = await attempt(good)
            assert working is not None and not working.ended
            assert await sessions.run(working, lambda c: c.exists("/zookeeper")) is not None
        finally:
            await sessions.close()

    asyncio.run(scenario())


def test_sasl_without_tls_is_enforced_on_the_plain_port(tmp_path: Path) -> None:
    """SASL DIGEST-MD5 authenticates but does not encrypt: allowed (documented), enforced the same way."""
    members = start(tmp_path / "plain", tls=False, replicas=1)
    try:
        wait_for(lambda: formed(members), timeout=60, what="a formed single-member SASL ensemble")
        assert "secureClientPort" not in members.config_files()["zoo.cfg"]
        orders = client(members, **members.sasl_login("orders"))
        try:
            orders.create("/plain-probe", b"ok")
        finally:
            closed(orders)
        anonymous = client(members)
        try:
            with pytest.raises(SessionClosedRequireSaslError):
                anonymous.get("/plain-probe")
        finally:
            closed(anonymous)
    finally:
        members.stop_all()
