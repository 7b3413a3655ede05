"""The members' NetworkPolicy: its structure, the official schema, the local API server accepting it,
and (property) that the quorum ports admit nothing but the cluster's own members, evaluated with the
NetworkPolicy semantics themselves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lightkube import AsyncClient, KubeConfig
from lightkube.codecs import from_dict
from lightkube.resources.networking_v1 import NetworkPolicy
from pydantic import ValidationError

from zkop.api.crd import structural_schema
from zkop.api.network_policy import NetworkPolicySpec, PeerSelector
from zkop.render.names import ClusterNames
from zkop.render.network_policy import network_policy
from zkop.zookeeper.membership import ADMIN_PORT, CLIENT_PORT, ELECTION_PORT, QUORUM_PORT, SECURE_CLIENT_PORT
from zkop_local.apiserver import ApiServer

KUBERNETES_VERSIONS = ["1.29.0", "1.33.0", "1.37.0"]
NAMES = ClusterNames("zk", "kafka", "cluster.local")
MEMBERS = {"app.kubernetes.io/name": "zookeeper", "app.kubernetes.io/instance": "zk"}
QUORUM = [QUORUM_PORT, ELECTION_PORT]


def render(spec: NetworkPolicySpec | None = None, client_ports: list[int] | None = None) -> dict[str, Any]:
    return network_policy(
        NAMES,
        spec or NetworkPolicySpec(),
        client_ports=client_ports or [SECURE_CLIENT_PORT],
        admin_port=ADMIN_PORT,
        quorum_ports=QUORUM,
        member_labels=MEMBERS,
    )


def rule_for(policy: dict[str, Any], port: int) -> dict[str, Any]:
    (rule,) = [r for r in policy["spec"]["ingress"] if port in {p["port"] for p in r["ports"]}]
    return rule


SELECTED = NetworkPolicySpec.model_validate(
    {
        "clients": [
            {"podSelector": {"matchLabels": {"app": "kafka"}}},
            {
                "namespaceSelector": {"matchLabels": {"team": "streaming"}},
                "podSelector": {"matchExpressions": [{"key": "zk-client", "operator": "Exists"}]},
            },
        ],
        "operatorSelector": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "zkop"}},
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "zkop-system"}},
        },
    }
)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("spec", [NetworkPolicySpec(), SELECTED], ids=["defaults", "selected"])
def test_the_policy_is_valid_in_strict_mode(spec: NetworkPolicySpec, version: str) -> None:
    kubernetes_validate.validate(render(spec, [SECURE_CLIENT_PORT, CLIENT_PORT]), version, strict=True)


def test_members_are_selected_for_ingress_only() -> None:
    policy = render()
    assert policy["apiVersion"] == "networking.k8s.io/v1" and policy["kind"] == "NetworkPolicy"
    assert policy["metadata"] == {"name": "zk", "namespace": "kafka", "labels": NAMES.labels()}
    assert policy["spec"]["podSelector"] == {"matchLabels": MEMBERS}
    assert policy["spec"]["policyTypes"] == ["Ingress"]


def test_quorum_and_election_only_from_members_of_the_same_cluster() -> None:
    rule = rule_for(render(SELECTED), QUORUM_PORT)
    assert rule == {
        "from": [{"podSelector": {"matchLabels": MEMBERS}}],  # no namespaceSelector: this namespace only
        "ports": [{"protocol": "TCP", "port": QUORUM_PORT}, {"protocol": "TCP", "port": ELECTION_PORT}],
    }


def test_clients_default_to_the_cluster_namespace_and_the_operator() -> None:
    rule = rule_for(render(), SECURE_CLIENT_PORT)
    assert rule["from"] == [
        {"podSelector": {}},
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "zkop"}}, "namespaceSelector": {}},
    ]
    assert rule["ports"] == [{"protocol": "TCP", "port": SECURE_CLIENT_PORT}]


def test_selected_clients_replace_the_namespace_and_plaintext_port_is_listed_when_kept() -> None:
    rule = rule_for(render(SELECTED, [SECURE_CLIENT_PORT, CLIENT_PORT]), CLIENT_PORT)
    assert {"podSelector": {}} not in rule["from"]
    assert rule["from"][0] == {"podSelector": {"matchLabels": {"app": "kafka"}}}
    assert rule["from"][-1]["namespaceSelector"] == {
        "matchLabels": {"kubernetes.io/metadata.name": "zkop-system"}
    }
    assert {p["port"] for p in rule["ports"]} == {CLIENT_PORT, SECURE_CLIENT_PORT}


def test_admin_port_only_from_the_operator() -> None:
    rule = rule_for(render(SELECTED), ADMIN_PORT)
    assert rule == {
        "from": [SELECTED.operator.to_wire()],
        "ports": [{"protocol": "TCP", "port": ADMIN_PORT}],
    }


def test_a_quorum_port_shared_with_clients_is_refused() -> None:
    with pytest.raises(ValueError, match="2888"):
        render(client_ports=[QUORUM_PORT])
    with pytest.raises(ValueError, match="empty"):
        network_policy(
            NAMES,
            NetworkPolicySpec(),
            client_ports=[],
            admin_port=ADMIN_PORT,
            quorum_ports=QUORUM,
            member_labels=MEMBERS,
        )


def test_the_spec_refuses_a_peer_that_selects_nothing_and_bad_expressions() -> None:
    with pytest.raises(ValidationError, match="podSelector, namespaceSelector or both"):
        NetworkPolicySpec.model_validate({"clients": [{}]})
    with pytest.raises(ValidationError, match="needs at least one value"):
        PeerSelector.model_validate({"podSelector": {"matchExpressions": [{"key": "a", "operator": "In"}]}})
    with pytest.raises(ValidationError, match="takes no values"):
        PeerSelector.model_validate(
            {"podSelector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}}
        )
    with pytest.raises(ValidationError):
        NetworkPolicySpec.model_validate({"clients": [{"podSelector": {"matchLabel": {"a": "b"}}}]})


def defaulted(schema: Any, path: str = "") -> list[str]:
    """Every place in a CRD schema the API server would fill in."""
    if isinstance(schema, list):
        return [p for item in schema for p in defaulted(item, path)]
    if not isinstance(schema, dict):
        return []
    found = [path] if "default" in schema else []
    for key, sub in schema.items():
        if key == "properties":
            found += [p for name, node in sub.items() for p in defaulted(node, f"{path}.{name}")]
        elif key == "items":
            found += defaulted(sub, f"{path}[]")
    return found


def test_the_schema_defaults_nothing_the_api_server_would_turn_into_an_empty_selector() -> None:
    # A namespaceSelector defaulted to {} would admit the selected pods of every namespace.
    assert defaulted(structural_schema(NetworkPolicySpec)) == [".enabled"]
    assert NetworkPolicySpec.model_validate({}).operator == NetworkPolicySpec().operator
    assert NetworkPolicySpec().to_wire() == {"enabled": True, "clients": []}


async def test_the_local_api_server_stores_the_policy(tmp_path: Any) -> None:
    server = ApiServer()
    await server.start()
    client = AsyncClient(KubeConfig.from_file(str(server.kubeconfig(tmp_path / "kubeconfig"))))
    try:
        policy = render(SELECTED, [SECURE_CLIENT_PORT, CLIENT_PORT])
        policy["metadata"]["namespace"] = "default"
        await client.create(from_dict(policy))
        stored = (await client.get(NetworkPolicy, "zk", namespace="default")).to_dict()
        assert stored["spec"] == policy["spec"]
    finally:
        await client.close()
        await server.stop()


# -- property: quorum ports admit members only --------------------------------------------------------

KEYS = ["app", "team", "app.kubernetes.io/name", "app.kubernetes.io/instance", "kubernetes.io/metadata.name"]
VALUES = ["zookeeper", "zk", "zkop", "kafka", "kafka-zk", "x"]
labels = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=4)
expressions = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {
                "key": st.sampled_from(KEYS),
                "operator": st.sampled_from(["In", "NotIn"]),
                "values": st.lists(st.sampled_from(VALUES), min_size=1, max_size=3),
            }
        ),
        st.fixed_dictionaries(
            {"key": st.sampled_from(KEYS), "operator": st.sampled_from(["Exists", "DoesNotExist"])}
        ),
    ),
    max_size=2,
)
selectors = st.builds(
    lambda m, e: {**({"matchLabels": m} if m else {}), **({"matchExpressions": e} if e else {})},
    labels,
    expressions,
)
peers = st.one_of(
    st.fixed_dictionaries({"podSelector": selectors}),
    st.fixed_dictionaries({"namespaceSelector": selectors}),
    st.fixed_dictionaries({"podSelector": selectors, "namespaceSelector": selectors}),
)
specs = st.builds(
    lambda clients, operator: NetworkPolicySpec.model_validate(
        {"clients": clients, **({"operatorSelector": operator} if operator else {})}
    ),
    st.lists(peers, max_size=3),
    st.one_of(st.none(), peers),
)
ports = st.lists(st.integers(1, 65535), min_size=1, max_size=3)


@dataclass(frozen=True)
class Pod:
    namespace: str
    namespace_labels: dict[str, str]
    labels: dict[str, str]


pods = st.builds(
    Pod,
    st.sampled_from(["kafka", "default", "zkop-system"]),
    labels,
    st.one_of(labels, st.builds(lambda extra: {**extra, **MEMBERS}, labels)),
)


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """metav1.LabelSelector semantics; an empty selector matches everything."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def admits(policy: dict[str, Any], pod: Pod, port: int) -> bool:
    """Whether the policy lets `pod` connect to `port` of a selected member (NetworkPolicyPeer rules)."""
    namespace = policy["metadata"]["namespace"]
    for rule in policy["spec"]["ingress"]:
        if "ports" in rule and port not in {p["port"] for p in rule["ports"]}:
            continue
        if "from" not in rule:
            return True  # no peers listed: everyone
        for peer in rule["from"]:
            if "ipBlock" in peer:
                return True  # any address at all would do
            if "namespaceSelector" in peer:
                namespace_ok = matches(peer["namespaceSelector"], pod.namespace_labels)
            else:
                namespace_ok = pod.namespace == namespace
            if namespace_ok and matches(peer.get("podSelector", {}), pod.labels):
                return True
    return False


@settings(max_examples=300, deadline=None)
@given(spec=specs, client=ports, admin=st.integers(1, 65535), quorum=ports, pod=pods)
def test_quorum_ports_admit_nothing_but_the_cluster_members(
    spec: NetworkPolicySpec, client: list[int], admin: int, quorum: list[int], pod: Pod
) -> None:
    try:
        policy = network_policy(
            NAMES, spec, client_ports=client, admin_port=admin, quorum_ports=quorum, member_labels=MEMBERS
        )
    except ValueError:
        assert set(quorum) & {*client, admin}  # refused only for a shared port
        return
    kubernetes_validate.validate(policy, "1.37.0", strict=True)
    for rule in policy["spec"]["ingress"]:
        assert rule.get("from") and rule.get("ports")  # never "any peer" or "any port"
    member = pod.namespace == NAMES.namespace and all(pod.labels.get(k) == v for k, v in MEMBERS.items())
    for port in quorum:
        if admits(policy, pod, port):
            assert member, (pod, port)
    if member:
        assert all(admits(policy, pod, port) for port in quorum)
