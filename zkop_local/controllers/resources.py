"""Which API resources the controllers talk to, and the lightkube classes for them.

The classes are lightkube *generic* resources (dict-shaped) built here without registering them in
lightkube's global registry: registering a generic ``apps/v1 StatefulSet`` would change what
``lightkube.codecs`` returns for everyone else in the process (the operator under test, the kubelet).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from lightkube.core.resource import ApiInfo
from lightkube.generic_resource import (
    GenericGlobalResource,
    GenericGlobalStatus,
    GenericNamespacedResource,
    GenericNamespacedStatus,
    create_api_info,
)


@dataclass(frozen=True, order=True)
class ResourceKind:
    """One served resource: the group/version/kind plus the URL plural and its scope."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


POD = ResourceKind("", "v1", "Pod", "pods", True)
PVC = ResourceKind("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True)
PV = ResourceKind("", "v1", "PersistentVolume", "persistentvolumes", False)
SERVICE = ResourceKind("", "v1", "Service", "services", True)
ENDPOINTS = ResourceKind("", "v1", "Endpoints", "endpoints", True)
NAMESPACE = ResourceKind("", "v1", "Namespace", "namespaces", False)
SERVICE_ACCOUNT = ResourceKind("", "v1", "ServiceAccount", "serviceaccounts", True)
NODE = ResourceKind("", "v1", "Node", "nodes", False)
STATEFULSET = ResourceKind("apps", "v1", "StatefulSet", "statefulsets", True)
DEPLOYMENT = ResourceKind("apps", "v1", "Deployment", "deployments", True)
REPLICASET = ResourceKind("apps", "v1", "ReplicaSet", "replicasets", True)
CONTROLLER_REVISION = ResourceKind("apps", "v1", "ControllerRevision", "controllerrevisions", True)
ENDPOINT_SLICE = ResourceKind("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True)
STORAGE_CLASS = ResourceKind("storage.k8s.io", "v1", "StorageClass", "storageclasses", False)
LEASE = ResourceKind("coordination.k8s.io", "v1", "Lease", "leases", True)


@functools.cache
def model(rk: ResourceKind) -> type[Any]:
    """The (unregistered) lightkube class for ``rk``; its ``Status`` attribute is the /status subresource."""
    info = create_api_info(rk.group, rk.version, rk.kind, rk.plural)
    status_info = ApiInfo(
        resource=info.resource,
        parent=info.resource,
        plural=rk.plural,
        verbs=["get", "patch", "put"],
        action="status",
    )
    base: type[Any] = GenericNamespacedResource if rk.namespaced else GenericGlobalResource
    status_base: type[Any] = GenericNamespacedStatus if rk.namespaced else GenericGlobalStatus
    status_cls = type(f"{rk.kind}Status", (status_base,), {"_api_info": status_info})
    return type(rk.kind, (base,), {"_api_info": info, "Status": status_cls})
