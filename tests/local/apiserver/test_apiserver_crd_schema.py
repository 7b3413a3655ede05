"""Custom resources go through their CRD's structural schema: defaulting, validation (422) and pruning
(silently, with a Warning header, or as a 400 under ``fieldValidation=Strict`` as kubectl sends)."""

from __future__ import annotations

from typing import Any

from apiserver_testlib import Http, cr

ZKCS = "/apis/example.com/v1/namespaces/default/zookeeperclusters"


async def test_defaults_are_applied_on_create(http: Http, crd: Any) -> None:
    body = cr("d")
    del body["spec"]["replicas"]
    status, _, created = await http.request("POST", ZKCS, json_body=body)
    assert status == 201 and created["spec"]["replicas"] == 3


async def test_invalid_values_are_422_with_causes(http: Http, crd: Any) -> None:
    status, headers, body = await http.request("POST", ZKCS, json_body=cr("bad", replicas=-1))
    assert status == 422 and headers["Content-Type"] == "application/json"
    assert body["reason"] == "Invalid" and body["details"]["kind"] == "ZooKeeperCluster"
    assert [c["field"] for c in body["details"]["causes"]] == ["spec.replicas"]
    status, _, body = await http.request("POST", ZKCS, json_body=cr("bad", replicas="three"))
    assert status == 422


async def test_unknown_fields_are_pruned_with_a_warning(http: Http, crd: Any) -> None:
    status, headers, created = await http.request("POST", ZKCS, json_body=cr("p", bogus=1))
    assert status == 201 and "bogus" not in created["spec"]
    assert (
        'unknown field \\"spec.bogus\\"' in headers.get("Warning", "") or "spec.bogus" in headers["Warning"]
    )


async def test_strict_field_validation_rejects_unknown_fields(http: Http, crd: Any) -> None:
    status, _, body = await http.request("POST", f"{ZKCS}?fieldValidation=Strict", json_body=cr("s", bogus=1))
    assert status == 400 and 'unknown field "spec.bogus"' in body["message"]


async def test_validation_applies_to_patches_too(http: Http, crd: Any) -> None:
    await http.request("POST", ZKCS, json_body=cr("q"))
    status, _, body = await http.request(
        "PATCH",
        f"{ZKCS}/q",
        json_body={"spec": {"replicas": -5}},
        content_type="application/merge-patch+json",
    )
    assert status == 422 and body["details"]["causes"][0]["field"] == "spec.replicas"


async def test_scale_subresource_of_a_custom_resource(http: Http, crd: Any) -> None:
    await http.request("POST", ZKCS, json_body=cr("sc", replicas=3))
    status, _, scale = await http.request("GET", f"{ZKCS}/sc/scale")
    assert status == 200 and scale["kind"] == "Scale" and scale["spec"]["replicas"] == 3
    status, _, scale = await http.request(
        "PATCH",
        f"{ZKCS}/sc/scale",
        json_body={"spec": {"replicas": 5}},
        content_type="application/merge-patch+json",
    )
    assert status == 200 and scale["spec"]["replicas"] == 5
    _, _, obj = await http.request("GET", f"{ZKCS}/sc")
    assert obj["spec"]["replicas"] == 5 and obj["metadata"]["generation"] == 2
