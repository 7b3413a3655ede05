"""Container environment: fieldRef, resourceFieldRef, secretKeyRef, configMapKeyRef, envFrom, and $(VAR)
expansion with Kubernetes' rules (``$$`` escapes ``$``; an undefined ``$(VAR)`` stays as written)."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from typing import Any

from .sources import Obj, ObjectSource


class ConfigError(Exception):
    """A referenced ConfigMap/Secret/key is missing: the container waits in CreateContainerConfigError."""


def expand(text: str, mapping: Mapping[str, str]) -> str:
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2 : end]
                    out.append(mapping[name] if name in mapping else text[i : end + 1])
                    i = end + 1
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


def _format_map(values: Mapping[str, str]) -> str:
    return "\n".join(f'{k}="{v}"' for k, v in sorted(values.items()))


def field_value(pod: Obj, path: str, pod_ip: str | None, host_ip: str | None) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    match = _SUBSCRIPT.match(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    simple: dict[str, Any] = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace", "default"),
        "metadata.uid": meta.get("uid"),
        "metadata.labels": _format_map(meta.get("labels") or {}),
        "metadata.annotations": _format_map(meta.get("annotations") or {}),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName") or "default",
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
    }
    if path not in simple:
        raise ConfigError(f"unsupported fieldRef fieldPath {path!r}")
    value = simple[path]
    return "" if value is None else str(value)


def _node_capacity(resource: str) -> str:
    if "cpu" in resource:
        return str(os.cpu_count() or 1)
    if "memory" in resource:
        return str(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    return "0"


_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "m": 10**-3}


def _quantity(value: str) -> float:
    for suffix, factor in _UNITS.items():
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


def resource_value(pod: Obj, container_name: str | None, ref: Mapping[str, Any]) -> str:
    """resourceFieldRef: the container's request/limit, or the node's capacity for an unset limit."""
    resource: str = ref["resource"]
    name = ref.get("containerName") or container_name
    containers = list((pod.get("spec") or {}).get("containers") or [])
    container: Mapping[str, Any] = next((c for c in containers if c.get("name") == name), {})
    kind, _, what = resource.partition(".")
    raw = ((container.get("resources") or {}).get(kind) or {}).get(what)
    if raw is None:
        if kind == "requests":
            return "0"
        return _node_capacity(resource)
    divisor = _quantity(str(ref.get("divisor", "1")))
    value = _quantity(str(raw)) / divisor
    return str(int(-(-value // 1)))


def decode_secret(secret: Obj) -> dict[str, bytes]:
    data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
    data.update({k: v.encode() for k, v in (secret.get("stringData") or {}).items()})
    return data


def config_map_data(cm: Obj) -> dict[str, bytes]:
    data = {k: v.encode() for k, v in (cm.get("data") or {}).items()}
    data.update({k: base64.b64decode(v) for k, v in (cm.get("binaryData") or {}).items()})
    return data


async def _key_ref(source: ObjectSource, namespace: str, ref: Mapping[str, Any], secret: bool) -> str | None:
    kind = "secret" if secret else "configmap"
    obj = await (source.get_secret if secret else source.get_config_map)(namespace, ref["name"])
    optional = bool(ref.get("optional"))
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{kind} "{ref["name"]}" not found')
    data = decode_secret(obj) if secret else config_map_data(obj)
    if ref["key"] not in data:
        if optional:
            return None
        raise ConfigError(f"couldn't find key {ref['key']} in {kind} {namespace}/{ref['name']}")
    return data[ref["key"]].decode(errors="replace")


async def container_env(
    pod: Obj, container: Mapping[str, Any], source: ObjectSource, pod_ip: str | None, host_ip: str | None
) -> dict[str, str]:
    """The variables the pod spec defines for a container, in Kubernetes order (envFrom, then env)."""
    namespace = pod["metadata"].get("namespace", "default")
    env: dict[str, str] = {}
    for item in container.get("envFrom") or []:
        prefix = item.get("prefix", "")
        if "configMapRef" in item:
            ref = item["configMapRef"]
            cm = await source.get_config_map(namespace, ref["name"])
            if cm is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'configmap "{ref["name"]}" not found')
            values = config_map_data(cm)
        elif "secretRef" in item:
            ref = item["secretRef"]
            sec = await source.get_secret(namespace, ref["name"])
            if sec is None:
                if ref.get("optional"):
                    continue
                raise ConfigError(f'secret "{ref["name"]}" not found')
            values = decode_secret(sec)
        else:
            continue
        for key, raw in values.items():
            env[prefix + key] = raw.decode(errors="replace")
    for var in container.get("env") or []:
        name = var["name"]
        if "valueFrom" not in var:
            env[name] = expand(str(var.get("value", "")), env)
            continue
        value_from = var["valueFrom"]
        value: str | None
        if "fieldRef" in value_from:
            value = field_value(pod, value_from["fieldRef"]["fieldPath"], pod_ip, host_ip)
        elif "resourceFieldRef" in value_from:
            value = resource_value(pod, container.get("name"), value_from["resourceFieldRef"])
        elif "secretKeyRef" in value_from:
            value = await _key_ref(source, namespace, value_from["secretKeyRef"], secret=True)
        elif "configMapKeyRef" in value_from:
            value = await _key_ref(source, namespace, value_from["configMapKeyRef"], secret=False)
        else:
            raise ConfigError(f"unsupported valueFrom for {name}")
        if value is not None:
            env[name] = value
    return env
