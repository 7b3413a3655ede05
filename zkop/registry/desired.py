"""Services + EndpointSlices -> the registry zkop wants: znode path -> data, for one export.

Pure: the inputs are the objects as the Kubernetes API returns them (plain dicts), the output depends on
nothing else, so the same listing always gives byte-identical nodes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from zkop.api.export import (
    ANNOTATION_DUBBO_INTERFACE,
    ANNOTATION_EXPORT,
    ANNOTATION_META_PREFIX,
    ANNOTATION_NAME,
    ANNOTATION_PORT,
    LabelSelector,
    RegistryFormat,
    ZookeeperServiceExport,
)
from zkop.registry.formats import (
    Endpoint,
    curator_instance,
    dubbo_provider_path,
    dubbo_provider_url,
    instance_id,
    serverset_member,
    serverset_member_name,
)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    target_port: int | str | None


@dataclass(frozen=True)
class ServiceView:
    """The parts of a Service an export reads."""

    namespace: str
    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    ports: tuple[ServicePort, ...]
    created_ms: int

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @classmethod
    def of(cls, service: Mapping[str, Any]) -> ServiceView:
        meta = service.get("metadata") or {}
        ports = tuple(
            ServicePort(str(p.get("name") or ""), int(p["port"]), p.get("targetPort"))
            for p in (service.get("spec") or {}).get("ports") or []
        )
        return cls(
            namespace=str(meta.get("namespace") or "default"),
            name=str(meta["name"]),
            labels=dict(meta.get("labels") or {}),
            annotations=dict(meta.get("annotations") or {}),
            ports=ports,
            created_ms=_epoch_ms(meta.get("creationTimestamp")),
        )


def _epoch_ms(timestamp: Any) -> int:
    # The Service's creation time stands in for registrationTimeUTC: it is stable across syncs and
    # restarts, where "now" would turn every resync into an update of every instance.
    if not timestamp:
        return 0
    if isinstance(timestamp, dt.datetime):
        moment = timestamp
    else:
        moment = dt.datetime.fromisoformat(str(timestamp).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def label_selector_matches(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics (matchLabels AND every matchExpression)."""
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    for requirement in selector.match_expressions:
        present = requirement.key in labels
        value = labels.get(requirement.key)
        if requirement.operator == "In" and value not in requirement.values:
            return False
        if requirement.operator == "NotIn" and present and value in requirement.values:
            return False
        if requirement.operator == "Exists" and not present:
            return False
        if requirement.operator == "DoesNotExist" and present:
            return False
    return True


def selects(export: ZookeeperServiceExport, service: ServiceView) -> bool:
    """Whether the export publishes this Service: namespace, then opt-out, opt-in, label selector."""
    if service.namespace not in export.selected_namespaces:
        return False
    opinion = service.annotations.get(ANNOTATION_EXPORT, "").strip().lower()
    if opinion == "false":
        return False
    if opinion == "true":
        return True
    selector = export.spec.label_selector
    return selector is not None and label_selector_matches(selector, service.labels)


@dataclass(frozen=True)
class DesiredRegistry:
    """What one export should have in ZooKeeper, and what it could not publish (with the reason)."""

    nodes: Mapping[str, bytes]
    services: tuple[str, ...]  # namespace/name of every Service published
    endpoints: int  # distinct ready address:port pairs across those Services
    problems: tuple[str, ...] = field(default=())


def _resolve_port(service: ServiceView) -> tuple[str, int | None] | str:
    """The Service port to publish: (port name, service port), or a problem."""
    wanted = service.annotations.get(ANNOTATION_PORT, "").strip()
    if not service.ports:
        return f"Service {service.key} has no ports"
    if not wanted:
        first = service.ports[0]
        return first.name, first.port
    for port in service.ports:
        if port.name == wanted or (wanted.isdigit() and port.port == int(wanted)):
            return port.name, port.port
    return f"Service {service.key}: {ANNOTATION_PORT}={wanted!r} names no port of the Service"


