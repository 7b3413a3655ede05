"""EndpointSlice and Endpoints decisions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.local.controllers.factories import ready_status, service
from zkop_local.controllers.actions import Create, Delete, Patch
from zkop_local.controllers.endpoints import decide_endpoint_slices, decide_endpoints, desired_slices
from zkop_local.controllers.objects import Obj

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def pod(
    name: str,
    ip: str,
    *,
    ready: bool = True,
    port: int = 2181,
    terminating: bool = False,
    labels: dict[str, str] | None = None,
) -> Obj:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "ns",
        "uid": f"u-{name}",
        "labels": labels or {"app": "zk"},
    }
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {
            "hostname": name,
            "subdomain": "zk-hs",
            "nodeName": "local",
            "containers": [{"name": "zk", "ports": [{"name": "client", "containerPort": port}]}],
        },
        "status": ready_status(ip, ready),
    }


def test_slice_shape_follows_the_endpointslice_controller() -> None:
    svc = service()
    svc["metadata"]["uid"] = "svc-uid"
    actions = decide_endpoint_slices(svc, [pod("zk-0", "10.0.0.1"), pod("zk-1", "10.0.0.2", ready=False)], [])
    assert len(actions) == 1 and isinstance(actions[0], Create)
    body = actions[0].body
    assert body["metadata"]["generateName"] == "zk-hs-"
    assert body["metadata"]["labels"] == {
        "kubernetes.io/service-name": "zk-hs",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        "service.kubernetes.io/headless": "",
    }
    assert body["metadata"]["ownerReferences"][0]["uid"] == "svc-uid"
    assert body["addressType"] == "IPv4"
    assert body["ports"] == [{"name": "client", "port": 2181, "protocol": "TCP"}]
    first, second = body["endpoints"]
    assert first == {
        "addresses": ["10.0.0.1"],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "targetRef": {"kind": "Pod", "namespace": "ns", "name": "zk-0", "uid": "u-zk-0"},
        "hostname": "zk-0",
        "nodeName": "local",
    }
    assert second["conditions"] == {"ready": False, "serving": False, "terminating": False}


def test_publish_not_ready_addresses_marks_every_endpoint_ready() -> None:
    svc = service(publish=True)
    [(_, endpoints)] = desired_slices(
        svc, [pod("zk-0", "10.0.0.1", ready=False), pod("zk-1", "10.0.0.2", terminating=True)]
    )
    assert [e["conditions"]["ready"] for e in endpoints] == [True, True]
    assert endpoints[1]["conditions"]["terminating"] is True


def test_named_target_ports_split_pods_with_different_numbers() -> None:
    slices = desired_slices(service(), [pod("zk-0", "10.0.0.1"), pod("zk-1", "10.0.0.2", port=3181)])
    assert sorted(ports[0]["port"] for ports, _ in slices) == [2181, 3181]


def test_existing_slice_is_patched_not_replaced_and_extras_go() -> None:
    svc = service()
    existing: dict[str, Any] = {
        "metadata": {
            "name": "zk-hs-abcde",
            "namespace": "ns",
            "labels": {
                "kubernetes.io/service-name": "zk-hs",
                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                "service.kubernetes.io/headless": "",
            },
        },
        "ports": [{"name": "client", "port": 2181, "protocol": "TCP"}],
        "endpoints": [],
    }
    extra = {
        "metadata": {"name": "zk-hs-zzzzz", "namespace": "ns", "labels": existing["metadata"]["labels"]},
        "ports": [{"name": "client", "port": 9999, "protocol": "TCP"}],
        "endpoints": [],
    }
    actions = decide_endpoint_slices(svc, [pod("zk-0", "10.0.0.1")], [existing, extra])
    assert [type(a) for a in actions] == [Patch, Delete]
    assert isinstance(actions[0], Patch) and actions[0].name == "zk-hs-abcde"
    # Nothing to do when it already matches.
    existing["endpoints"] = actions[0].patch["endpoints"]
    assert decide_endpoint_slices(svc, [pod("zk-0", "10.0.0.1")], [existing]) == []


def test_pods_without_ip_or_finished_or_unselected_are_left_out() -> None:
    no_ip = pod("zk-0", "x")
    no_ip["status"].pop("podIP")
    failed = pod("zk-1", "10.0.0.2")
    failed["status"]["phase"] = "Failed"
    other = pod("web-0", "10.0.0.3", labels={"app": "web"})
    assert desired_slices(service(), [no_ip, failed, other]) == []


def test_legacy_endpoints_split_ready_and_not_ready_addresses() -> None:
    svc = service()
    pods = [
        pod("zk-0", "10.0.0.1"),
        pod("zk-1", "10.0.0.2", ready=False),
        pod("zk-2", "10.0.0.3", terminating=True),
    ]
    [create] = decide_endpoints(svc, pods, None, NOW)
    assert isinstance(create, Create)
    [subset] = create.body["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == ["10.0.0.1"]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.0.0.2"]
    assert subset["addresses"][0]["hostname"] == "zk-0"
    assert subset["ports"] == [{"name": "client", "port": 2181, "protocol": "TCP"}]
    published = decide_endpoints(service(publish=True), pods, None, NOW)[0]
    assert isinstance(published, Create)
    assert [a["ip"] for a in published.body["subsets"][0]["addresses"]] == [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
    ]
