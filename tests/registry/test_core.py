"""The pure registry core: selection, layouts, deterministic ids, and the diff's guarantees."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from hypothesis import given, settings
from hypothesis import strategies as st

from zkop.api.export import ZookeeperServiceExport
from zkop.registry import ledger
from zkop.registry.desired import desired_registry
from zkop.registry.diff import apply, diff
from zkop.registry.formats import instance_id, java_url_encode

UID = "6f1c9a8e-0000-4000-8000-000000000001"


def export(**spec: Any) -> ZookeeperServiceExport:
    return ZookeeperServiceExport.model_validate(
        {
            "metadata": {"name": "web-export", "namespace": "shop", "uid": UID},
            "spec": {"clusterRef": {"name": "zk"}, "labelSelector": {}, **spec},
        }
    )


def service(name: str, annotations: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": extra.pop("namespace", "shop"),
            "labels": extra.pop("labels", {"app": name}),
            "annotations": annotations or {},
            "creationTimestamp": "2024-01-02T03:04:05Z",
        },
        "spec": {"ports": extra.pop("ports", [{"name": "http", "port": 80, "targetPort": 8080}])},
    }


def endpoint_slice(
    service_name: str, ready: list[str], not_ready: tuple[str, ...] = (), port: int = 8080
) -> dict[str, Any]:
    endpoints = [{"addresses": [a], "conditions": {"ready": True}} for a in ready]
    endpoints += [{"addresses": [a], "conditions": {"ready": False}} for a in not_ready]
    return {
        "metadata": {
            "name": f"{service_name}-abc",
            "namespace": "shop",
            "labels": {"kubernetes.io/service-name": service_name},
        },
        "addressType": "IPv4",
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": endpoints,
    }


def test_curator_layout_lists_only_ready_endpoints_as_service_instances() -> None:
    desired = desired_registry(
        export(), [service("web")], [endpoint_slice("web", ["10.0.0.1", "10.0.0.2"], ("10.0.0.3",))]
    )
    assert desired.services == ("shop/web",)
    assert desired.endpoints == 2
    assert len(desired.nodes) == 2
    for path, data in desired.nodes.items():
        parent, child = ledger.split(path)
        assert parent == "/services/web"
        instance = json.loads(data)
        assert instance["id"] == child
        assert instance["name"] == "web"
        assert instance["port"] == 8080
        assert instance["payload"] is None
        assert instance["serviceType"] == "STATIC"
        assert instance["registrationTimeUTC"] == 1704164645000
    addresses = sorted(json.loads(d)["address"] for d in desired.nodes.values())
    assert addresses == ["10.0.0.1", "10.0.0.2"]


def test_spring_cloud_payload_carries_metadata_and_the_owner() -> None:
    desired = desired_registry(
        export(formats=[{"type": "curator", "springCloud": True}]),
        [service("web", {"zkop.io/meta-zone": "a", "zkop.io/export-name": "webapp"})],
        [endpoint_slice("web", ["10.0.0.1"])],
    )
    ((path, data),) = desired.nodes.items()
    assert path.startswith("/services/webapp/")
    payload = json.loads(data)["payload"]
    assert payload["@class"] == "org.springframework.cloud.zookeeper.discovery.ZookeeperInstance"
    assert payload["metadata"] == {"zone": "a", "zkop.io/owner": "shop/web-export"}


def test_dubbo_layout_encodes_the_provider_url_in_the_node_name_with_empty_data() -> None:
    desired = desired_registry(
        export(formats=[{"type": "dubbo"}]),
        [service("demo", {"zkop.io/dubbo-interface": "org.apache.demo.DemoService"})],
        [endpoint_slice("demo", ["10.0.0.5"], port=20880)],
    )
    ((path, data),) = desired.nodes.items()
    assert data == b""
    prefix = "/dubbo/org.apache.demo.DemoService/providers/"
    assert path.startswith(prefix)
    url = unquote_plus(path[len(prefix) :])
    assert url.startswith("dubbo://10.0.0.5:20880/org.apache.demo.DemoService?")
    assert "interface=org.apache.demo.DemoService" in url and "dynamic=false" in url
    assert "/" not in path[len(prefix) :]


def test_java_url_encoding_matches_urlencoder() -> None:
    # Values from java.net.URLEncoder.encode(s, "UTF-8").
    assert java_url_encode("dubbo://a:1/x?k=v&y=z~*") == "dubbo%3A%2F%2Fa%3A1%2Fx%3Fk%3Dv%26y%3Dz%7E*"
    assert java_url_encode("a b") == "a+b"


def test_serverset_layout_marks_unready_endpoints_starting() -> None:
    desired = desired_registry(
        export(formats=[{"type": "serverset"}]),
        [service("web")],
        [endpoint_slice("web", ["10.0.0.1"], ("10.0.0.2",))],
    )
    statuses = {
        json.loads(d)["serviceEndpoint"]["host"]: json.loads(d)["status"] for d in desired.nodes.values()
    }
    assert statuses == {"10.0.0.1": "ALIVE", "10.0.0.2": "STARTING"}
    assert all(ledger.split(p)[1].startswith("member_") for p in desired.nodes)
    assert desired.endpoints == 1


def test_selection_opt_in_opt_out_and_label_selector() -> None:
    services = [
        service("a"),
        service("b", {"zkop.io/export": "false"}),
        service("c", {"zkop.io/export": "true"}, labels={"tier": "x"}),
        service("d", namespace="elsewhere"),
    ]
    slices = [endpoint_slice(n, ["10.0.0.1"]) for n in "abcd"]
    assert desired_registry(export(), services, slices).services == ("shop/a", "shop/c")
    only_opt_in = export(labelSelector=None)
    assert desired_registry(only_opt_in, services, slices).services == ("shop/c",)
    by_label = export(labelSelector={"matchExpressions": [{"key": "app", "operator": "In", "values": ["b"]}]})
    assert desired_registry(by_label, services, slices).services == ("shop/c",)


def test_export_port_annotation_picks_the_named_port_and_reports_a_bad_one() -> None:
    ports = [{"name": "admin", "port": 9000}, {"name": "http", "port": 80}]
    good = desired_registry(
        export(),
        [service("web", {"zkop.io/export-port": "80"}, ports=ports)],
        [endpoint_slice("web", ["10.0.0.1"])],
    )
    assert len(good.nodes) == 1
    bad = desired_registry(
        export(),
        [service("web", {"zkop.io/export-port": "nope"}, ports=ports)],
        [endpoint_slice("web", ["10.0.0.1"])],
    )
    assert not bad.nodes and "names no port" in bad.problems[0]


@given(
    st.text(min_size=1), st.text(min_size=1), st.text(min_size=1), st.ip_addresses(v=4), st.integers(1, 65535)
)
def test_instance_ids_are_deterministic_and_distinct_per_endpoint(
    uid: str, namespace: str, name: str, address: Any, port: int
) -> None:
    first = instance_id(uid, namespace, name, str(address), port)
    assert first == instance_id(uid, namespace, name, str(address), port)
    assert first != instance_id(uid, namespace, name, str(address), port % 65535 + 1)
    assert first != instance_id(uid + "x", namespace, name, str(address), port)


def test_the_same_listing_gives_byte_identical_nodes() -> None:
    args = ([service("web")], [endpoint_slice("web", ["10.0.0.1", "10.0.0.2"])])
    assert desired_registry(export(), *args).nodes == desired_registry(export(), *args).nodes


paths = st.builds(
    lambda p, c: f"/{p}/{c}",
    st.sampled_from(["services/a", "services/b", "dubbo/x/providers"]),
    st.text("abc123", min_size=1, max_size=4),
)
datas = st.binary(max_size=4)
desired_maps = st.dictionaries(paths, datas, max_size=12)
owned_maps = st.dictionaries(paths, st.none() | datas, max_size=12)


@settings(max_examples=300)
@given(desired_maps, owned_maps, st.sets(paths, max_size=6))
def test_diff_yields_exactly_the_changes_and_never_touches_foreign_nodes(
    desired: dict[str, bytes], owned: dict[str, bytes | None], foreign: set[str]
) -> None:
    foreign -= set(owned)  # a foreign node is one the ledger does not list
    changes = diff(desired, owned)
    # Applying the changes to what is owned gives exactly what is desired.
    assert apply(owned, changes) == desired
    # Minimal: nothing already right is rewritten, nothing is both created and deleted.
    for path in changes.updates:
        assert owned[path] is not None and owned[path] != desired[path]
    assert not (set(changes.creates) & set(owned))
    assert set(changes.deletes) | set(changes.forgets) == set(owned) - set(desired)
    touched = set(changes.creates) | set(changes.recreates) | set(changes.updates) | changes.deletes
    unchanged = {p for p in desired if owned.get(p) == desired[p]}
    assert not (touched & unchanged)
    # Foreign nodes are never deleted, updated or forgotten.
    assert not (foreign & (changes.deletes | changes.forgets | set(changes.updates)))
    # Applying twice changes nothing more.
    assert diff(desired, apply(owned, changes)).empty


@given(desired_maps)
def test_everything_owned_goes_when_nothing_is_desired(owned: dict[str, bytes]) -> None:
    changes = diff({}, owned)
    assert changes.deletes == frozenset(owned) and not changes.creates
    assert apply(owned, changes) == {}


def test_ledger_parent_keys_round_trip_paths_with_percent_signs() -> None:
    path = "/dubbo/org.x%2FY/providers/dubbo%3A%2F%2Fa"
    parent, child = ledger.split(path)
    key = ledger.ledger_parent(UID, path).rsplit("/", 1)[1]
    assert "/" not in key and ledger.parent_of_key(key) == parent
    assert ledger.entry(UID, path).endswith("/" + child)
