"""The SASL plan: which Secrets to write, passwords generated once and never overwritten, what the members
load (and so what rolls them)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from zkop.api.validation import parse_cluster
from zkop.plan.sasl import SaslPlan, fingerprint, plan_sasl
from zkop.render import render
from zkop.render.names import ClusterNames, RenderOptions


def cluster(users: list[str] | None = None, clients: str | None = "sasl", tls: bool = True) -> Any:
    authentication: dict[str, Any] = {"clients": clients} if clients else {}
    if users is not None:
        authentication["sasl"] = {"users": users}
    spec: dict[str, Any] = {"authentication": authentication}
    if not tls:
        spec["tls"] = {"enabled": False}
    return parse_cluster({"metadata": {"name": "zk", "namespace": "shop"}, "spec": spec})


NAMES = ClusterNames.of(cluster(), RenderOptions())


def counter() -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: f"generated-{next(numbers)}"


class Store:
    """The Secrets as the API would hold them, written only through plans (server-side apply keeps
    keys zkop does not write, so a write is merged into what is there)."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, str]] = {}
        self.generate = counter()

    def plan(self, c: Any) -> SaslPlan:
        result = plan_sasl(
            c,
            NAMES,
            server=self.data.get(NAMES.sasl_secret),
            users={u: self.data.get(NAMES.sasl_user_secret(u)) for u in c.spec.sasl_users},
            generate=self.generate,
        )
        assert result.error is None, result.error
        for write in result.writes:
            assert write.component == "sasl"
            self.data[write.name] = {**self.data.get(write.name, {}), **write.data}
        return result


def test_without_sasl_nothing_is_planned() -> None:
    for c in (cluster(clients=None), cluster(clients="none"), cluster(clients="mtls")):
        plan = plan_sasl(c, NAMES, server=None, users={})
        assert plan == SaslPlan()
        assert plan.fingerprint is None and plan.zkop_password is None


def test_a_new_cluster_gets_zkop_and_every_user_with_their_own_secret() -> None:
    store = Store()
    plan = store.plan(cluster(["orders", "billing-api"]))
    assert [w.name for w in plan.writes] == ["zk-sasl", "zk-sasl-billing-api", "zk-sasl-orders"]
    server = store.data["zk-sasl"]
    assert set(server) == {"zkop", "orders", "billing-api"}
    assert len(set(server.values())) == 3
    assert plan.zkop_password == server["zkop"]
    orders = store.data["zk-sasl-orders"]
    assert orders["username"] == "orders" and orders["password"] == server["orders"]
    assert orders["jaas.conf"] == (
        "Client {\n"
        "  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        '  username="orders"\n'
        f'  password="{server["orders"]}";\n'
        "};\n"
    )
    reasons = [reason for reason, _ in plan.events]
    assert reasons == ["SaslUserCreated"] * 3
    # Events and reprs name users and Secrets, never a password.
    text = repr(plan) + " ".join(message for _, message in plan.events) + repr(plan.writes)
    assert not any(password in text for password in server.values())


def test_a_settled_cluster_needs_no_write() -> None:
    store = Store()
    first = store.plan(cluster(["orders"]))
    again = store.plan(cluster(["orders"]))
    assert again.writes == () and again.events == ()
    assert again.fingerprint == first.fingerprint


def test_passwords_are_generated_once_and_never_overwritten() -> None:
    store = Store()
    store.plan(cluster(["orders"]))
    before = dict(store.data["zk-sasl"])
    plan = store.plan(cluster(["orders", "payments"]))
    assert [w.name for w in plan.writes] == ["zk-sasl", "zk-sasl-payments"]
    after = store.data["zk-sasl"]
    assert {k: after[k] for k in before} == before
    assert [m for _, m in plan.events] == [
        "created SASL user payments; its password is in Secret zk-sasl-payments"
    ]


