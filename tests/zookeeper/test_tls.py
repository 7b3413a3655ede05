"""TLS and authentication as zkop renders them, on real members: mutual TLS for clients, TLS for the
quorum, HTTPS for the AdminServer, and membership changes with all of it on."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import NoAuthError
from kazoo.security import ACL, Id, Permissions

from tests.support.ensemble import LocalEnsemble, formed, observe, wait_for, zookeeper_available
from zkop.render.config import member
from zkop.security.pki import certificate_info, signed_by, split_pem
from zkop.zookeeper.connection import ClientTls, Connection
from zkop.zookeeper.observe import observe_ensemble
from zkop.zookeeper.reconfig import reconfigure

pytestmark = pytest.mark.zookeeper


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[LocalEnsemble]:
    if not zookeeper_available():
        pytest.fail("Debian's zookeeper package is not installed: run `make setup` (make test does)")
    members = LocalEnsemble(tmp_path / "secure", tls=True)
    members.start_all()
    try:
        yield members
    finally:
        members.stop_all()


def client(ensemble: LocalEnsemble, tls: ClientTls | None, **kwargs: object) -> KazooClient:
    port = 2281 if tls else 2181
    hosts = ",".join(f"{a}:{port}" for a in ensemble.addresses().values())
    args = tls.kazoo_args() if tls else {}
    zk = KazooClient(
        hosts=hosts, timeout=4, connection_retry={"max_tries": 2, "delay": 0.1}, **args, **kwargs
    )  # type: ignore[arg-type]
    zk.start(timeout=6)
    return zk


def refused(ensemble: LocalEnsemble, tls: ClientTls | None) -> bool:
    try:
        zk = client(ensemble, tls)
    except Exception:  # kazoo gives a timeout after the handshake or the connection fails
        return True
    zk.stop()
    zk.close()
    return False


def foreign(tmp_path: Path) -> LocalEnsemble:
    """Certificates from another CA (another cluster's), never started."""
    return LocalEnsemble(tmp_path / "foreign", name="other", tls=True)


def test_members_form_a_quorum_over_tls_and_serve_only_certified_clients(
    secure: LocalEnsemble, tmp_path: Path
) -> None:
    state = wait_for(lambda: formed(secure), timeout=60, what="a formed TLS ensemble")
    assert sorted(m.role for m in state.members) == ["follower", "follower", "leader"]
    # Nothing plain-text is advertised: clients following /zookeeper/config stay on TLS.
    assert state.membership is not None and all(m.client_address is None for m in state.membership.members)
    assert all("Using TLS encrypted quorum communication" in secure.log(i) for i in (1, 2, 3))
    zk = client(secure, secure.client_tls)
    try:
        zk.create("/tls-probe", b"ok")
        assert zk.get("/tls-probe")[0] == b"ok"
    finally:
        zk.stop()
        zk.close()
    other = foreign(tmp_path)
    assert refused(secure, other.client_tls), "a certificate from another CA must be refused"
    assert refused(secure, None), "plain text must be refused (the plain client port is closed)"


def test_a_client_without_a_certificate_is_refused(secure: LocalEnsemble) -> None:
    wait_for(lambda: formed(secure), timeout=60, what="a formed TLS ensemble")
    hosts = ",".join(f"{a}:2281" for a in secure.addresses().values())
    _, _, ca = secure.client_tls.files()
    zk = KazooClient(hosts=hosts, timeout=4, use_ssl=True, ca=ca, connection_retry={"max_tries": 2})
    with pytest.raises(Exception):  # noqa: B017 - the handshake fails: kazoo reports a timeout
        zk.start(timeout=6)
    zk.stop()
    zk.close()


def test_the_certificate_subject_is_the_client_identity_for_acls(secure: LocalEnsemble) -> None:
    wait_for(lambda: formed(secure), timeout=60, what="a formed TLS ensemble")
    admin = client(secure, secure.connection.tls, auth_data=secure.credential.auth_data())
    subject = certificate_info(secure.client_tls.cert_pem).subject
    try:
        admin.create("/only-the-client", b"x", acl=[ACL(Permissions.ALL, Id("x509", subject))])
    finally:
        admin.stop()
        admin.close()
    app = client(secure, secure.client_tls)
    try:
        assert app.get("/only-the-client")[0] == b"x"
    finally:
        app.stop()
        app.close()
    member_cert = client(secure, secure.connection.tls)  # certified, but another subject, no digest
    try:
        with pytest.raises(NoAuthError):
            member_cert.get("/only-the-client")
    finally:
        member_cert.stop()
        member_cert.close()


def test_the_admin_server_speaks_https_only(secure: LocalEnsemble) -> None:
    wait_for(lambda: formed(secure), timeout=60, what="a formed TLS ensemble")
    plain = asyncio.run(observe_ensemble(secure.addresses([1]), timeout=2.0))
    assert plain.members[0].role == "down"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # as a kubelet probe: no verification
    with (
        socket.create_connection((secure.address(1), 8080), timeout=3) as raw,
        context.wrap_socket(raw) as tls,
    ):
        tls.sendall(b"GET /commands/ruok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert b"200" in tls.recv(200)


def test_a_peer_with_a_foreign_certificate_cannot_join_the_quorum(
    secure: LocalEnsemble, tmp_path: Path
) -> None:
    wait_for(lambda: formed(secure), timeout=60, what="a formed TLS ensemble")
    other = foreign(tmp_path)
    intruder = other.secrets[other.names.tls_secret]
    # Member 3 comes back with a certificate from another CA (but the right names).
    secure.kill(3)
    mine = dict(secure.secrets[secure.names.tls_secret])
    secure.secrets[secure.names.tls_secret] = {**intruder, "ca.crt": mine["ca.crt"]}
    secure.start(3)
    wait_for(
        lambda: "Certificate" in secure.log(1) + secure.log(2) or "certificate" in secure.log(3),
        timeout=30,
        what="a refused handshake",
    )
    for _ in range(5):
        state = observe(secure)
        member3 = state.member(3)
        assert member3 is None or not member3.synced, "a member with a foreign certificate joined"
    # With its own certificate back, it rejoins.
    secure.kill(3)
    secure.secrets[secure.names.tls_secret] = mine
    secure.start(3)
    wait_for(lambda: formed(secure), timeout=60, what="member 3 back with its own certificate")


def test_membership_changes_over_tls_with_acls_on(secure: LocalEnsemble) -> None:
    state = wait_for(lambda: formed(secure), timeout=60, what="a formed TLS ensemble")
    assert state.membership is not None
    secure.start(4)
    wait_for(
        lambda: (s := observe(secure, [1, 2, 3, 4])).member(4) and s.member(4).synced,  # type: ignore[union-attr]
        timeout=40,
        what="member 4 to sync over TLS",
    )
    connection: Connection = secure.connection
    addresses = list(secure.addresses([1, 2, 3]).values())
    after = asyncio.run(
        reconfigure(
            addresses,
            connection,
            joining=[member(secure.cluster.spec, secure.names, 4)],
            from_version=state.membership.version,
        )
    )
    assert after.ids == (1, 2, 3, 4)
    removed = asyncio.run(reconfigure(addresses, connection, leaving=[4], from_version=after.version))
    assert removed.ids == (1, 2, 3)
    # Without the superuser digest the same connection may not reconfigure.
    with pytest.raises(Exception):  # noqa: B017
        asyncio.run(
            reconfigure(
                addresses,
                Connection(secure.credential.__class__("wrong"), connection.tls),
                leaving=[3],
                from_version=removed.version,
            )
        )


def test_a_ca_rotation_rolled_member_by_member_keeps_the_quorum(secure: LocalEnsemble) -> None:
    """The three steps of a CA rotation, each rolled out one member at a time as zkop does: every restarted
    member rejoins the ones still running the previous step (they trust each other throughout)."""
    wait_for(lambda: formed(secure), timeout=60, what="a formed TLS ensemble")
    first_ca = secure.secrets[secure.names.ca_secret]["ca.crt"]
    secure.cluster = secure.cluster.model_copy(
        update={"metadata": {**secure.cluster.metadata, "annotations": {"zkop.io/rotate-ca": "now"}}}
    )
    steps = 0
    while True:
        before = secure.secrets.get(secure.names.tls_secret)
        secure.issue(settled=True)
        if secure.secrets.get(secure.names.tls_secret) == before:
            break
        steps += 1
        bundle = secure.secrets[secure.names.tls_secret]["ca.crt"]
        subjects = [certificate_info(c).subject for c in split_pem(bundle)]
        assert len(set(subjects)) == len(subjects), "CAs in one bundle need distinct subjects"
        for member_id in (1, 2, 3):
            secure.kill(member_id)
            secure.start(member_id)
            wait_for(lambda: formed(secure), timeout=60, what=f"member {member_id} back in step {steps}")
    assert steps == 3
    final = secure.secrets[secure.names.tls_secret]
    assert not any(signed_by(final["tls.crt"], ca) for ca in split_pem(first_ca))


def test_the_plain_text_port_is_served_only_when_kept_for_a_migration(tmp_path: Path) -> None:
    migrating = LocalEnsemble(tmp_path / "migrating", tls=True, spec={"tls": {"plaintextClientPort": True}})
    migrating.start_all()
    try:
        wait_for(lambda: formed(migrating), timeout=60, what="a formed ensemble with both client ports")
        for tls in (None, migrating.client_tls):  # plain text on 2181, mutual TLS on 2281
            zk = client(migrating, tls)
            try:
                assert "zookeeper" in zk.get_children("/")
            finally:
                zk.stop()
                zk.close()
        # Still nothing plain-text in the membership: clients that follow it stay on what they use.
        state = formed(migrating)
        assert state is not None and state.membership is not None
        assert all(m.client_address is None for m in state.membership.members)
    finally:
        migrating.stop_all()
