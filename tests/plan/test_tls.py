"""The certificate plan: issuance, renewal, CA rotation without a trust gap, user-supplied Secrets."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from zkop.api.validation import parse_cluster
from zkop.plan.tls import (
    ANNOTATION_RENEW,
    ANNOTATION_RENEWED_FOR,
    ANNOTATION_ROTATE_CA,
    TlsPlan,
    plan_tls,
)
from zkop.render.names import ClusterNames, RenderOptions
from zkop.security.pki import certificate_info, issue, new_ca, signed_by, split_pem

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def cluster(annotations: dict[str, str] | None = None, **tls: Any) -> Any:
    return parse_cluster(
        {
            "metadata": {"name": "zk", "namespace": "kafka", "annotations": annotations or {}},
            "spec": {"tls": tls} if tls else {},
        }
    )


NAMES = ClusterNames.of(cluster(), RenderOptions())


class Store:
    """The three Secrets as the API would hold them, written only through plans."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, str]] = {}
        self.annotations: dict[str, dict[str, str]] = {}

    def plan(self, c: Any, now: dt.datetime = NOW, settled: bool = True) -> TlsPlan:
        result = plan_tls(
            c,
            NAMES,
            ca=self.data.get(NAMES.ca_secret),
            member=self.data.get(NAMES.tls_secret),
            client=self.data.get(NAMES.client_tls_secret),
            member_annotations=self.annotations.get(NAMES.tls_secret),
            ca_annotations=self.annotations.get(NAMES.ca_secret),
            now=now,
            is_settled=settled,
        )
        assert result.error is None, result.error
        for write in result.writes:
            self.data[write.name] = dict(write.data)
            self.annotations[write.name] = dict(write.annotations)
        return result

    def member(self) -> tuple[str, str]:
        data = self.data[NAMES.tls_secret]
        return data["tls.crt"], data["ca.crt"]


def trusts(bundle: str, cert: str) -> bool:
    return any(signed_by(cert, ca) for ca in split_pem(bundle))


def test_a_new_cluster_gets_a_ca_a_member_certificate_and_a_client_certificate() -> None:
    store = Store()
    plan = store.plan(cluster())
    assert [w.name for w in plan.writes] == ["zk-ca", "zk-tls", "zk-client-tls"]
    cert, bundle = store.member()
    info = certificate_info(cert)
    assert "*.zk-headless.kafka.svc.cluster.local" in info.dns_names
    assert "zk-client.kafka.svc" in info.dns_names
    assert trusts(bundle, cert) and len(split_pem(bundle)) == 1
    assert info.not_after - NOW <= dt.timedelta(days=90)
    client = store.data[NAMES.client_tls_secret]
    assert trusts(bundle, client["tls.crt"]) and client["ca.crt"] == bundle
    assert "tls.key" not in store.data[NAMES.ca_secret] and "ca.key" in store.data[NAMES.ca_secret]
    # Level-triggered: the next pass finds everything in order and writes nothing.
    again = store.plan(cluster())
    assert again.writes == () and again.fingerprint == plan.fingerprint


def test_certificates_are_renewed_before_they_expire_with_the_same_ca() -> None:
    store = Store()
    first = store.plan(cluster())
    old_cert, _ = store.member()
    not_renewed = store.plan(cluster(), now=NOW + dt.timedelta(days=59))
    assert not_renewed.writes == ()
    renewed = store.plan(cluster(), now=NOW + dt.timedelta(days=61))
    assert {w.name for w in renewed.writes} == {"zk-tls", "zk-client-tls"}
    new_cert, bundle = store.member()
    assert new_cert != old_cert and renewed.fingerprint != first.fingerprint
    assert trusts(bundle, old_cert) and trusts(bundle, new_cert)  # old and new members trust each other


def test_renewal_on_request_happens_once_per_request() -> None:
    store = Store()
    store.plan(cluster())
    old, _ = store.member()
    asked = cluster({ANNOTATION_RENEW: "2026-11-22T12:00:00Z"})
    store.plan(asked)
    assert store.member()[0] != old
    assert store.annotations[NAMES.tls_secret][ANNOTATION_RENEWED_FOR] == "2026-11-22T12:00:00Z"
    assert store.plan(asked).writes == ()


def _rotate(store: Store, c: Any) -> list[tuple[str, str]]:
    """Run passes (each followed by a settled roll) until nothing changes; the member states in order."""
    states = [store.member()]
    for _ in range(8):
        plan = store.plan(c, settled=True)
        if not plan.writes:
            break
        if store.member() != states[-1]:
            states.append(store.member())
    return states


def _no_trust_gap(states: list[tuple[str, str]]) -> None:
    """During the roll from one state to the next, members of both kinds run at once: each must trust
    the other's certificate."""
    for (old_cert, old_bundle), (new_cert, new_bundle) in itertools.pairwise(states):
        assert trusts(old_bundle, new_cert), "a restarted member would be refused by the others"
        assert trusts(new_bundle, old_cert), "a restarted member would refuse the others"


