"""The resource types the server knows: a dataclass per type and the table of built-in kinds.

Custom resources become ``ResourceType`` rows too (see ``crds.py``), so the request handlers, discovery and
OpenAPI all read one shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ScaleSpec:
    """Where the ``/scale`` subresource finds replicas and the selector (dotted JSON paths)."""

    spec_replicas_path: str = ".spec.replicas"
    status_replicas_path: str = ".status.replicas"
    # A path to a selector string (CRDs) ...
    label_selector_path: str | None = None
    # ... or to a LabelSelector struct that is rendered as a string (StatefulSet, Deployment).
    selector_struct_path: str | None = None


@dataclass
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    scale: ScaleSpec | None = None
    # Whether metadata.generation is maintained (real servers skip it for e.g. ConfigMaps).
    has_generation: bool = False
    # Field selectors beyond metadata.name / metadata.namespace.
    field_selectors: tuple[str, ...] = ()
    # Extra GET-only subresources such as pods/log.
    extra_subresources: tuple[str, ...] = ()
    # Custom-resource-only properties.
    is_custom: bool = False
    list_kind: str = ""
    singular: str = ""
    schema: dict[str, Any] | None = None
    printer_columns: list[dict[str, Any]] = field(default_factory=list)
    # Names are checked as DNS subdomains except for kinds (RBAC) that allow paths like "system:x".
    strict_names: bool = True
    # The storage key: all versions of one CRD share it, so objects are version-independent.
    storage_versions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.list_kind:
            self.list_kind = self.kind + "List"
        if not self.singular:
            self.singular = self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def gvk(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.kind)

    @property
    def key(self) -> tuple[str, str]:
        """Storage key: (group, plural)."""
        return (self.group, self.plural)

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def subresources(self) -> list[str]:
        subs = list(self.extra_subresources)
        if self.status_subresource:
            subs.append("status")
        if self.scale is not None:
            subs.append("scale")
        return subs


_POD_FIELDS = (
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)
_WORKLOAD_SCALE = ScaleSpec(selector_struct_path=".spec.selector")

R = ResourceType
# One row per built-in kind. Status subresource and generation follow the real API server.
BUILTIN_RESOURCES: tuple[ResourceType, ...] = (
    R("", "v1", "Namespace", "namespaces", False, ("ns",), (), True, field_selectors=("status.phase",)),
    R(
        "",
        "v1",
        "Pod",
        "pods",
        True,
        ("po",),
        ("all",),
        True,
        has_generation=True,
        field_selectors=_POD_FIELDS,
        extra_subresources=("log",),
    ),
    R("", "v1", "Service", "services", True, ("svc",), ("all",), True),
    R("", "v1", "Endpoints", "endpoints", True, ("ep",), (), singular="endpoints"),
    R("", "v1", "ConfigMap", "configmaps", True, ("cm",)),
    R("", "v1", "Secret", "secrets", True, (), (), field_selectors=("type",)),
    R("", "v1", "ServiceAccount", "serviceaccounts", True, ("sa",)),
    R("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("pvc",), (), True),
    R("", "v1", "PersistentVolume", "persistentvolumes", False, ("pv",), (), True),
    R("", "v1", "Node", "nodes", False, ("no",), (), True, field_selectors=("spec.unschedulable",)),
    R("", "v1", "Event", "events", True, ("ev",), (), field_selectors=_EVENT_FIELDS),
    R("events.k8s.io", "v1", "Event", "events", True, ("ev",)),
    R("coordination.k8s.io", "v1", "Lease", "leases", True),
    R(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        True,
        ("sts",),
        ("all",),
        True,
        _WORKLOAD_SCALE,
        has_generation=True,
    ),
    R("apps", "v1", "ControllerRevision", "controllerrevisions", True),
    R(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        True,
        ("deploy",),
        ("all",),
        True,
        _WORKLOAD_SCALE,
        has_generation=True,
    ),
    R(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        True,
        ("rs",),
        ("all",),
        True,
        _WORKLOAD_SCALE,
        has_generation=True,
        field_selectors=("status.replicas",),
    ),
    R(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        True,
        ("pdb",),
        (),
        True,
        has_generation=True,
    ),
    R("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    R(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        False,
        ("crd", "crds"),
        ("api-extensions",),
        True,
        has_generation=True,
    ),
    R("rbac.authorization.k8s.io", "v1", "Role", "roles", True, strict_names=False),
    R("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", True, strict_names=False),
    R("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False, strict_names=False),
    R(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        False,
        strict_names=False,
    ),
    R(
        "networking.k8s.io",
        "v1",
        "NetworkPolicy",
        "networkpolicies",
        True,
        ("netpol",),
        (),
        has_generation=True,
    ),
)
del R


class Registry:
    """The live set of resource types: built-ins plus whatever CRDs are established."""

    def __init__(self) -> None:
        self._by_gv: dict[tuple[str, str], dict[str, ResourceType]] = {}
        for rtype in BUILTIN_RESOURCES:
            self.add(rtype)

    def add(self, rtype: ResourceType) -> None:
        self._by_gv.setdefault((rtype.group, rtype.version), {})[rtype.plural] = rtype

    def remove_group_plural(self, group: str, plural: str) -> None:
        for (g, v), table in list(self._by_gv.items()):
            if g == group:
                table.pop(plural, None)
                if not table:
                    del self._by_gv[(g, v)]

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gv.get((group, version), {}).get(plural)

    def group_versions(self) -> list[tuple[str, str]]:
        return sorted(self._by_gv)

    def resources(self, group: str, version: str) -> list[ResourceType]:
        return sorted(self._by_gv.get((group, version), {}).values(), key=lambda r: r.plural)

    def versions_of_group(self, group: str) -> list[str]:
        """Versions of a group, preferred (the first, for CRDs the storage version ordering) first."""
        versions = [v for g, v in self._by_gv if g == group]
        return sorted(versions, key=_version_priority)

    def all(self) -> list[ResourceType]:
        return [r for table in self._by_gv.values() for r in table.values()]

    def any_version(self, group: str, plural: str) -> ResourceType | None:
        for version in self.versions_of_group(group):
            found = self.lookup(group, version, plural)
            if found is not None:
                return found
        return None


def _version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes version ordering: GA before beta before alpha, higher numbers first."""
    import re

    match = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if match is None:
        return (3, 0, 0, version)
    major = int(match.group(1))
    stage = {"": 0, "beta": 1, "alpha": 2}[match.group(2) or ""]
    minor = int(match.group(3) or 0)
    return (stage, -major, -minor, version)
