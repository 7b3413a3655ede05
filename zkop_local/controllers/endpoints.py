"""EndpointSlice and legacy Endpoints controllers (note §9).

For every Service with a selector: the selected pods that have an IP, grouped by the ports the
Service's targetPorts resolve to on each pod, become EndpointSlices (up to 100 endpoints each) and
one ``v1/Endpoints`` object of the Service's name.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from .actions import Action, Create, Delete, Patch
from .loop import Controller
from .objects import (
    Obj,
    format_time,
    is_pod_finished,
    is_pod_ready,
    is_terminating,
    labels_of,
    map_selector_matches,
    name_of,
    namespace_of,
    owner_ref,
    spec_of,
    status_of,
    uid_of,
)
from .resources import ENDPOINT_SLICE, ENDPOINTS, POD, SERVICE

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"
ENDPOINTS_MANAGED_BY_LABEL = "endpoints.kubernetes.io/managed-by"
ENDPOINTS_MANAGED_BY = "endpoint-controller"
TRIGGER_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"
MAX_ENDPOINTS_PER_SLICE = 100


def _is_headless(svc: Obj) -> bool:
    return spec_of(svc).get("clusterIP") == "None"


def is_managed(svc: Obj) -> bool:
    spec = spec_of(svc)
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


def _container_port(pod: Obj, port_name: str, protocol: str) -> int | None:
    for container in spec_of(pod).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == port_name and (port.get("protocol") or "TCP") == protocol:
                return int(port["containerPort"])
    return None


def resolve_ports(svc: Obj, pod: Obj) -> tuple[tuple[str, int, str, str], ...]:
    """(name, port, protocol, appProtocol) per Service port as it lands on ``pod``.

    A named targetPort is looked up among the pod's container ports; a pod without it simply does not
    offer that port (Kubernetes logs and skips it the same way).
    """
    result = []
    for sp in spec_of(svc).get("ports") or []:
        protocol = sp.get("protocol") or "TCP"
        target = sp.get("targetPort", sp.get("port"))
        if isinstance(target, str) and not target.isdigit():
            number = _container_port(pod, target, protocol)
            if number is None:
                continue
        else:
            number = int(target if target is not None else sp.get("port"))
        result.append((str(sp.get("name") or ""), number, protocol, str(sp.get("appProtocol") or "")))
    return tuple(result)


def _slice_ports(ports: tuple[tuple[str, int, str, str], ...]) -> list[dict[str, Any]]:
    out = []
    for name, number, protocol, app in ports:
        port: dict[str, Any] = {"name": name, "port": number, "protocol": protocol}
        if app:
            port["appProtocol"] = app
        out.append(port)
    return out


def _target_ref(pod: Obj) -> dict[str, Any]:
    return {"kind": "Pod", "namespace": namespace_of(pod), "name": name_of(pod), "uid": uid_of(pod)}


def _hostname(svc: Obj, pod: Obj) -> str | None:
    spec = spec_of(pod)
    if (
        spec.get("hostname")
        and spec.get("subdomain") == name_of(svc)
        and namespace_of(pod) == namespace_of(svc)
    ):
        return str(spec["hostname"])
    return None


def selected_pods(svc: Obj, pods: list[Obj]) -> list[Obj]:
    selector = spec_of(svc).get("selector") or {}
    return sorted(
        (
            p
            for p in pods
            if namespace_of(p) == namespace_of(svc)
            and map_selector_matches(selector, labels_of(p))
            and status_of(p).get("podIP")
            and not is_pod_finished(p)
        ),
        key=name_of,
    )


def endpoint_for(svc: Obj, pod: Obj) -> dict[str, Any]:
    serving = is_pod_ready(pod)
    terminating = is_terminating(pod)
    publish = bool(spec_of(svc).get("publishNotReadyAddresses"))
    endpoint: dict[str, Any] = {
        "addresses": [status_of(pod)["podIP"]],
        "conditions": {
            "ready": publish or (serving and not terminating),
            "serving": serving,
            "terminating": terminating,
        },
        "targetRef": _target_ref(pod),
    }
    hostname = _hostname(svc, pod)
    if hostname:
        endpoint["hostname"] = hostname
    node = spec_of(pod).get("nodeName")
    if node:
        endpoint["nodeName"] = node
    return endpoint


def _slice_labels(svc: Obj) -> dict[str, str]:
    labels = {k: v for k, v in labels_of(svc).items() if k not in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL)}
    labels[SERVICE_NAME_LABEL] = name_of(svc)
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    if _is_headless(svc):
        labels[HEADLESS_LABEL] = ""
    else:
        labels.pop(HEADLESS_LABEL, None)
    return labels


def desired_slices(svc: Obj, pods: list[Obj]) -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """(ports, endpoints) per slice: one group per distinct resolved port set, chunked at 100."""
    groups: dict[tuple[tuple[str, int, str, str], ...], list[dict[str, Any]]] = defaultdict(list)
    for pod in selected_pods(svc, pods):
        groups[resolve_ports(svc, pod)].append(endpoint_for(svc, pod))
    result = []
    for ports, endpoints in sorted(groups.items()):
        for i in range(0, len(endpoints), MAX_ENDPOINTS_PER_SLICE):
            result.append((_slice_ports(ports), endpoints[i : i + MAX_ENDPOINTS_PER_SLICE]))
    return result


def decide_endpoint_slices(svc: Obj, pods: list[Obj], slices: list[Obj]) -> list[Action]:
    """Make the Service's controller-managed slices equal to ``desired_slices``.

    Existing slices are reused when their ports match, so a readiness change is one patch, not a
    delete+create that would make clients briefly see no endpoints.
    """
    ns = namespace_of(svc)
    mine = sorted(
        (
            s
            for s in slices
            if namespace_of(s) == ns
            and labels_of(s).get(SERVICE_NAME_LABEL) == name_of(svc)
            and labels_of(s).get(MANAGED_BY_LABEL) == MANAGED_BY
        ),
        key=name_of,
    )
    labels = _slice_labels(svc)
    ref = owner_ref(svc)
    actions: list[Action] = []
    unused = list(mine)
    for ports, endpoints in desired_slices(svc, pods):
        existing = next((s for s in unused if (s.get("ports") or []) == ports), None)
        if existing is None:
            body = {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "generateName": f"{name_of(svc)}-",
                    "namespace": ns,
                    "labels": labels,
                    "ownerReferences": [ref],
                },
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": ports,
            }
            actions.append(Create(ENDPOINT_SLICE, body, reason="new port set"))
            continue
        unused.remove(existing)
        patch: dict[str, Any] = {}
        if (existing.get("endpoints") or []) != endpoints:
            patch["endpoints"] = endpoints
        if labels_of(existing) != labels:
            patch.setdefault("metadata", {})["labels"] = {
                **{k: None for k in labels_of(existing) if k not in labels},
                **labels,
            }
        if patch:
            actions.append(Patch(ENDPOINT_SLICE, ns, name_of(existing), patch, reason="endpoints changed"))
    # With no pods at all, Kubernetes keeps one empty slice (so clients can tell "none" from "unknown").
    if not desired_slices(svc, pods) and mine:
        keep = mine[0]
        unused = [s for s in unused if s is not keep]
        if keep.get("endpoints"):
            actions.append(Patch(ENDPOINT_SLICE, ns, name_of(keep), {"endpoints": []}, reason="no endpoints"))
    elif not desired_slices(svc, pods) and not mine:
        body = {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "generateName": f"{name_of(svc)}-",
                "namespace": ns,
                "labels": labels,
                "ownerReferences": [ref],
            },
            "addressType": "IPv4",
            "endpoints": [],
            "ports": [],
        }
        actions.append(Create(ENDPOINT_SLICE, body, reason="placeholder slice"))
    for stale in unused:
        actions.append(Delete(ENDPOINT_SLICE, ns, name_of(stale), reason="port set gone"))
    return actions


def desired_subsets(svc: Obj, pods: list[Obj]) -> list[dict[str, Any]]:
    publish = bool(spec_of(svc).get("publishNotReadyAddresses"))
    groups: dict[tuple[tuple[str, int, str, str], ...], dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: {"addresses": [], "notReadyAddresses": []}
    )
    for pod in selected_pods(svc, pods):
        if is_terminating(pod) and not publish:
            continue
        address: dict[str, Any] = {"ip": status_of(pod)["podIP"], "targetRef": _target_ref(pod)}
        hostname = _hostname(svc, pod)
        if hostname:
            address["hostname"] = hostname
        if spec_of(pod).get("nodeName"):
            address["nodeName"] = spec_of(pod)["nodeName"]
        bucket = "addresses" if publish or is_pod_ready(pod) else "notReadyAddresses"
        groups[resolve_ports(svc, pod)][bucket].append(address)
    subsets = []
    for ports, buckets in sorted(groups.items()):
        subset: dict[str, Any] = {k: v for k, v in buckets.items() if v}
        subset["ports"] = [{k: v for k, v in p.items()} for p in _slice_ports(ports)]
        subsets.append(subset)
    return subsets


def decide_endpoints(svc: Obj, pods: list[Obj], existing: Obj | None, now: dt.datetime) -> list[Action]:
    ns = namespace_of(svc)
    subsets = desired_subsets(svc, pods)
    labels: dict[str, str] = {**labels_of(svc), ENDPOINTS_MANAGED_BY_LABEL: ENDPOINTS_MANAGED_BY}
    if _is_headless(svc):
        labels[HEADLESS_LABEL] = ""
    if existing is None:
        body = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": name_of(svc),
                "namespace": ns,
                "labels": labels,
                "annotations": {TRIGGER_ANNOTATION: format_time(now)},
            },
            "subsets": subsets,
        }
        return [Create(ENDPOINTS, body, reason="service has a selector")]
    if (existing.get("subsets") or []) == subsets and labels_of(existing) == labels:
        return []
    patch = {
        "metadata": {
            "labels": {**{k: None for k in labels_of(existing) if k not in labels}, **labels},
            "annotations": {TRIGGER_ANNOTATION: format_time(now)},
        },
        "subsets": subsets,
    }
    return [Patch(ENDPOINTS, ns, name_of(svc), patch, reason="endpoints changed")]


class EndpointSliceController(Controller):
    name = "endpointslice"
    watches = (SERVICE, POD, ENDPOINT_SLICE)

    def plans(self, now: dt.datetime) -> list[list[Action]]:
        pods_by_ns: dict[str, list[Obj]] = defaultdict(list)
        for pod in self.store.list(POD):
            pods_by_ns[namespace_of(pod)].append(pod)
        slices = self.store.list(ENDPOINT_SLICE)
        return [
            decide_endpoint_slices(svc, pods_by_ns[namespace_of(svc)], slices)
            for svc in self.store.list(SERVICE)
            if is_managed(svc) and not is_terminating(svc)
        ]


class EndpointsController(Controller):
    name = "endpoints"
    watches = (SERVICE, POD, ENDPOINTS)

    def plans(self, now: dt.datetime) -> list[list[Action]]:
        pods_by_ns: dict[str, list[Obj]] = defaultdict(list)
        for pod in self.store.list(POD):
            pods_by_ns[namespace_of(pod)].append(pod)
        services = {(namespace_of(s), name_of(s)): s for s in self.store.list(SERVICE)}
        plans: list[list[Action]] = []
        for key, svc in services.items():
            if is_managed(svc) and not is_terminating(svc):
                plans.append(decide_endpoints(svc, pods_by_ns[key[0]], self.store.get(ENDPOINTS, *key), now))
        # Endpoints have no owner reference; the controller removes the ones it wrote once the
        # Service is gone (and leaves hand-written ones for selectorless Services alone).
        for ep in self.store.list(ENDPOINTS):
            key = (namespace_of(ep), name_of(ep))
            if labels_of(ep).get(ENDPOINTS_MANAGED_BY_LABEL) == ENDPOINTS_MANAGED_BY and (
                key not in services or not is_managed(services[key])
            ):
                plans.append([Delete(ENDPOINTS, key[0], key[1], reason="service gone")])
        return plans