def _endpoints(slices: Iterable[Mapping[str, Any]], port_name: str) -> list[Endpoint]:
    """Every address:port of the named port across the Service's slices, deduplicated, ready first.

    An address can sit in two slices while the controller moves it; it counts once, ready if ready in
    any. A nil `ready` means ready (the EndpointSlice API's rule); terminating never counts as ready.
    """
    found: dict[tuple[str, int], bool] = {}
    for piece in slices:
        numbers = [
            int(p["port"])
            for p in piece.get("ports") or []
            if str(p.get("name") or "") == port_name and p.get("port") is not None
        ]
        if (piece.get("addressType") or "IPv4") == "FQDN":
            continue
        for endpoint in piece.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            ready = conditions.get("ready") is not False and not conditions.get("terminating")
            for address in endpoint.get("addresses") or []:
                for number in numbers:
                    key = (str(address), number)
                    found[key] = found.get(key, False) or ready
    return sorted(Endpoint(a, p, r) for (a, p), r in found.items())


def _valid_name(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..") and "\x00" not in name


def desired_registry(
    export: ZookeeperServiceExport,
    services: Iterable[Mapping[str, Any]],
    slices: Iterable[Mapping[str, Any]],
) -> DesiredRegistry:
    """The registry the export wants, from a complete listing of Services and EndpointSlices."""
    by_service: dict[str, list[Mapping[str, Any]]] = {}
    for piece in slices:
        meta = piece.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if owner:
            by_service.setdefault(f"{meta.get('namespace') or 'default'}/{owner}", []).append(piece)

    nodes: dict[str, bytes] = {}
    published: list[str] = []
    endpoint_count = 0
    problems: list[str] = []
    owner = f"{export.namespace}/{export.name}"
    for service in sorted((ServiceView.of(s) for s in services), key=lambda s: s.key):
        if not selects(export, service):
            continue
        name = service.annotations.get(ANNOTATION_NAME, "").strip() or service.name
        if not _valid_name(name):
            problems.append(f"Service {service.key}: {ANNOTATION_NAME}={name!r} is not a znode name")
            continue
        port = _resolve_port(service)
        if isinstance(port, str):
            problems.append(port)
            continue
        port_name, _ = port
        endpoints = _endpoints(by_service.get(service.key, []), port_name)
        metadata = {
            k[len(ANNOTATION_META_PREFIX) :]: v
            for k, v in sorted(service.annotations.items())
            if k.startswith(ANNOTATION_META_PREFIX)
        }
        published.append(service.key)
        endpoint_count += sum(1 for e in endpoints if e.ready)
        for layout in export.spec.formats:
            nodes.update(_layout_nodes(export, layout, service, name, port_name, endpoints, metadata, owner))
    return DesiredRegistry(nodes, tuple(published), endpoint_count, tuple(problems))


def _layout_nodes(
    export: ZookeeperServiceExport,
    layout: RegistryFormat,
    service: ServiceView,
    name: str,
    port_name: str,
    endpoints: list[Endpoint],
    metadata: Mapping[str, str],
    owner: str,
) -> dict[str, bytes]:
    root = layout.root.rstrip("/")
    out: dict[str, bytes] = {}
    for endpoint in endpoints:
        member = instance_id(export.uid, service.namespace, service.name, endpoint.address, endpoint.port)
        if layout.type == "curator" and endpoint.ready:
            out[f"{root}/{name}/{member}"] = curator_instance(
                name=name,
                instance=member,
                endpoint=endpoint,
                registration_ms=service.created_ms,
                spring_cloud=layout.spring_cloud,
                metadata=metadata,
                owner=owner,
            )
        elif layout.type == "dubbo" and endpoint.ready:
            interface = service.annotations.get(ANNOTATION_DUBBO_INTERFACE, "").strip()
            if not interface:
                continue  # a Service that is no Dubbo provider: the other layouts still carry it
            params = {k: quote(v, safe="") for k, v in metadata.items()}
            url = dubbo_provider_url(
                interface=interface, application=name, endpoint=endpoint, metadata=params
            )
            out[dubbo_provider_path(root, interface, url)] = b""
        elif layout.type == "serverset" and (endpoint.ready or layout.include_not_ready):
            out[f"{root}/{name}/{serverset_member_name(member)}"] = serverset_member(endpoint, port_name)
    return out
