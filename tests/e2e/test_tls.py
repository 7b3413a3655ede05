"""TLS on the local control plane, under a continuous writer: certificate renewal and CA rotation are
leader-last rolls that lose no acknowledged write, and clients that follow their mounted Secret keep
working throughout; a user-supplied Secret (cert-manager's layout) is used as given."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
from typing import Any

import pytest
from kazoo.client import KazooClient
from lightkube.resources.apps_v1 import StatefulSet
from lightkube.resources.core_v1 import Secret

from tests.e2e.conftest import ready_status
from tests.e2e.day2 import Scenario, scenario
from tests.e2e.test_day2 import pod_hashes, rolled
from tests.support.tls import secret_data
from tests.support.waiting import eventually
from zkop.kube.client import ZookeeperClusterResource
from zkop.security.pki import certificate_info, issue, new_ca, signed_by, split_pem
from zkop_local.cluster import LocalCluster

pytestmark = [pytest.mark.netns, pytest.mark.zookeeper]


async def template_hash(s: Scenario) -> str:
    sts = await s.client.get(StatefulSet, s.name, namespace="default")
    return str(sts.spec.template.metadata.annotations["zkop.io/restart-hash"])


async def roll_finished(s: Scenario, before: dict[str, str], replicas: int = 3) -> dict[str, Any] | None:
    """Every member restarted since `before`, all on the current template, settled."""
    if not await rolled(s, before):
        return None
    current = await template_hash(s)
    if set((await pod_hashes(s)).values()) != {current}:
        return None
    return await s.settled(replicas)


async def test_renewal_and_ca_rotation_roll_without_losing_a_write(local_cluster: LocalCluster) -> None:
    async with scenario(local_cluster, "rot", 3) as s:
        member_before = await secret_data(s.client, "rot-tls")
        ca_before = (await secret_data(s.client, "rot-ca"))["ca.crt"]

        # 1. Renewal on request: a new member certificate from the same CA, one leader-last roll.
        before = await pod_hashes(s)
        await s.patch({"metadata": {"annotations": {"zkop.io/renew-certificates": "r1"}}})
        await eventually(lambda: roll_finished(s, before), timeout=240, what="the renewal roll")
        renewed = await secret_data(s.client, "rot-tls")
        assert renewed["tls.crt"] != member_before["tls.crt"]
        assert signed_by(renewed["tls.crt"], ca_before)

        # 2. CA rotation: trust both, switch, drop the old one: three rolls, each after the last settled.
        seen: dict[str, Any] = {}

        async def rotated() -> dict[str, Any] | None:
            status = await s.settled(3)
            ca = await secret_data(s.client, "rot-ca")
            member = await secret_data(s.client, "rot-tls")
            full = await s.status()
            seen.update(
                ca_keys=sorted(ca),
                bundle=len(split_pem(member["ca.crt"])),
                tls=full.get("tls"),
                conditions=[
                    (c["type"], c["status"], c["reason"], c["message"]) for c in full.get("conditions", [])
                ],
                hashes=await pod_hashes(s),
                template=await template_hash(s),
            )
            done = (
                status is not None
                and not status.get("tls", {}).get("rotation")
                and "previous-ca.crt" not in ca
                and "next-ca.crt" not in ca
                and ca["ca.crt"] != ca_before
                and len(split_pem(member["ca.crt"])) == 1
                and set((await pod_hashes(s)).values()) == {await template_hash(s)}
            )
            return status if done else None

        await s.patch({"metadata": {"annotations": {"zkop.io/rotate-ca": "c1"}}})
        try:
            status = await eventually(rotated, timeout=420, what="the CA rotation's three rolls")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last seen: {seen}") from None
        member = await secret_data(s.client, "rot-tls")
        client = await secret_data(s.client, "rot-client-tls")
        assert not signed_by(member["tls.crt"], ca_before) and not signed_by(client["tls.crt"], ca_before)
        assert status["tls"]["mode"] == "mtls" and status["tls"]["issuer"] == "zkop CA"
        assert status["tls"]["caNotAfter"] != certificate_info(ca_before).not_after.strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        # The writer followed its mounted Secret and is still writing.
        assert s.writer is not None and s.writer.running
        acknowledged = len(s.writer.acknowledged)
        await asyncio.to_thread(s.writer.wait_for_acks, acknowledged + 10, 60.0)
        verification = await s.verify()
    assert verification.ok, verification.describe()


async def test_a_user_supplied_secret_is_used_and_a_broken_one_is_refused(
    local_cluster: LocalCluster,
) -> None:
    api = local_cluster.client
    assert api is not None
    now = dt.datetime.now(dt.UTC)
    ca = new_ca("cert-manager ca", now=now, validity=dt.timedelta(days=30))
    names = [
        "*.own-headless.default.svc.cluster.local",
        "*.own-headless.default.svc",
        "own-client.default.svc",
    ]
    pair = issue(ca, "own", now=now, validity=dt.timedelta(days=10), dns_names=names)
    # The user's issuer also gives the test's client a certificate (the harness reads <cluster>-client-tls).
    app = issue(ca, "app", now=now, validity=dt.timedelta(days=10), server=False)
    for name, key_pair in (("own-cert", pair), ("own-client-tls", app)):
        await api.create(
            Secret.from_dict(
                {
                    "metadata": {"name": name, "namespace": "default"},
                    "type": "kubernetes.io/tls",
                    "stringData": {
                        "tls.crt": key_pair.cert_pem,
                        "tls.key": key_pair.key_pem,
                        "ca.crt": ca.cert_pem,
                    },
                }
            )
        )
    async with scenario(local_cluster, "own", 3, tls={"secretName": "own-cert"}) as s:
        status = await s.status()
        assert status["tls"]["issuer"] == "secret own-cert"
        assert status["tls"]["certificateNotAfter"] == pair.info.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
        # zkop runs no CA of its own for this cluster.
        secrets = [x.metadata.name async for x in api.list(Secret, namespace="default")]
        assert "own-ca" not in secrets and "own-tls" not in secrets
        verification = await s.verify()
    assert verification.ok, verification.describe()

    # A cluster pointing at a Secret that does not exist: refused with the field named, nothing created.
    body = {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperCluster",
        "metadata": {"name": "nocert", "namespace": "default"},
        "spec": {"replicas": 1, "tls": {"secretName": "missing"}},
    }
    await api.create(ZookeeperClusterResource.from_dict(body))

    async def refused() -> dict[str, Any] | None:
        obj = (await api.get(ZookeeperClusterResource, "nocert", namespace="default")).to_dict()
        ready = next((c for c in (obj.get("status") or {}).get("conditions", []) if c["type"] == "Ready"), {})
        return ready if ready.get("reason") == "InvalidSpec" else None

    ready = await eventually(refused, timeout=60, what="InvalidSpec for the missing Secret")
    assert "spec.tls.secretName" in ready["message"] and "missing" in ready["message"]
    statefulsets = [x.metadata.name async for x in api.list(StatefulSet, namespace="default")]
    assert "nocert" not in statefulsets


def _sasl_client(hosts: str, ca: str, login: dict[str, str] | None) -> list[str]:
    """TLS without a client certificate (authentication is SASL), optionally logged in."""
    args: dict[str, Any] = {"use_ssl": True, "verify_certs": True, "ca": ca}
    if login is not None:
        args["sasl_options"] = {"mechanism": "DIGEST-MD5", **login}
    client = KazooClient(hosts=hosts, timeout=10, connection_retry={"max_tries": 3}, **args)
    client.start(timeout=20)
    try:
        return list(client.get_children("/"))
    finally:
        client.stop()
        client.close()


async def test_sasl_users_get_secrets_and_nothing_works_without_a_login(local_cluster: LocalCluster) -> None:
    api = local_cluster.client
    assert api is not None
    body = {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperCluster",
        "metadata": {"name": "sas", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "storage": {"size": "1Gi"},
            "jvm": {"heap": "96Mi"},
            "authentication": {"clients": "sasl", "sasl": {"users": ["orders"]}},
        },
    }
    await api.create(ZookeeperClusterResource.from_dict(body))
    status = await eventually(lambda: ready_status(local_cluster, "sas"), timeout=150, what="sas Ready")
    assert status["tls"]["mode"] != "mtls"
    user = await secret_data(api, "sas-sasl-orders")
    assert "DigestLoginModule" in user["jaas.conf"] and user["username"] == "orders"
    trust = tempfile.NamedTemporaryFile("w", suffix=".crt", delete=False)  # noqa: SIM115 - removed below
    trust.write((await secret_data(api, "sas-tls"))["ca.crt"])
    trust.close()
    hosts = ",".join(f"{m['address']}:2281" for m in status["members"] if m.get("address"))
    try:
        login = {"username": user["username"], "password": user["password"]}
        assert "zookeeper" in await asyncio.to_thread(_sasl_client, hosts, trust.name, login)
        for wrong in (None, {"username": "orders", "password": "not-it"}):
            with pytest.raises(Exception):  # noqa: B017 - refused: session closed, or the login fails
                await asyncio.to_thread(_sasl_client, hosts, trust.name, wrong)
    finally:
        os.unlink(trust.name)
