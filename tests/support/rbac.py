"""RBAC evaluated the way the API server's RBAC authorizer does it, for tests: which rules bind to a
ServiceAccount (Roles and ClusterRoles through their bindings) and whether they allow a request.

Also the other half the authorizer needs: a request's attributes (verb, API group, resource,
subresource, namespace, name) from its method, path and query, as the API server's request-info
resolver derives them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Grant:
    """One PolicyRule in effect for a subject: in `namespace`, or everywhere when namespace is None
    (a ClusterRole bound by a ClusterRoleBinding)."""

    namespace: str | None
    rule: dict[str, Any]


def grants(objects: Iterable[dict[str, Any]], namespace: str, service_account: str) -> list[Grant]:
    """The rules the ServiceAccount `namespace/service_account` gets from the RBAC objects given."""
    objects = list(objects)
    roles = {
        (o["metadata"]["namespace"], o["metadata"]["name"]): o.get("rules") or []
        for o in objects
        if o["kind"] == "Role"
    }
    cluster_roles = {
        o["metadata"]["name"]: o.get("rules") or [] for o in objects if o["kind"] == "ClusterRole"
    }
    found: list[Grant] = []
    for binding in objects:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        subject = {"kind": "ServiceAccount", "name": service_account, "namespace": namespace}
        if not any({k: s.get(k) for k in subject} == subject for s in binding.get("subjects") or []):
            continue
        ref = binding["roleRef"]
        scope = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
        if ref["kind"] == "Role":
            rules = roles.get((scope, ref["name"]), [])
        else:
            rules = cluster_roles.get(ref["name"], [])
        found += [Grant(scope, rule) for rule in rules]
    return found


def _resource_matches(patterns: list[str], resource: str, subresource: str) -> bool:
    full = f"{resource}/{subresource}" if subresource else resource
    for pattern in patterns:
        if pattern in ("*", full):
            return True
        if subresource and pattern in (f"{resource}/*", f"*/{subresource}"):
            return True
    return False


def rule_allows(
    rule: dict[str, Any], verb: str, group: str, resource: str, subresource: str, name: str | None
) -> bool:
    verbs = rule.get("verbs") or []
    if "*" not in verbs and verb not in verbs:
        return False
    groups = rule.get("apiGroups") or []
    if "*" not in groups and group not in groups:
        return False
    if not _resource_matches(rule.get("resources") or [], resource, subresource):
        return False
    names = rule.get("resourceNames")
    return not names or (name is not None and name in names)


def rbac_allows(
    rules: Iterable[Grant],
    verb: str,
    group: str,
    resource: str,
    subresource: str,
    namespace: str | None,
    name: str | None = None,
) -> bool:
    """Whether any grant allows the request. A cluster-scoped request (namespace None: a cluster-scoped
    resource, or a namespaced one across all namespaces) needs a cluster-wide grant."""
    return any(
        (g.namespace is None or g.namespace == namespace)
        and rule_allows(g.rule, verb, group, resource, subresource, name)
        for g in rules
    )


@dataclass(frozen=True)
class Attributes:
    verb: str
    group: str
    resource: str
    subresource: str
    namespace: str | None
    name: str | None

    def __str__(self) -> str:
        what = f"{self.resource}/{self.subresource}" if self.subresource else self.resource
        group = f"{self.group}/" if self.group else ""
        where = f" in {self.namespace}" if self.namespace else " (cluster)"
        return f"{self.verb} {group}{what}{where}"


def authorizations(
    method: str, path: str, query: dict[str, str], content_type: str = "", status: int = 0
) -> list[Attributes]:
    """Every authorization check the API server makes for one request: the request's own attributes,
    and `create` as well for a server-side apply that created the object (answered 201), as the API
    server authorizes it. Empty for a non-resource URL (discovery, /version)."""
    attributes = request_attributes(method, path, query)
    if attributes is None:
        return []
    checks = [attributes]
    if attributes.verb == "patch" and "apply-patch" in content_type and status == 201:
        checks.append(replace(attributes, verb="create"))
    return checks


def request_attributes(method: str, path: str, query: dict[str, str]) -> Attributes | None:
    """RBAC attributes of one API request; None for a non-resource URL (discovery, /version)."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 2:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None  # /api/v1, /apis/<group>/<version>: discovery
    watch_path = rest[0] == "watch"
    if watch_path:
        rest = rest[1:]
    namespace = None
    # /namespaces/<ns>/<resource>...; /namespaces/<name>[/status|/finalize] is the Namespace itself.
    if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) >= 2 else None
    subresource = rest[2] if len(rest) >= 3 else ""
    if resource == "namespaces" and name is not None:
        namespace = name  # a Namespace is authorized in its own namespace, as the API server does
    if method == "GET":
        if name is None:
            verb = "watch" if watch_path or query.get("watch") in ("true", "1") else "list"
        else:
            verb = "watch" if watch_path else "get"
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, "")
        if method == "DELETE":
            verb = "delete" if name is not None else "deletecollection"
    return Attributes(verb, group, resource, subresource, namespace, name)
