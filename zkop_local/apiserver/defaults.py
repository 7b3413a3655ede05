"""Server-side defaults for built-in kinds: only the ones controllers and clients here read back.

A real server defaults far more (every field in the Go types' SetDefaults_*). These are the fields whose
absence would make a controller or a ``kubectl diff`` behave differently from a real cluster.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import itertools
from collections.abc import Callable, Iterator
from typing import Any

from .meta import Obj, parse_time

_cluster_ips: Iterator[int] = itertools.count(int(ipaddress.IPv4Address("10.96.0.10")))


def _pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if isinstance(container, dict):
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            container.setdefault("imagePullPolicy", "IfNotPresent")
            for port in container.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def _pod(obj: Obj) -> None:
    _pod_spec(obj.setdefault("spec", {}))


def _template(obj: Obj) -> None:
    template = (obj.get("spec") or {}).get("template")
    if isinstance(template, dict):
        _pod_spec(template.setdefault("spec", {}))


def _statefulset(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    _template(obj)


def _deployment(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault(
        "strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    )
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template(obj)


def _replicaset(obj: Obj) -> None:
    obj.setdefault("spec", {}).setdefault("replicas", 1)
    _template(obj)


def _service(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    if spec["type"] != "ExternalName" and "clusterIP" not in spec:
        # A real server allocates from --service-cluster-ip-range; nothing routes these here.
        address = str(ipaddress.IPv4Address(next(_cluster_ips)))
        spec["clusterIP"] = address
    if "clusterIP" in spec and "clusterIPs" not in spec:
        spec["clusterIPs"] = [spec["clusterIP"]]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    spec.setdefault("internalTrafficPolicy", "Cluster")


def _namespace(obj: Obj) -> None:
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")
    labels = obj.setdefault("metadata", {}).setdefault("labels", {})
    labels.setdefault("kubernetes.io/metadata.name", obj["metadata"].get("name", ""))


def _secret(obj: Obj) -> None:
    """Like the real server: `stringData` is write-only, merged into `data` (base64), winning over it."""
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.setdefault("data", {}) or {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = data


def _pvc(obj: Obj) -> None:
    obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
    obj.setdefault("status", {}).setdefault("phase", "Pending")


_DEFAULTERS: dict[tuple[str, str], Callable[[Obj], None]] = {
    ("", "pods"): _pod,
    ("", "services"): _service,
    ("", "namespaces"): _namespace,
    ("", "secrets"): _secret,
    ("", "persistentvolumeclaims"): _pvc,
    ("apps", "statefulsets"): _statefulset,
    ("apps", "deployments"): _deployment,
    ("apps", "replicasets"): _replicaset,
}


def apply_defaults(storage: tuple[str, str], obj: Obj) -> None:
    """Fill defaults in place (on create and update, like the real server's defaulting on decode)."""
    defaulter = _DEFAULTERS.get(storage)
    if defaulter is not None:
        defaulter(obj)


def initial_status(storage: tuple[str, str]) -> dict[str, Any] | None:
    """The status a freshly created object gets when its status is a subresource (clients cannot set it)."""
    if storage == ("", "pods"):
        return {"phase": "Pending", "qosClass": "BestEffort"}
    if storage == ("", "namespaces"):
        return {"phase": "Active"}
    if storage == ("", "persistentvolumeclaims"):
        return {"phase": "Pending"}
    return None


def _time(value: Any, *, micro: bool) -> Any:
    """Re-render a client timestamp the way the server serializes metav1.Time / MicroTime (UTC, ``Z``)."""
    if not isinstance(value, str) or not value:
        return value
    try:
        moment = parse_time(value)
    except ValueError:
        return value
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def normalize_times(storage: tuple[str, str], obj: Obj) -> None:
    """Events (kopf sends ``+00:00`` offsets and microseconds) and Leases carry client timestamps."""
    if storage == ("", "events"):
        for key in ("firstTimestamp", "lastTimestamp"):
            if key in obj:
                obj[key] = _time(obj[key], micro=False)
        if "eventTime" in obj:
            obj["eventTime"] = _time(obj["eventTime"], micro=True)
    elif storage == ("coordination.k8s.io", "leases"):
        spec = obj.get("spec")
        if isinstance(spec, dict):
            for key in ("acquireTime", "renewTime"):
                if key in spec:
                    spec[key] = _time(spec[key], micro=True)