def test_a_removed_user_is_no_longer_loaded_and_gets_its_password_back_when_listed_again() -> None:
    store = Store()
    added = store.plan(cluster(["orders", "payments"]))
    payments = store.data["zk-sasl"]["payments"]
    removed = store.plan(cluster(["orders"]))
    # zkop never removes a key (a key another field manager touched would stay anyway): what the members
    # load is the list in the pod template, and the fingerprint of the listed users' passwords.
    assert removed.writes == ()
    assert "payments" not in removed.passwords
    assert removed.fingerprint != added.fingerprint
    assert (
        render(cluster(["orders"]), sasl_fingerprint=removed.fingerprint).restart_hash
        != render(cluster(["orders", "payments"]), sasl_fingerprint=added.fingerprint).restart_hash
    )
    back = store.plan(cluster(["orders", "payments"]))
    assert back.writes == () and back.passwords["payments"] == payments
    assert back.fingerprint == added.fingerprint


def test_a_lost_server_secret_is_rebuilt_from_the_users_own_secrets() -> None:
    store = Store()
    store.plan(cluster(["orders"]))
    orders = store.data["zk-sasl"]["orders"]
    zkop = store.data["zk-sasl"]["zkop"]
    del store.data["zk-sasl"]
    plan = store.plan(cluster(["orders"]))
    assert [w.name for w in plan.writes] == ["zk-sasl"]
    assert store.data["zk-sasl"]["orders"] == orders  # applications keep working
    assert store.data["zk-sasl"]["zkop"] != zkop  # zkop's own is not kept anywhere else: a new one
    assert [r for r, _ in plan.events] == ["SaslUserCreated"]


def test_a_users_own_secret_follows_the_server_secret() -> None:
    store = Store()
    store.plan(cluster(["orders"]))
    # A password changed by hand in zk-sasl (a rotation): the user's Secret follows, the members roll.
    before = store.plan(cluster(["orders"])).fingerprint
    store.data["zk-sasl"]["orders"] = "rotated-by-hand"
    plan = store.plan(cluster(["orders"]))
    assert [w.name for w in plan.writes] == ["zk-sasl-orders"]
    assert store.data["zk-sasl-orders"]["password"] == "rotated-by-hand"
    assert 'password="rotated-by-hand";' in store.data["zk-sasl-orders"]["jaas.conf"]
    assert plan.fingerprint != before
    # A user's own Secret edited or emptied is rewritten from zk-sasl.
    store.data["zk-sasl-orders"] = {"password": "edited"}
    assert [w.name for w in store.plan(cluster(["orders"])).writes] == ["zk-sasl-orders"]
    assert store.data["zk-sasl-orders"]["password"] == "rotated-by-hand"


@pytest.mark.parametrize("password", ['with"quote', "with space", "line\nbreak", "back\\slash", ""])
def test_a_password_the_jaas_file_cannot_carry_is_refused_naming_the_secret(password: str) -> None:
    server = {"zkop": "fine", "orders": password}
    plan = plan_sasl(cluster(["orders"]), NAMES, server=server, users={}, generate=counter())
    if password == "":
        # An empty value counts as absent: a new password is generated.
        assert plan.error is None and plan.passwords["orders"] == "generated-1"
        return
    assert plan.error is not None and plan.writes == ()
    assert plan.error.startswith("spec.authentication.sasl.users: Secret zk-sasl, key orders holds")
    assert password not in plan.error


def test_the_fingerprint_covers_the_listed_users_passwords_only() -> None:
    c = cluster(["orders"])
    base = {"zkop": "a", "orders": "b"}
    assert fingerprint(c, base) == fingerprint(c, {**base, "unlisted": "c"})
    assert fingerprint(c, base) != fingerprint(c, {**base, "orders": "changed"})
    assert fingerprint(c, None) is None
    assert fingerprint(cluster(clients="none"), base) is None


def test_sasl_works_without_tls_too() -> None:
    store = Store()
    plan = store.plan(cluster(["orders"], tls=False))
    assert plan.zkop_password and [w.name for w in plan.writes] == ["zk-sasl", "zk-sasl-orders"]


def test_sasl_with_no_application_user_still_lets_zkop_in() -> None:
    store = Store()
    plan = store.plan(cluster())
    assert [w.name for w in plan.writes] == ["zk-sasl"]
    assert set(store.data["zk-sasl"]) == {"zkop"}