def test_ca_rotation_trusts_both_then_switches_then_drops_the_old_ca() -> None:
    store = Store()
    store.plan(cluster())
    old_ca = store.data[NAMES.ca_secret]["ca.crt"]
    states = _rotate(store, cluster({ANNOTATION_ROTATE_CA: "now"}))
    assert len(states) == 4  # start, trust both, switch, drop
    _no_trust_gap(states)
    final_cert, final_bundle = states[-1]
    assert not trusts(old_ca, final_cert) and len(split_pem(final_bundle)) == 1
    assert store.plan(cluster({ANNOTATION_ROTATE_CA: "now"})).writes == ()


def test_a_rotation_step_waits_for_the_previous_roll_to_settle() -> None:
    store = Store()
    store.plan(cluster())
    c = cluster({ANNOTATION_ROTATE_CA: "1"})
    started = store.plan(c, settled=True)
    assert started.rotation and "1/3" in started.rotation
    before = store.member()
    for _ in range(3):
        assert store.plan(c, settled=False).writes == ()
    assert store.member() == before
    assert "2/3" in (store.plan(c, settled=True).rotation or "")


def test_the_ca_rotates_by_itself_before_it_expires() -> None:
    store = Store()
    store.plan(
        cluster(caDuration="8760h", caRenewBefore="720h", certificateDuration="720h", renewBefore="240h")
    )
    later = NOW + dt.timedelta(days=340)
    plan = store.plan(
        cluster(caDuration="8760h", caRenewBefore="720h", certificateDuration="720h", renewBefore="240h"),
        now=later,
    )
    assert plan.rotation and "1/3" in plan.rotation


def test_a_lost_ca_secret_never_makes_members_distrust_each_other() -> None:
    store = Store()
    store.plan(cluster())
    del store.data[NAMES.ca_secret]
    states = _rotate(store, cluster())
    _no_trust_gap(states)
    assert len(states) >= 3


def test_a_renewal_asked_during_a_lost_ca_rotation_waits_for_a_signing_ca() -> None:
    store = Store()
    store.plan(cluster())
    del store.data[NAMES.ca_secret]
    before = store.member()[0]
    asked = cluster({ANNOTATION_RENEW: "r1"})
    started = store.plan(asked, settled=False)  # trusting a new CA; nothing can sign yet
    assert started.rotation and "1/3" in started.rotation
    assert store.member()[0] == before  # kept, not reissued (and no crash)
    states = _rotate(store, asked)
    _no_trust_gap(states)
    assert store.annotations[NAMES.tls_secret].get(ANNOTATION_RENEWED_FOR) == "r1"


def test_tls_disabled_plans_nothing() -> None:
    plan = plan_tls(
        cluster(enabled=False),
        NAMES,
        ca=None,
        member=None,
        client=None,
        now=NOW,
        is_settled=True,
    )
    assert plan == TlsPlan()


@pytest.mark.parametrize("broken", ["missing", "no-key", "wrong-key", "other-ca"])
def test_a_user_secret_is_checked_and_errors_name_the_field(broken: str) -> None:
    ca = new_ca("mine", now=NOW, validity=dt.timedelta(days=30))
    other = new_ca("other", now=NOW, validity=dt.timedelta(days=30))
    pair = issue(ca, "zk", now=NOW, validity=dt.timedelta(days=10), dns_names=["*.zk-headless.kafka.svc"])
    stray = issue(ca, "zk", now=NOW, validity=dt.timedelta(days=10))
    data: dict[str, str] | None = {"tls.crt": pair.cert_pem, "tls.key": pair.key_pem, "ca.crt": ca.cert_pem}
    if broken == "missing":
        data = None
    elif broken == "no-key":
        data = {"tls.crt": pair.cert_pem, "ca.crt": ca.cert_pem}
    elif broken == "wrong-key":
        data = {"tls.crt": pair.cert_pem, "tls.key": stray.key_pem, "ca.crt": ca.cert_pem}
    else:
        data = {"tls.crt": pair.cert_pem, "tls.key": pair.key_pem, "ca.crt": other.cert_pem}
    plan = plan_tls(
        cluster(secretName="mine"), NAMES, ca=None, member=data, client=None, now=NOW, is_settled=True
    )
    assert plan.error and plan.error.startswith("spec.tls.secretName: Secret mine")
    assert plan.writes == ()


def test_a_valid_user_secret_is_used_as_is() -> None:
    ca = new_ca("mine", now=NOW, validity=dt.timedelta(days=30))
    pair = issue(ca, "zk", now=NOW, validity=dt.timedelta(days=10))
    data = {"tls.crt": pair.cert_pem, "tls.key": pair.key_pem, "ca.crt": ca.cert_pem}
    plan = plan_tls(
        cluster(secretName="mine"), NAMES, ca=None, member=data, client=None, now=NOW, is_settled=True
    )
    assert plan.error is None and plan.writes == () and plan.member == pair and plan.fingerprint
