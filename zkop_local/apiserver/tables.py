"""Server-side printing: ``Table`` and ``PartialObjectMetadata`` responses chosen by the ``Accept`` header.

kubectl asks for ``application/json;as=Table;v=v1;g=meta.k8s.io`` (then v1beta1, then plain JSON) on ``get``
and ``get -w``; the columns it prints are the server's. What a real server does, and this module copies:
- custom resources get Name plus the version's ``additionalPrinterColumns`` (a lone Age column when there
  are none), each evaluated with JSONPath; only the first match counts; ``date`` cells are human durations
  (``5m``), ``string`` cells print any value as text, other types need a value of that JSON type (else null);
- built-in kinds get the columns of kubernetes' ``pkg/printers/internalversion`` (always the wide set: the
  client hides ``priority > 0`` columns unless ``-o wide``); kinds without a printer here get Name and Age;
- ``row.object`` is a PartialObjectMetadata unless ``?includeObject=Object`` (the whole object) or ``None``;
- a Table watch carries one row per event, and column definitions only in the first event.
See the API semantics note, §5 "kubectl get and Table" and pitfall 14.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import errors, jsonpath
from .meta import Obj, now, parse_time
from .resources import ResourceType
from .selectors import selector_string

META_GROUP = "meta.k8s.io"
_VERSIONS = ("v1", "v1beta1")
_INCLUDE = ("", "Metadata", "Object", "None")

NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this "
    "value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for "
    "lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md"
    "#metadata"
)


# -- content negotiation ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rendering:
    """A transformed response: ``Table``, ``PartialObjectMetadata`` or ``PartialObjectMetadataList``."""

    kind: str
    version: str = "v1"

    @property
    def api_version(self) -> str:
        return f"{META_GROUP}/{self.version}"

    @property
    def content_type(self) -> str:
        return f"application/json;as={self.kind};v={self.version};g={META_GROUP}"


def negotiate(accept: str, verb: str) -> Rendering | None:
    """The first acceptable entry of ``accept`` for ``verb`` (get/list/watch); None means plain JSON.

    Entries this server cannot produce (protobuf, YAML, other ``as=`` kinds, a ``PartialObjectMetadataList``
    for a single object ...) are skipped like a real server skips them; when nothing fits, plain JSON is sent
    (a real server would answer 406).
    """
    for entry in accept.split(","):
        pieces = [p.strip() for p in entry.split(";")]
        media = pieces[0].lower()
        params: dict[str, str] = {}
        for piece in pieces[1:]:
            key, _, value = piece.partition("=")
            params[key.strip().lower()] = value.strip()
        params.pop("q", None)
        if media not in ("application/json", "application/*", "*/*"):
            continue
        kind = params.get("as")
        if kind is None:
            if not params.get("g") and not params.get("v"):
                return None
            continue
        if params.get("g") != META_GROUP or params.get("v") not in _VERSIONS:
            continue
        wanted = {"list": ("Table", "PartialObjectMetadataList")}.get(
            verb, ("Table", "PartialObjectMetadata")
        )
        if kind in wanted:
            return Rendering(kind, params["v"])
    return None


def include_object(rendering: Rendering, query: dict[str, str]) -> str:
    """The validated ``includeObject`` option (TableOptions); only Tables read it."""
    value = query.get("includeObject", "")
    if rendering.kind == "Table" and value not in _INCLUDE:
        raise errors.bad_request(f'unrecognized includeObject value: "{value}"')
    return value or "Metadata"


def response(rendering: Rendering, body: Obj) -> web.Response:
    answer = errors.json_response(body)
    answer.headers["Content-Type"] = rendering.content_type
    return answer


# -- the renderings -----------------------------------------------------------------------------------------


def partial(rendering: Rendering, obj: Obj) -> Obj:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": rendering.api_version,
        "metadata": obj.get("metadata") or {},
    }


def render_object(rendering: Rendering, rtype: ResourceType, obj: Obj, query: dict[str, str]) -> Obj:
    """A GET (or one watch event without the headers decision): ``obj`` as presented through ``rtype``."""
    if rendering.kind != "Table":
        return partial(rendering, obj)
    meta = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
    return table(rendering, rtype, [obj], meta, include_object(rendering, query))


def render_list(rendering: Rendering, rtype: ResourceType, listing: Obj, query: dict[str, str]) -> Obj:
    """A LIST response (``Api.list``'s result) as a Table or PartialObjectMetadataList."""
    items = [{"apiVersion": rtype.api_version, "kind": rtype.kind, **i} for i in listing.get("items") or []]
    meta = dict(listing.get("metadata") or {})
    if rendering.kind == "Table":
        return table(rendering, rtype, items, meta, include_object(rendering, query))
    return {
        "kind": "PartialObjectMetadataList",
        "apiVersion": rendering.api_version,
        "metadata": meta,
        "items": [partial(rendering, i) for i in items],
    }


class WatchRenderer:
    """Turns each watch event's object into a one-row Table (headers only in the first) or metadata."""

    def __init__(self, rendering: Rendering, rtype: ResourceType, query: dict[str, str]) -> None:
        self.rendering = rendering
        self.rtype = rtype
        self.include = include_object(rendering, query)
        self.headers = True

    def __call__(self, obj: Obj) -> Obj:
        if self.rendering.kind != "Table":
            return partial(self.rendering, obj)
        meta = {"resourceVersion": (obj.get("metadata") or {}).get("resourceVersion", "")}
        rendered = table(self.rendering, self.rtype, [obj], meta, self.include, headers=self.headers)
        self.headers = False
        return rendered


def table(
    rendering: Rendering,
    rtype: ResourceType,
    objects: list[Obj],
    list_meta: Obj,
    include: str,
    *,
    headers: bool = True,
) -> Obj:
    columns, row_of = printer_for(rtype)
    moment = now()
    rows = []
    for obj in objects:
        cells, conditions = row_of(obj, moment)
        row: Obj = {"cells": cells}
        if conditions:
            row["conditions"] = conditions
        if include == "Object":
            row["object"] = obj
        elif include == "None":
            row["object"] = None
        else:
            row["object"] = partial(rendering, obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": rendering.api_version,
        "metadata": {k: v for k, v in list_meta.items() if v not in ("", None)},
        "columnDefinitions": columns if headers else None,
        "rows": rows,
    }


# -- printers -----------------------------------------------------------------------------------------------

Row = tuple[list[Any], list[Obj]]
RowFunction = Callable[[Obj, dt.datetime], Row]


def column(
    name: str, description: str = "", *, kind: str = "string", priority: int = 0, fmt: str = ""
) -> Obj:
    return {"name": name, "type": kind, "format": fmt, "description": description, "priority": priority}


NAME_COLUMN = column("Name", NAME_DESCRIPTION, fmt="name")
AGE_COLUMN = column("Age", AGE_DESCRIPTION)


def printer_for(rtype: ResourceType) -> tuple[list[Obj], RowFunction]:
    if rtype.is_custom:
        return _custom_printer(rtype)
    special = _SPECIAL.get(rtype.key)
    if special is not None:
        return special()
    found = _BUILTIN.get(rtype.key)
    if found is not None:
        columns, cells = found
        return [NAME_COLUMN, *columns], lambda obj, moment: _builtin_row(cells, obj, moment)
    return [NAME_COLUMN, AGE_COLUMN], lambda obj, moment: ([_name(obj), _age(obj, moment)], [])


def _builtin_row(cells: Callable[[Obj, dt.datetime], list[Any]], obj: Obj, moment: dt.datetime) -> Row:
    conditions: list[Obj] = []
    phase = (obj.get("status") or {}).get("phase")
    if obj.get("kind") == "Pod" and phase in ("Succeeded", "Failed"):
        message = "The pod has completed successfully." if phase == "Succeeded" else "The pod failed."
        conditions = [{"type": "Completed", "status": "True", "reason": phase, "message": message}]
    return [_name(obj), *cells(obj, moment)], conditions


def _custom_printer(rtype: ResourceType) -> tuple[list[Obj], RowFunction]:
    declared = rtype.printer_columns or [
        {
            "name": "Age",
            "type": "date",
            "jsonPath": ".metadata.creationTimestamp",
            "description": AGE_DESCRIPTION,
        }
    ]
    columns = [NAME_COLUMN] + [
        column(
            str(c.get("name", "")),
            str(c.get("description", "")),
            kind=str(c.get("type", "string")),
            priority=int(c.get("priority") or 0),
            fmt=str(c.get("format", "")),
        )
        for c in declared
    ]

    def row(obj: Obj, moment: dt.datetime) -> Row:
        cells: list[Any] = [_name(obj)]
        for definition in declared:
            cells.append(custom_cell(definition, obj, moment))
        return cells, []

    return columns, row


def custom_cell(definition: Obj, obj: Obj, moment: dt.datetime) -> Any:
    """One additionalPrinterColumn's cell (apiextensions' tableconvertor)."""
    try:
        found = jsonpath.find(str(definition.get("jsonPath", "")), obj)
    except jsonpath.JsonPathError:
        return None
    if not found:
        return None
    value = found[0]
    kind = definition.get("type", "string")
    if kind == "string":
        return None if value is None else jsonpath.to_text(value)
    if value is None:
        return None
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return int(value)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "date":
        if not isinstance(value, str):
            return None
        if value in ("", "null"):
            return "<unknown>"
        try:
            return human_duration(moment - parse_time(value))
        except ValueError:
            return "<invalid>"
    return None


# -- helpers shared by the built-in printers ----------------------------------------------------------------


def human_duration(delta: dt.timedelta) -> str:
    """k8s.io/apimachinery's ``duration.HumanDuration``: ``45s``, ``5m10s``, ``3h``, ``2d5h``, ``3y``."""
    seconds = int(delta.total_seconds())
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        rest = seconds % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if rest == 0 else f"{hours // 24 // 365}y{rest}d"
    return f"{hours // 24 // 365}y"


def _since(stamp: Any, moment: dt.datetime) -> str:
    """``translateTimestampSince``: ``<unknown>`` for a missing time."""
    if not stamp or not isinstance(stamp, str):
        return "<unknown>"
    try:
        return human_duration(moment - parse_time(stamp))
    except ValueError:
        return "<unknown>"


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _age(obj: Obj, moment: dt.datetime) -> str:
    return _since((obj.get("metadata") or {}).get("creationTimestamp"), moment)


def _created_at(obj: Obj, _moment: dt.datetime) -> str:
    return str((obj.get("metadata") or {}).get("creationTimestamp") or "")


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _status(obj: Obj) -> Obj:
    status = obj.get("status")
    return status if isinstance(status, dict) else {}


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _or(text: Any, fallback: str) -> str:
    return str(text) if text else fallback


def _labels_text(labels: Any) -> str:
    """``labels.FormatLabels``: ``a=b,c=d`` sorted, or ``<none>``."""
    if not isinstance(labels, dict) or not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _selector_text(selector: Any, empty: str = "") -> str:
    text = selector_string(selector) if isinstance(selector, dict) else ""
    return text or empty


def _containers(template_spec: Obj) -> list[str]:
    containers = template_spec.get("containers") or []
    names = ",".join(str(c.get("name", "")) for c in containers)
    images = ",".join(str(c.get("image", "")) for c in containers)
    return [names, images]


def _template_spec(obj: Obj) -> Obj:
    return ((_spec(obj).get("template") or {}).get("spec")) or {}


def _access_modes(modes: Any) -> str:
    modes = modes or []
    short = {
        "ReadWriteOnce": "RWO",
        "ReadOnlyMany": "ROX",
        "ReadWriteMany": "RWX",
        "ReadWriteOncePod": "RWOP",
    }
    return ",".join(abbrev for mode, abbrev in short.items() if mode in modes)


def _storage_class(obj: Obj) -> str:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    legacy = annotations.get("volume.beta.kubernetes.io/storage-class")
    return str(legacy if legacy is not None else _spec(obj).get("storageClassName") or "")


def _with_more(items: list[str], count: int, empty: str, limit: int = 3) -> str:
    text = ",".join(items[:limit])
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or empty


# -- built-in printers (pkg/printers/internalversion/printers.go) -------------------------------------------


def _pod(obj: Obj, moment: dt.datetime) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    meta = obj.get("metadata") or {}
    containers = spec.get("containers") or []
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    total = len(containers) + sum(1 for c in init_specs.values() if c.get("restartPolicy") == "Always")
    ready = restarts = sidecar_restarts = 0
    last_restart = sidecar_last_restart = ""
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    conditions = status.get("conditions") or []
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated" for c in conditions):
        reason = "SchedulingGated"

    def finished(state: Obj) -> str:
        return str(((state.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or "")

    initializing = False
    init_statuses = status.get("initContainerStatuses") or []
    for index, container in enumerate(init_statuses):
        restarts += _int(container.get("restartCount"))
        last_restart = max(last_restart, finished(container))
        sidecar = (init_specs.get(container.get("name")) or {}).get("restartPolicy") == "Always"
        if sidecar:
            sidecar_restarts += _int(container.get("restartCount"))
            sidecar_last_restart = max(sidecar_last_restart, finished(container))
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and _int(terminated.get("exitCode")) == 0:
            continue
        if sidecar and container.get("started"):
            if container.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            if terminated.get("reason"):
                reason = "Init:" + terminated["reason"]
            elif _int(terminated.get("signal")):
                reason = f"Init:Signal:{_int(terminated.get('signal'))}"
            else:
                reason = f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        initializing = True
        break
    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True" for c in conditions)
    if not initializing or initialized:
        restarts, last_restart = sidecar_restarts, sidecar_last_restart
        has_running = False
        for container in reversed(status.get("containerStatuses") or []):
            restarts += _int(container.get("restartCount"))
            last_restart = max(last_restart, finished(container))
            state = container.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None and terminated.get("reason"):
                reason = terminated["reason"]
            elif terminated is not None:
                signal = _int(terminated.get("signal"))
                reason = f"Signal:{signal}" if signal else f"ExitCode:{_int(terminated.get('exitCode'))}"
            elif container.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if pod_ready else "NotReady"
    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last_restart:
        restarts_text = f"{restarts} ({_since(last_restart, moment)} ago)"
    ips = status.get("podIPs") or []
    pod_ip = (ips[0].get("ip") if ips else "") or status.get("podIP") or ""
    gates = spec.get("readinessGates") or []
    gates_text = "<none>"
    if gates:
        by_type: dict[str, str] = {}
        for condition in conditions:
            by_type.setdefault(str(condition.get("type")), str(condition.get("status")))
        passing = len([g for g in gates if by_type.get(str(g.get("conditionType"))) == "True"])
        gates_text = f"{passing}/{len(gates)}"
    return [
        f"{ready}/{total}",
        reason,
        restarts_text,
        _age(obj, moment),
        pod_ip or "<none>",
        _or(spec.get("nodeName"), "<none>"),
        _or(status.get("nominatedNodeName"), "<none>"),
        gates_text,
    ]


def _service_external_ip(spec: Obj, status: Obj) -> str:
    kind = spec.get("type") or "ClusterIP"
    external = [str(ip) for ip in spec.get("externalIPs") or []]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        ingress = (status.get("loadBalancer") or {}).get("ingress") or []
        balancers = [str(i.get("ip") or i.get("hostname") or "") for i in ingress]
        balancers = [b for b in balancers if b]
        return ",".join(balancers + external) or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def _service(obj: Obj, moment: dt.datetime) -> list[Any]:
    spec = _spec(obj)
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    ports = []
    for port in spec.get("ports") or []:
        protocol = port.get("protocol") or "TCP"
        node_port = _int(port.get("nodePort"))
        number = _int(port.get("port"))
        ports.append(f"{number}:{node_port}/{protocol}" if node_port > 0 else f"{number}/{protocol}")
    return [
        str(spec.get("type") or ""),
        cluster_ips[0] if cluster_ips else "<none>",
        _service_external_ip(spec, _status(obj)),
        ",".join(ports) or "<none>",
        _age(obj, moment),
        _labels_text(spec.get("selector")),
    ]


def _statefulset(obj: Obj, moment: dt.datetime) -> list[Any]:
    ready = _int(_status(obj).get("readyReplicas"))
    return [
        f"{ready}/{_int(_spec(obj).get('replicas'))}",
        _age(obj, moment),
        *_containers(_template_spec(obj)),
    ]


def _deployment(obj: Obj, moment: dt.datetime) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    return [
        f"{_int(status.get('readyReplicas'))}/{_int(spec.get('replicas'))}",
        _int(status.get("updatedReplicas")),
        _int(status.get("availableReplicas")),
        _age(obj, moment),
        *_containers(_template_spec(obj)),
        _selector_text(spec.get("selector")),
    ]


def _replicaset(obj: Obj, moment: dt.datetime) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    return [
        _int(spec.get("replicas")),
        _int(status.get("replicas")),
        _int(status.get("readyReplicas")),
        _age(obj, moment),
        *_containers(_template_spec(obj)),
        _selector_text(spec.get("selector")),
    ]


def _pvc(obj: Obj, moment: dt.datetime) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    phase = "Terminating" if (obj.get("metadata") or {}).get("deletionTimestamp") else status.get("phase")
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = _access_modes(status.get("accessModes"))
        capacity = str((status.get("capacity") or {}).get("storage") or "0")
    attributes_class = spec.get("volumeAttributesClassName") or "<unset>"
    return [
        str(phase or ""),
        str(spec.get("volumeName") or ""),
        capacity,
        modes,
        _storage_class(obj),
        attributes_class,
        _age(obj, moment),
        _or(spec.get("volumeMode"), "<unset>"),
    ]


def _pv(obj: Obj, moment: dt.datetime) -> list[Any]:
    spec, status = _spec(obj), _status(obj)
    claim = spec.get("claimRef")
    claim_text = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if isinstance(claim, dict) else ""
    phase = "Terminating" if (obj.get("metadata") or {}).get("deletionTimestamp") else status.get("phase")
    return [
        str((spec.get("capacity") or {}).get("storage") or "0"),
        _access_modes(spec.get("accessModes")),
        str(spec.get("persistentVolumeReclaimPolicy") or ""),
        str(phase or ""),
        claim_text,
        _storage_class(obj),
        spec.get("volumeAttributesClassName") or "<unset>",
        str(status.get("reason") or ""),
        _age(obj, moment),
        _or(spec.get("volumeMode"), "<unset>"),
    ]


def _configmap(obj: Obj, moment: dt.datetime) -> list[Any]:
    return [len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), _age(obj, moment)]


def _secret(obj: Obj, moment: dt.datetime) -> list[Any]:
    keys = set(obj.get("data") or {}) | set(obj.get("stringData") or {})
    return [str(obj.get("type") or ""), len(keys), _age(obj, moment)]


def _namespace(obj: Obj, moment: dt.datetime) -> list[Any]:
    return [str(_status(obj).get("phase") or ""), _age(obj, moment)]


def _node(obj: Obj, moment: dt.datetime) -> list[Any]:
    status = _status(obj)
    states = []
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            states = ["Ready" if condition.get("status") == "True" else "NotReady"]
    states = states or ["Unknown"]
    if _spec(obj).get("unschedulable"):
        states.append("SchedulingDisabled")
    roles = set()
    for key, value in ((obj.get("metadata") or {}).get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/") and key[len("node-role.kubernetes.io/") :]:
            roles.add(key[len("node-role.kubernetes.io/") :])
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        for entry in status.get("addresses") or []:
            if entry.get("type") == kind:
                return str(entry.get("address") or "")
        return "<none>"

    return [
        ",".join(states),
        ",".join(sorted(roles)) or "<none>",
        _age(obj, moment),
        str(info.get("kubeletVersion") or ""),
        address("InternalIP"),
        address("ExternalIP"),
        _or(info.get("osImage"), "<unknown>"),
        _or(info.get("kernelVersion"), "<unknown>"),
        _or(info.get("containerRuntimeVersion"), "<unknown>"),
    ]


def _event_fields(obj: Obj) -> Obj:
    """core/v1 and events.k8s.io/v1 Events in one shape (the real printer sees the internal core type)."""
    if "regarding" in obj or "note" in obj or obj.get("apiVersion") == "events.k8s.io/v1":
        source = obj.get("deprecatedSource") or {}
        return {
            "involved": obj.get("regarding") or {},
            "message": obj.get("note") or "",
            "first": obj.get("deprecatedFirstTimestamp"),
            "last": obj.get("deprecatedLastTimestamp"),
            "count": obj.get("deprecatedCount"),
            "component": source.get("component") or obj.get("reportingController") or "",
            "host": source.get("host") or obj.get("reportingInstance") or "",
            **{k: obj.get(k) for k in ("eventTime", "series", "type", "reason")},
        }
    source = obj.get("source") or {}
    return {
        "involved": obj.get("involvedObject") or {},
        "message": obj.get("message") or "",
        "first": obj.get("firstTimestamp"),
        "last": obj.get("lastTimestamp"),
        "count": obj.get("count"),
        "component": source.get("component") or obj.get("reportingComponent") or "",
        "host": source.get("host") or obj.get("reportingInstance") or "",
        **{k: obj.get(k) for k in ("eventTime", "series", "type", "reason")},
    }


def _event(obj: Obj, moment: dt.datetime) -> list[Any]:
    """Events lead with LAST SEEN; their Name column is wide-only (and so not the first cell)."""
    fields = _event_fields(obj)
    first = _since(fields["first"], moment) if fields["first"] else _since(fields["eventTime"], moment)
    last = _since(fields["last"], moment) if fields["last"] else first
    count = _int(fields["count"])
    series = fields["series"]
    if isinstance(series, dict):
        last = _since(series.get("lastObservedTime"), moment)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    involved = fields["involved"]
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    component, host = fields["component"], fields["host"]
    source = "" if not component else component if not host else f"{component}, {host}"
    return [
        last,
        str(fields["type"] or ""),
        str(fields["reason"] or ""),
        target,
        str(involved.get("fieldPath") or ""),
        source,
        str(fields["message"]).strip(),
        first,
        count,
        _name(obj),
    ]


def _service_account(obj: Obj, moment: dt.datetime) -> list[Any]:
    return [len(obj.get("secrets") or []), _age(obj, moment)]


def _endpoints(obj: Obj, moment: dt.datetime) -> list[Any]:
    subsets = obj.get("subsets") or []
    if not subsets:
        return ["<none>", _age(obj, moment)]
    shown: list[str] = []
    count = 0
    for subset in subsets:
        addresses = [str(a.get("ip", "")) for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        if not ports:
            count += len(addresses)
            shown.extend(addresses)
            continue
        for port in ports:
            count += len(addresses)
            number = _int(port.get("port"))
            shown.extend(f"[{ip}]:{number}" if ":" in ip else f"{ip}:{number}" for ip in addresses)
    return [_with_more(shown, count, ""), _age(obj, moment)]


def _endpoint_slice(obj: Obj, moment: dt.datetime) -> list[Any]:
    ports = []
    for port in obj.get("ports") or []:
        number = port.get("port")
        ports.append(str(number) if number is not None else str(port.get("name") or "*"))
    addresses = [str(a) for e in obj.get("endpoints") or [] for a in e.get("addresses") or []]
    return [
        str(obj.get("addressType") or ""),
        _with_more(ports, len(ports), "<unset>"),
        _with_more(addresses, len(addresses), "<unset>"),
        _age(obj, moment),
    ]


def _lease(obj: Obj, moment: dt.datetime) -> list[Any]:
    return [str(_spec(obj).get("holderIdentity") or ""), _age(obj, moment)]


def _controller_revision(obj: Obj, moment: dt.datetime) -> list[Any]:
    controller = "<none>"
    for owner in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if owner.get("controller"):
            group = str(owner.get("apiVersion", "")).rpartition("/")[0]
            kind = str(owner.get("kind", "")).lower() + (f".{group}" if group else "")
            controller = f"{kind}/{owner.get('name', '')}"
            break
    return [controller, _int(obj.get("revision")), _age(obj, moment)]


def _pdb(obj: Obj, moment: dt.datetime) -> list[Any]:
    spec = _spec(obj)
    min_available = spec.get("minAvailable")
    max_unavailable = spec.get("maxUnavailable")
    return [
        "N/A" if min_available is None else str(min_available),
        "N/A" if max_unavailable is None else str(max_unavailable),
        _int(_status(obj).get("disruptionsAllowed")),
        _age(obj, moment),
    ]


def _role_binding(obj: Obj, moment: dt.datetime) -> list[Any]:
    ref = obj.get("roleRef") or {}
    subjects = obj.get("subjects") or []
    users = [str(s.get("name", "")) for s in subjects if s.get("kind") == "User"]
    groups = [str(s.get("name", "")) for s in subjects if s.get("kind") == "Group"]
    accounts = [
        f"{s.get('namespace', '')}/{s.get('name', '')}" for s in subjects if s.get("kind") == "ServiceAccount"
    ]
    return [
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        _age(obj, moment),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


def _network_policy(obj: Obj, moment: dt.datetime) -> list[Any]:
    return [_selector_text(_spec(obj).get("podSelector"), "<none>"), _age(obj, moment)]


_CONTAINERS = [
    column("Containers", "Names of each container in the template.", priority=1),
    column("Images", "Images referenced by each container in the template.", priority=1),
]
_CREATED_AT = [column("Created At", AGE_DESCRIPTION, kind="date")]
_EVENT_COLUMNS = [
    column("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
    column("Type", "Type of this event (Normal, Warning), new types could be added in the future"),
    column(
        "Reason", "This should be a short, machine understandable string that gives the reason for the event."
    ),
    column("Object", "The object that this event is about."),
    column("Subobject", "The field of the object the event is about.", priority=1),
    column("Source", "The component reporting this event.", priority=1),
    column("Message", "A human-readable description of the status of this operation."),
    column("First Seen", "The time at which the event was first recorded.", priority=1),
    column("Count", "The number of times this event has occurred.", priority=1),
    column("Name", NAME_DESCRIPTION, priority=1, fmt="name"),
]


def _event_printer() -> tuple[list[Obj], RowFunction]:
    return _EVENT_COLUMNS, lambda obj, moment: (_event(obj, moment), [])


# (group, plural) -> (columns after Name, cells after the name)
_BUILTIN: dict[tuple[str, str], tuple[list[Obj], Callable[[Obj, dt.datetime], list[Any]]]] = {
    ("", "pods"): (
        [
            column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
            column("Status", "The aggregate status of the containers in this pod."),
            column(
                "Restarts",
                "The number of times the containers in this pod have been restarted and when the last "
                "container in this pod has restarted.",
            ),
            AGE_COLUMN,
            column(
                "IP", "IP address allocated to the pod. Routable at least within the cluster.", priority=1
            ),
            column("Node", "The node the pod is bound to.", priority=1),
            column("Nominated Node", "The node the scheduler nominated for preemption.", priority=1),
            column("Readiness Gates", "The readiness gates of the pod that are true.", priority=1),
        ],
        _pod,
    ),
    ("", "services"): (
        [
            column("Type", "type determines how the Service is exposed."),
            column("Cluster-IP", "clusterIP is the IP address of the service."),
            column(
                "External-IP", "externalIPs is a list of IP addresses for which nodes also accept traffic."
            ),
            column("Port(s)", "The list of ports that are exposed by this service."),
            AGE_COLUMN,
            column(
                "Selector",
                "Route service traffic to pods with label keys and values matching this.",
                priority=1,
            ),
        ],
        _service,
    ),
    ("apps", "statefulsets"): (
        [column("Ready", "Number of the pod with ready state"), AGE_COLUMN, *_CONTAINERS],
        _statefulset,
    ),
    ("apps", "deployments"): (
        [
            column("Ready", "Number of the pod with ready state"),
            column("Up-to-date", "Total number of non-terminated pods targeted by this deployment."),
            column("Available", "Total number of available pods targeted by this deployment."),
            AGE_COLUMN,
            *_CONTAINERS,
            column("Selector", "Label selector for pods.", priority=1),
        ],
        _deployment,
    ),
    ("apps", "replicasets"): (
        [
            column("Desired", "Replicas is the number of desired replicas."),
            column("Current", "Replicas is the most recently observed number of replicas."),
            column("Ready", "The number of ready replicas for this replica set."),
            AGE_COLUMN,
            *_CONTAINERS,
            column(
                "Selector",
                "Selector is a label query over pods that should match the replica count.",
                priority=1,
            ),
        ],
        _replicaset,
    ),
    ("", "persistentvolumeclaims"): (
        [
            column("Status", "phase represents the current phase of PersistentVolumeClaim."),
            column(
                "Volume", "volumeName is the binding reference to the PersistentVolume backing this claim."
            ),
            column("Capacity", "capacity represents the actual resources of the underlying volume."),
            column(
                "Access Modes", "accessModes contains the actual access modes the volume backing the PVC has."
            ),
            column("StorageClass", "StorageClass of the pvc"),
            column("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
            AGE_COLUMN,
            column(
                "VolumeMode", "volumeMode defines what type of volume is required by the claim.", priority=1
            ),
        ],
        _pvc,
    ),
    ("", "persistentvolumes"): (
        [
            column(
                "Capacity", "capacity is the description of the persistent volume's resources and capacity."
            ),
            column("Access Modes", "accessModes contains all ways the volume can be mounted."),
            column("Reclaim Policy", "What happens to a persistent volume when released from its claim."),
            column(
                "Status",
                "phase indicates if a volume is available, bound to a claim, or released by a claim.",
            ),
            column(
                "Claim", "claimRef is part of a bi-directional binding between PersistentVolume and Claim."
            ),
            column("StorageClass", "StorageClass of the pv"),
            column("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
            column("Reason", "reason is a brief CamelCase string that describes any failure."),
            AGE_COLUMN,
            column(
                "VolumeMode",
                "volumeMode defines if a volume is intended to be used with a formatted filesystem.",
                priority=1,
            ),
        ],
        _pv,
    ),
    ("", "configmaps"): ([column("Data", "Data contains the configuration data."), AGE_COLUMN], _configmap),
    ("", "secrets"): (
        [
            column("Type", "Used to facilitate programmatic handling of secret data."),
            column("Data", "Data contains the secret data."),
            AGE_COLUMN,
        ],
        _secret,
    ),
    ("", "namespaces"): ([column("Status", "The status of the namespace"), AGE_COLUMN], _namespace),
    ("", "nodes"): (
        [
            column("Status", "The status of the node"),
            column("Roles", "The roles of the node"),
            AGE_COLUMN,
            column("Version", "Kubelet Version reported by the node."),
            column("Internal-IP", "List of addresses reachable to the node.", priority=1),
            column("External-IP", "List of addresses reachable to the node.", priority=1),
            column("OS-Image", "OS Image reported by the node from /etc/os-release.", priority=1),
            column("Kernel-Version", "Kernel Version reported by the node from 'uname -r'.", priority=1),
            column("Container-Runtime", "ContainerRuntime Version reported by the node.", priority=1),
        ],
        _node,
    ),
    ("", "serviceaccounts"): (
        [column("Secrets", "Secrets is a list of the secrets."), AGE_COLUMN],
        _service_account,
    ),
    ("", "endpoints"): ([column("Endpoints", "Endpoints of the service."), AGE_COLUMN], _endpoints),
    ("discovery.k8s.io", "endpointslices"): (
        [
            column("AddressType", "The type of address carried by this EndpointSlice."),
            column("Ports", "Ports exposed by this EndpointSlice."),
            column("Endpoints", "Addresses of the endpoints in this EndpointSlice."),
            AGE_COLUMN,
        ],
        _endpoint_slice,
    ),
    ("coordination.k8s.io", "leases"): ([column("Holder", "The holder of the lease."), AGE_COLUMN], _lease),
    ("apps", "controllerrevisions"): (
        [
            column("Controller", "The controller that owns this revision."),
            column("Revision", "Revision indicates the revision of the state represented by Data."),
            AGE_COLUMN,
        ],
        _controller_revision,
    ),
    ("policy", "poddisruptionbudgets"): (
        [
            column("Min Available", "The minimum number of pods that must be available simultaneously."),
            column("Max Unavailable", "The maximum number of pods that may be unavailable simultaneously."),
            column("Allowed Disruptions", "Number of pod disruptions that are currently allowed."),
            AGE_COLUMN,
        ],
        _pdb,
    ),
    ("networking.k8s.io", "networkpolicies"): (
        [column("Pod-Selector", "Selects the pods to which this NetworkPolicy object applies."), AGE_COLUMN],
        _network_policy,
    ),
    ("rbac.authorization.k8s.io", "roles"): (_CREATED_AT, lambda obj, moment: [_created_at(obj, moment)]),
    ("rbac.authorization.k8s.io", "clusterroles"): (
        _CREATED_AT,
        lambda obj, moment: [_created_at(obj, moment)],
    ),
    ("rbac.authorization.k8s.io", "rolebindings"): (
        [
            column("Role", "RoleRef references the role."),
            AGE_COLUMN,
            column("Users", "Users in the binding.", priority=1),
            column("Groups", "Groups in the binding.", priority=1),
            column("ServiceAccounts", "ServiceAccounts in the binding.", priority=1),
        ],
        _role_binding,
    ),
    ("apiextensions.k8s.io", "customresourcedefinitions"): (
        _CREATED_AT,
        lambda obj, moment: [_created_at(obj, moment)],
    ),
}
_BUILTIN[("rbac.authorization.k8s.io", "clusterrolebindings")] = _BUILTIN[
    ("rbac.authorization.k8s.io", "rolebindings")
]
_SPECIAL: dict[tuple[str, str], Callable[[], tuple[list[Obj], RowFunction]]] = {
    ("", "events"): _event_printer,
    ("events.k8s.io", "events"): _event_printer,
}
