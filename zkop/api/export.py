"""The ZookeeperServiceExport resource: which Kubernetes Services to publish into which ensemble, and in
which registry layouts (Curator / Spring Cloud / Dubbo 3, Dubbo interface-level, Finagle serversets)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from zkop.api.common import ClusterRef, Condition, Model, Resource, StatusModel

EXPORT_KIND = "ZookeeperServiceExport"
EXPORT_PLURAL = "zookeeperserviceexports"

# Per-Service annotations (the Service's owner decides, the export's owner selects).
ANNOTATION_EXPORT = "zkop.io/export"  # "true": opt in even without a label match; "false": never
ANNOTATION_NAME = "zkop.io/export-name"  # the service name in the registry (default: the Service's name)
ANNOTATION_PORT = "zkop.io/export-port"  # a Service port name or number (default: the first port)
ANNOTATION_META_PREFIX = "zkop.io/meta-"  # copied into instance metadata, prefix removed
ANNOTATION_DUBBO_INTERFACE = "zkop.io/dubbo-interface"  # the Java interface a Dubbo provider serves

DEFAULT_BASE_PATHS = {"curator": "/services", "dubbo": "/dubbo", "serverset": "/serversets"}


class LabelSelectorRequirement(Model):
    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)


class LabelSelector(Model):
    """A Kubernetes label selector; `{}` selects every Service in the namespaces."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)


class RegistryFormat(Model):
    """One layout to publish every selected Service in."""

    type: Literal["curator", "dubbo", "serverset"]
    base_path: str | None = Field(
        None,
        pattern=r"^/([^/]+(/[^/]+)*)?$",
        description="Root of the layout. Defaults: curator /services, dubbo /dubbo (the Dubbo group), "
        "serverset /serversets.",
    )
    spring_cloud: bool = Field(
        False,
        description="curator only: write Spring Cloud ZooKeeper's ZookeeperInstance payload (with the "
        "metadata) instead of a null payload. Plain Curator readers need the null payload.",
    )
    include_not_ready: bool = Field(
        True,
        description="serverset only: publish endpoints that are not ready with status STARTING instead "
        "of leaving them out (Curator and Dubbo layouts always leave them out).",
    )

    @property
    def root(self) -> str:
        return self.base_path or DEFAULT_BASE_PATHS[self.type]


class ZookeeperServiceExportSpec(Model):
    """Which Services to publish (namespaces + labelSelector + per-Service annotations), where and how."""

    cluster_ref: ClusterRef
    namespaces: list[str] = Field(
        default_factory=list,
        description="Namespaces whose Services are considered; empty means the export's own namespace.",
    )
    label_selector: LabelSelector | None = Field(
        None,
        description='Services matching it are published unless annotated zkop.io/export="false". '
        'Unset: only Services annotated zkop.io/export="true" are published.',
    )
    formats: list[RegistryFormat] = Field(
        default_factory=lambda: [RegistryFormat(type="curator")],  # type: ignore[call-arg]
        min_length=1,
        description="Layouts to publish in; default one curator layout under /services.",
    )

    @model_validator(mode="after")
    def _distinct_roots(self) -> ZookeeperServiceExportSpec:
        roots = [(f.type, f.root) for f in self.formats]
        if len(set(roots)) != len(roots):
            raise ValueError("formats: the same type and basePath appear twice")
        return self


class ZookeeperServiceExportStatus(StatusModel):
    """What the last sync published; written only through the status subresource."""

    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = None
    services_published: int | None = None
    endpoints_published: int | None = None
    nodes_owned: int | None = None
    last_sync_time: str | None = None
    errors: list[str] = Field(default_factory=list)


class ZookeeperServiceExport(Resource):
    api_version: Literal["zkop.io/v1alpha1"] = "zkop.io/v1alpha1"
    kind: Literal["ZookeeperServiceExport"] = "ZookeeperServiceExport"
    spec: ZookeeperServiceExportSpec
    status: ZookeeperServiceExportStatus | None = None

    @property
    def cluster_namespace(self) -> str:
        return self.spec.cluster_ref.namespace_from(self.namespace)

    @property
    def selected_namespaces(self) -> tuple[str, ...]:
        return tuple(self.spec.namespaces) or (self.namespace,)
