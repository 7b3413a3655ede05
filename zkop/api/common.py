"""Pieces shared by every zkop resource: model configuration, quantities, conditions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

GROUP = "zkop.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

# Kubernetes' own quantity pattern (apimachinery's resource.Quantity OpenAPI definition).
QUANTITY_PATTERN = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"

Quantity = Annotated[str, Field(pattern=QUANTITY_PATTERN)]

# An object that follows an official Kubernetes schema (affinity, tolerations, ...). The CRD keeps it
# as-is; the API server validates it when zkop copies it into the StatefulSet, and zkop reports a refusal
# as an InvalidSpec condition naming the field.
KubeObject = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
]
KubeObjectList = Annotated[
    list[dict[str, Any]],
    WithJsonSchema(
        {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    ),
]
IntOrString = Annotated[int | str, WithJsonSchema({"x-kubernetes-int-or-string": True})]


class Model(BaseModel):
    """Base for every spec model: camelCase on the wire, unknown fields refused (typos are errors)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The model as the Kubernetes API carries it: camelCase keys, unset optionals left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class StatusModel(BaseModel):
    """Base for status models: camelCase, and tolerant of fields written by newer zkop versions."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


ConditionStatus = Literal["True", "False", "Unknown"]


class Condition(StatusModel):
    """A condition as the Kubernetes API conventions define it (metav1.Condition)."""

    type: str
    status: ConditionStatus
    reason: str = Field(pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    message: str = ""
    observed_generation: int | None = None
    last_transition_time: str


class ClusterRef(Model):
    """The ZookeeperCluster an object works with; its namespace defaults to the object's own."""

    name: str = Field(min_length=1, description="Name of the ZookeeperCluster.")
    namespace: str | None = Field(
        None, description="Namespace of the ZookeeperCluster; this object's if unset."
    )

    def namespace_from(self, own_namespace: str) -> str:
        return self.namespace or own_namespace


class Resource(StatusModel):
    """A whole custom resource as read from the API; metadata stays the plain dict it is."""

    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "default")

    @property
    def uid(self) -> str:
        return str(self.metadata.get("uid") or "")
