"""Rendering: every object valid against the official schemas, golden files, and its invariants."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.render.cases import CASES
from zkop.api.validation import parse_cluster
from zkop.render import render
from zkop.render.names import ANNOTATION_RESTART_HASH, RenderOptions
from zkop.zookeeper.membership import Member, Membership, parse_membership

GOLDEN = Path(__file__).parent / "golden"
KUBERNETES_VERSIONS = ["1.29.0", "1.33.0", "1.37.0"]


def rendered_objects(case: dict[str, Any], password: str | None = None) -> list[dict[str, Any]]:
    result = render(parse_cluster(case), superuser_password=password)
    return [result.superuser_secret, *result.objects]


def kind(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == name)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_rendered_object_is_valid_in_strict_mode(case: str, version: str) -> None:
    for obj in rendered_objects(CASES[case], password="s3cret"):
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendering_matches_the_golden_file(case: str) -> None:
    text = yaml.safe_dump_all(rendered_objects(CASES[case]), sort_keys=False)
    golden = GOLDEN / f"{case}.yaml"
    if os.environ.get("ZKOP_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert golden.exists(), f"missing {golden}: run with ZKOP_UPDATE_GOLDEN=1 and review the diff"
    assert text == golden.read_text(), f"{golden} differs: review, then ZKOP_UPDATE_GOLDEN=1 to accept"


def test_printed_secret_carries_no_credential() -> None:
    secret = rendered_objects(CASES["minimal"])[0]
    assert secret["kind"] == "Secret"
    assert "data" not in secret and "stringData" not in secret


def test_statefulset_lets_zkop_choose_restart_order_and_forms_in_parallel() -> None:
    sts = kind(rendered_objects(CASES["minimal"]), "StatefulSet")
    assert sts["spec"]["updateStrategy"] == {"type": "OnDelete"}
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert sts["spec"]["serviceName"] == "zk-headless"
    probe = sts["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]
    assert probe["httpGet"]["path"] == "/commands/monitor"  # serving, not merely alive (ruok)


def test_reclaim_policy_drives_the_claim_retention_policy() -> None:
    single = kind(rendered_objects(CASES["single-member"]), "StatefulSet")
    assert single["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Delete",
        "whenScaled": "Delete",
    }
    production = kind(rendered_objects(CASES["production"]), "StatefulSet")
    assert production["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Retain"


def test_peer_service_publishes_members_before_they_are_ready() -> None:
    objects = rendered_objects(CASES["minimal"])
    headless = next(o for o in objects if o["kind"] == "Service" and o["spec"].get("clusterIP") == "None")
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert {p["port"] for p in headless["spec"]["ports"]} == {2281, 2888, 3888, 8080}


def test_every_object_is_owned_by_the_cluster() -> None:
    for obj in rendered_objects(CASES["minimal"]):
        (owner,) = obj["metadata"]["ownerReferences"]
        assert owner["uid"] == CASES["minimal"]["metadata"]["uid"]
        assert owner["controller"] is True


def test_static_config_has_the_safety_switches_and_user_settings_but_no_membership() -> None:
    config_map = kind(rendered_objects(CASES["production"]), "ConfigMap")
    lines = config_map["data"]["zoo.cfg"].splitlines()
    assert "standaloneEnabled=false" in lines
    assert "reconfigEnabled=true" in lines
    assert "4lw.commands.whitelist=conf" in lines
    assert "admin.enableServer=true" in lines
    assert "maxClientCnxns=500" in lines
    assert not any(line.startswith(("server.", "skipACL", "dataDir", "clientPort")) for line in lines)


def test_dynamic_membership_lists_every_member_by_its_stable_dns_name() -> None:
    config_map = kind(rendered_objects(CASES["production"]), "ConfigMap")
    membership = parse_membership(config_map["data"]["zoo.cfg.dynamic"])
    assert membership.ids == (1, 2, 3, 4, 5)
    assert membership.get(1).host == "kafka-zk-0.kafka-zk-headless.kafka.svc.cluster.local"  # type: ignore[union-attr]
    assert "version" not in config_map["data"]["zoo.cfg.dynamic"]  # ZooKeeper refuses one inside the file


def test_jvm_heap_becomes_whole_mebibytes() -> None:
    sts = kind(rendered_objects(CASES["production"]), "StatefulSet")
    env = {e["name"]: e.get("value") for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["ZK_SERVER_HEAP"] == "1024"
    assert env["SERVER_JVMFLAGS"] == "-Xms1024m -Xmx1024m -XX:+UseG1GC -XX:MaxGCPauseMillis=50"


def _hash(case: dict[str, Any], **kwargs: Any) -> str:
    return render(parse_cluster(case), **kwargs).restart_hash


def _with_spec(**spec: Any) -> dict[str, Any]:
    case = dict(CASES["minimal"])
    case["spec"] = {**case["spec"], **spec}
    return case


def test_restart_hash_changes_with_what_needs_a_restart_only() -> None:
    base = _hash(CASES["minimal"])
    assert _hash(_with_spec(image="zookeeper:3.9.4")) != base
    assert _hash(_with_spec(jvm={"heap": "512Mi"})) != base
    assert _hash(_with_spec(config={"maxClientCnxns": 10})) != base
    assert _hash(_with_spec(resources={"limits": {"memory": "1Gi"}})) != base
    assert _hash(_with_spec(pod={"labels": {"a": "b"}})) != base
    # Membership and size are not restart triggers: members pick membership up from ZooKeeper.
    assert _hash(_with_spec(replicas=5)) == base
    other = Membership((Member(1, "x"), Member(2, "y")), version=0x100000003)
    assert _hash(CASES["minimal"], membership=other) == base
    restarted = dict(CASES["minimal"])
    restarted["metadata"] = {
        **restarted["metadata"],
        "annotations": {"zkop.io/restart-at": "2026-11-22T01:00:00Z"},
    }
    assert _hash(restarted) != base


def test_restart_hash_is_on_the_pod_template() -> None:
    result = render(parse_cluster(CASES["minimal"]))
    sts = next(o for o in result.objects if o["kind"] == "StatefulSet")
    assert sts["spec"]["template"]["metadata"]["annotations"][ANNOTATION_RESTART_HASH] == result.restart_hash


names = st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
config_values = st.one_of(st.integers(0, 10**6), st.from_regex(r"[A-Za-z0-9_.:/-]{1,20}", fullmatch=True))
config_keys = st.from_regex(r"[a-z][A-Za-z0-9.]{0,20}", fullmatch=True).filter(
    lambda k: not k.startswith(("server.", "group.", "weight.")) and k not in {"dataDir", "clientPort"}
)


@settings(max_examples=40, deadline=None)
@given(
    name=names,
    namespace=names,
    replicas=st.integers(1, 9),
    config=st.dictionaries(config_keys, config_values, max_size=4),
    domain=st.sampled_from(["cluster.local", "k8s.example"]),
)
def test_any_valid_spec_renders_valid_objects_with_consistent_membership(
    name: str, namespace: str, replicas: int, config: dict[str, Any], domain: str
) -> None:
    try:
        cluster = parse_cluster(
            {
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"replicas": replicas, "config": config},
            }
        )
    except ValueError:
        return  # a generated key zkop manages: refused, which other tests prove
    result = render(cluster, RenderOptions(cluster_domain=domain), superuser_password="pw")
    for obj in [result.superuser_secret, *result.objects]:
        kubernetes_validate.validate(obj, "1.37.0", strict=True)
    config_map = next(o for o in result.objects if o["kind"] == "ConfigMap")
    membership = parse_membership(config_map["data"]["zoo.cfg.dynamic"])
    assert membership.ids == tuple(range(1, replicas + 1))
    assert all(
        m.host == f"{name}-{m.id - 1}.{name}-headless.{namespace}.svc.{domain}" for m in membership.members
    )
    sts = next(o for o in result.objects if o["kind"] == "StatefulSet")
    assert sts["spec"]["replicas"] == replicas
    static = config_map["data"]["zoo.cfg"]
    for key, value in config.items():
        assert f"{key}={value}" in static.splitlines()


def test_the_disruption_budget_tracks_the_voting_members() -> None:
    def budget(case: dict[str, Any], membership: Membership | None = None) -> int:
        result = render(parse_cluster(case), membership=membership)
        pdb = next(o for o in result.objects if o["kind"] == "PodDisruptionBudget")
        return int(pdb["spec"]["maxUnavailable"])

    assert budget(CASES["minimal"]) == 1
    assert budget(CASES["production"]) == 1
    assert budget(CASES["single-member"]) == 0
    two = Membership((Member(1, "a"), Member(2, "b")), version=7)
    assert budget(CASES["minimal"], two) == 0  # mid scale-down to two voters: nothing to spare
