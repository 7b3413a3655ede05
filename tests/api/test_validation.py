"""The spec refuses what would break ZooKeeper, naming the field and the fix."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zkop.api.cluster import DEFAULT_IMAGE, MANAGED_CONFIG_KEYS
from zkop.api.validation import InvalidSpec, parse_cluster


def spec(**fields: Any) -> dict[str, Any]:
    return {"metadata": {"name": "zk", "namespace": "default"}, "spec": fields}


def errors(**fields: Any) -> list[str]:
    with pytest.raises(InvalidSpec) as refused:
        parse_cluster(spec(**fields))
    return [str(e) for e in refused.value.errors]


def test_defaults_are_a_three_member_ensemble_on_the_pinned_official_image() -> None:
    cluster = parse_cluster(spec())
    assert cluster.spec.replicas == 3
    assert cluster.spec.image == DEFAULT_IMAGE
    assert DEFAULT_IMAGE.startswith("zookeeper:3.") and DEFAULT_IMAGE.split(":")[1][:3] in ("3.8", "3.9")
    assert cluster.spec.storage.reclaim_policy == "Retain"


@pytest.mark.parametrize("replicas", [0, -1, 10])
def test_replicas_outside_one_to_nine_are_refused(replicas: int) -> None:
    (error,) = errors(replicas=replicas)
    assert error.startswith("spec.replicas: must be")


@pytest.mark.parametrize("key", [*sorted(MANAGED_CONFIG_KEYS), "server.4", "group.1", "weight.2"])
def test_config_keys_zkop_manages_are_refused(key: str) -> None:
    (error,) = errors(config={key: "x"})
    assert (
        error == f"spec.config: key {key!r} is managed by zkop and cannot be set: remove it from spec.config"
    )


@pytest.mark.parametrize("value", ["1\nserver.9=evil:1:2", "a\rb", "x\x00", "a\u2028b"])
def test_config_values_that_could_inject_lines_are_refused(value: str) -> None:
    (error,) = errors(config={"maxClientCnxns": value})
    assert error.startswith("spec.config: value of 'maxClientCnxns' contains a line break")


@pytest.mark.parametrize("key", ["bad key", "=x", "1abc", "a\nb"])
def test_malformed_config_keys_are_refused(key: str) -> None:
    (error,) = errors(config={key: "1"})
    assert "is not a zoo.cfg key" in error


def test_unknown_fields_are_refused_by_name() -> None:
    assert errors(replica=3) == ["spec.replica: unknown field: remove it or check its spelling"]


def test_bad_quantities_name_the_field() -> None:
    (error,) = errors(storage={"size": "ten gigs"})
    assert error.startswith("spec.storage.size: 'ten gigs' is not a valid quantity")


def test_jvm_flags_are_one_flag_per_item() -> None:
    (error,) = errors(jvm={"extraFlags": ["-Xss1m -Xmx9g"]})
    assert error.startswith("spec.jvm.extraFlags:")


def test_every_error_is_reported_at_once() -> None:
    found = errors(replicas=0, storage={"reclaimPolicy": "Keep"})
    assert len(found) == 2
    assert any(e.startswith("spec.storage.reclaimPolicy") for e in found)


@given(st.text(min_size=1, max_size=30))
def test_any_config_value_either_parses_to_one_line_or_is_refused(value: str) -> None:
    try:
        cluster = parse_cluster(spec(config={"tickTime": value}))
    except InvalidSpec:
        return
    assert len(str(cluster.spec.config["tickTime"]).splitlines()) <= 1


def test_sasl_users_are_accepted_with_sasl_clients_with_or_without_tls() -> None:
    for tls in ({}, {"enabled": False}):
        cluster = parse_cluster(
            spec(tls=tls, authentication={"clients": "sasl", "sasl": {"users": ["orders", "billing-api"]}})
        )
        assert cluster.spec.client_auth == "sasl"
        assert cluster.spec.sasl_users == ["orders", "billing-api"]
    assert parse_cluster(spec(authentication={"clients": "sasl"})).spec.sasl_users == []


@pytest.mark.parametrize("clients", [None, "mtls", "none"])
def test_sasl_users_without_sasl_clients_are_refused(clients: str | None) -> None:
    auth: dict[str, Any] = {"sasl": {"users": ["orders"]}}
    if clients:
        auth["clients"] = clients
    (error,) = errors(authentication=auth)
    assert error == (
        f"spec.authentication.sasl: users are listed but authentication.clients is {clients or 'not set'}: "
        "set authentication.clients: sasl to let them log in, or remove authentication.sasl"
    )


def test_duplicate_sasl_users_are_refused() -> None:
    (error,) = errors(authentication={"clients": "sasl", "sasl": {"users": ["orders", "x", "orders"]}})
    assert error == "spec.authentication.sasl.users: listed more than once: orders: list each user once"


def test_the_zkop_sasl_user_is_reserved() -> None:
    (error,) = errors(authentication={"clients": "sasl", "sasl": {"users": ["orders", "zkop"]}})
    assert error == (
        "spec.authentication.sasl.users: item 1: the user 'zkop' is reserved for zkop itself: "
        "choose another name"
    )


@pytest.mark.parametrize("user", ["Orders", "a_b", "-a", "a-", "", "a" * 64, "a.b", 'x"y'])
def test_sasl_users_must_be_dns_labels(user: str) -> None:
    (error,) = errors(authentication={"clients": "sasl", "sasl": {"users": [user]}})
    assert error.startswith(f"spec.authentication.sasl.users: item 0 ({user!r}) must be a DNS label")


def test_unknown_client_authentication_is_refused() -> None:
    (error,) = errors(authentication={"clients": "kerberos"})
    assert error.startswith("spec.authentication.clients: Input should be 'mtls', 'sasl' or 'none'")


def test_an_invalid_clients_value_is_reported_once_even_with_sasl_users() -> None:
    found = errors(authentication={"clients": "kerberos", "sasl": {"users": ["orders"]}})
    assert len(found) == 1 and found[0].startswith("spec.authentication.clients:")
