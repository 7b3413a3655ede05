"""What a ZookeeperConfigSync wants under its path, from the objects it reads (pure).

Sources are ConfigMaps and Secrets as read from the API (None when absent) and, for cluster state, Nodes
and Pods. The result is the `{relative path: bytes}` map `zkop.plan.znodes` diffs, plus the problems to
report. A value that is too large is left out and its current znode kept as it is: readers keep the last
good value instead of losing the key or reading a truncated one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zkop.api.configsync import SECRET_OPT_IN_ANNOTATION, SourceRef, ZookeeperConfigSyncSpec

STATE_ROOT = "k8s"


@dataclass(frozen=True)
class Problem:
    """Something the user must fix; `reason` becomes the condition reason and the Event reason."""

    reason: str
    message: str


@dataclass
class Desired:
    znodes: dict[str, bytes] = field(default_factory=dict)
    keep: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    keys: int = 0  # source keys mirrored (cluster state not counted)


def _values(kind: str, body: Mapping[str, Any]) -> dict[str, bytes]:
    """Every key of a ConfigMap (data as UTF-8, binaryData decoded) or a Secret (data decoded)."""
    values: dict[str, bytes] = {}
    if kind == "ConfigMap":
        for key, text in (body.get("data") or {}).items():
            values[key] = str(text).encode()
        for key, encoded in (body.get("binaryData") or {}).items():
            values[key] = base64.b64decode(encoded)
    else:
        for key, encoded in (body.get("data") or {}).items():
            values[key] = base64.b64decode(encoded)
        for key, text in (body.get("stringData") or {}).items():  # never stored, but harmless
            values[key] = str(text).encode()
    return values


def _add_source(
    desired: Desired,
    kind: str,
    ref: SourceRef,
    body: Mapping[str, Any] | None,
    limit: int,
) -> None:
    label = f"{kind} {ref.name}"
    if body is None:
        desired.problems.append(Problem("SourceNotFound", f"{label} not found"))
        return
    if kind == "Secret":
        annotations = (body.get("metadata") or {}).get("annotations") or {}
        if annotations.get(SECRET_OPT_IN_ANNOTATION) != "true":
            desired.problems.append(
                Problem(
                    "SecretNotOptedIn",
                    f'{label} is not annotated {SECRET_OPT_IN_ANNOTATION}: "true"; it is not mirrored',
                )
            )
            return
    values = _values(kind, body)
    wanted = ref.keys if ref.keys is not None else sorted(values)
    for key in wanted:
        path = f"{ref.name}/{key}"
        if key not in values:
            desired.problems.append(Problem("KeyNotFound", f"{label} has no key {key!r}"))
            continue
        value = values[key]
        if len(value) > limit:
            desired.problems.append(
                Problem(
                    "ValueTooLarge",
                    f"{label} key {key!r} is {len(value)} bytes, over the {limit}-byte limit "
                    "(spec.maxValueBytes, bounded by jute.maxbuffer); not written, the znode keeps "
                    "its previous value",
                )
            )
            desired.keep.add(path)
            continue
        desired.znodes[path] = value
        desired.keys += 1


def _json(value: Mapping[str, Any]) -> bytes:
    # Sorted and compact: the same state always gives the same bytes, so unchanged state is no write.
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _condition(conditions: list[dict[str, Any]] | None, type_: str) -> str:
    found = next((c for c in conditions or [] if c.get("type") == type_), None)
    return str(found.get("status", "Unknown")) if found else "Unknown"


def node_record(node: Mapping[str, Any]) -> bytes:
    """A Node's readiness and addresses; heartbeat timestamps left out so a heartbeat is no write."""
    status = node.get("status") or {}
    return _json(
        {
            "name": node["metadata"]["name"],
            "ready": _condition(status.get("conditions"), "Ready") == "True",
            "unschedulable": bool((node.get("spec") or {}).get("unschedulable", False)),
            "addresses": [
                {"type": a.get("type"), "address": a.get("address")} for a in status.get("addresses") or []
            ],
        }
    )


def pod_record(pod: Mapping[str, Any]) -> bytes:
    status = pod.get("status") or {}
    meta = pod["metadata"]
    return _json(
        {
            "namespace": meta.get("namespace"),
            "name": meta["name"],
            "phase": status.get("phase", "Unknown"),
            "ready": _condition(status.get("conditions"), "Ready") == "True",
            "podIP": status.get("podIP"),
            "nodeName": (pod.get("spec") or {}).get("nodeName"),
            "terminating": bool(meta.get("deletionTimestamp")),
        }
    )


def desired_znodes(
    spec: ZookeeperConfigSyncSpec,
    config_maps: Mapping[str, Mapping[str, Any] | None],
    secrets: Mapping[str, Mapping[str, Any] | None],
    nodes: list[Mapping[str, Any]] | None = None,
    pods: list[Mapping[str, Any]] | None = None,
) -> Desired:
    """Everything the sync should have under its path. `nodes`/`pods` are complete listings (or None
    when the spec does not ask for them); a failed listing must raise before this is called."""
    desired = Desired()
    for ref in spec.config_maps:
        _add_source(desired, "ConfigMap", ref, config_maps.get(ref.name), spec.max_value_bytes)
    for ref in spec.secrets:
        _add_source(desired, "Secret", ref, secrets.get(ref.name), spec.max_value_bytes)
    for node in nodes or []:
        desired.znodes[f"{STATE_ROOT}/nodes/{node['metadata']['name']}"] = node_record(node)
    for pod in pods or []:
        meta = pod["metadata"]
        desired.znodes[f"{STATE_ROOT}/pods/{meta.get('namespace')}/{meta['name']}"] = pod_record(pod)
    return desired
