"""What a ZookeeperConfigSync wants under its path, from the objects it reads (pure).

Sources are ConfigMaps and Secrets as read from the API (None when absent) and, for cluster state, Nodes
and Pods. The result is the `{relative path: bytes}` map `zkop.plan.znodes` diffs, plus the problems to
report. A value that is too large is left out and its current znode kept as it is: readers keep the last
good value instead of losing the key or reading a truncated one.

The ACL every znode of the sync carries comes from here too: zkop's admin identity with all permissions,
READ for each reader whose ZookeeperZnode and credentials Secret exist, world READ only when the spec
asks for it. A reader that cannot be resolved is a problem to report and is left out: its absence only
ever narrows the ACL, never widens it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kazoo.security import ACL, make_acl, make_digest_acl

from zkop.api.configsync import SECRET_OPT_IN_ANNOTATION, SourceRef, ZookeeperConfigSyncSpec
from zkop.render.identity import SUPERUSER
from zkop.render.znode import CredentialSecretProblem, read_credential_secret

STATE_ROOT = "k8s"
WORLD_READ = make_acl("world", "anyone", read=True)
# What zkop stamps on an application's credentials Secret (zkop.render.znode.labels).

# A reader as read from the API: its ZookeeperZnode and its credentials Secret (None when absent).
ReaderObjects = tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]


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
    grants: list[ACL] = field(default_factory=list)  # READ entries besides zkop's admin identity
    readers: list[str] = field(default_factory=list)  # the ZookeeperZnodes granted READ


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


def reader_secret_name(znode: str) -> str:
    """The credentials Secret of the ZookeeperZnode `znode` (`zkop.render.znode.object_name`)."""
    return f"{znode}-zookeeper"


def reader_grant(name: str, objects: ReaderObjects) -> ACL | Problem:
    """READ for the digest identity of the ZookeeperZnode `name`, or why it cannot be granted."""
    znode, secret = objects
    label = f"spec.readers: ZookeeperZnode {name}"
    consequence = "it gets no access until this is fixed; everything else is synced without it"
    if znode is None:
        return Problem("ReaderNotFound", f"{label} not found in this namespace; {consequence}")
    secret_name = reader_secret_name(name)
    if secret is None:
        return Problem(
            "ReaderNotFound", f"{label} has no credentials Secret {secret_name} yet; {consequence}"
        )
    try:
        username, password = read_credential_secret(secret, name)
    except CredentialSecretProblem as problem:
        why = "was not made by zkop for it" if problem.kind == "foreign" else "has no username or password"
        return Problem("ReaderInvalid", f"{label}: Secret {secret_name} {why}; {consequence}")
    return make_digest_acl(username, password, read=True)


def admin_acl(admin_password: str) -> ACL:
    """zkop's own identity (the servers' superuser) with every permission. The superuser passes every
    ACL check anyway; the explicit entry keeps zkop's access on servers started without superDigest."""
    return make_digest_acl(SUPERUSER, admin_password, all=True)


def sync_acl(admin_password: str, grants: list[ACL]) -> list[ACL]:
    """The ACL of every znode of a sync: the admin entry first, then the READ grants, each once, in a
    stable order (so the same grants always give the same ACL)."""
    admin = admin_acl(admin_password)
    unique = {(g.id.scheme, g.id.id, g.perms): g for g in grants if g.id != admin.id}
    return [admin, *(unique[k] for k in sorted(unique))]


def desired_znodes(
    spec: ZookeeperConfigSyncSpec,
    config_maps: Mapping[str, Mapping[str, Any] | None],
    secrets: Mapping[str, Mapping[str, Any] | None],
    nodes: list[Mapping[str, Any]] | None = None,
    pods: list[Mapping[str, Any]] | None = None,
    readers: Mapping[str, ReaderObjects] | None = None,
) -> Desired:
    """Everything the sync should have under its path, and who besides zkop may read it. `nodes`/`pods`
    are complete listings (or None when the spec does not ask for them); a failed listing must raise
    before this is called. `readers` maps each name in spec.readers to its objects (absent: not found)."""
    desired = Desired()
    for reader in spec.readers:
        grant = reader_grant(reader.znode, (readers or {}).get(reader.znode, (None, None)))
        if isinstance(grant, Problem):
            desired.problems.append(grant)
        else:
            desired.grants.append(grant)
            desired.readers.append(reader.znode)
    if spec.world_readable and not spec.secrets:  # the spec refuses the two together; never rely on it
        desired.grants.append(WORLD_READ)
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
