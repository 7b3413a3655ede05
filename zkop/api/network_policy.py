"""`spec.networkPolicy` of a ZookeeperCluster: who may reach the members, as a NetworkPolicy says it.

What it renders to (zkop.render.network_policy): quorum and election ports only from the cluster's own
members, client ports from the selected clients and the zkop operator, the admin port from the operator
only. Everything else is refused, once a CNI that enforces NetworkPolicy runs in the cluster.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema, model_validator

from zkop.api.common import Model

# The labels zkop's operator pods carry when deployed with `zkop deploy` (zkop.render.rbac).
OPERATOR_POD_LABELS = {"app.kubernetes.io/name": "zkop"}


class LabelSelectorRequirement(Model):
    """One expression of a metav1.LabelSelector."""

    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = None

    @model_validator(mode="after")
    def _values_fit_the_operator(self) -> LabelSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(Model):
    """A metav1.LabelSelector. Empty selects everything (every pod, or every namespace)."""

    match_labels: dict[str, str] | None = None
    match_expressions: list[LabelSelectorRequirement] | None = None


# In the CRD, selectors are objects without a declared structure (pydantic validates them when zkop reads
# the spec). Declared structure would make zkop.api.crd give them `default: {}`, and an API server that
# defaults an absent namespaceSelector to `{}` turns "these pods of this namespace" into "these pods of
# every namespace"; an absent operatorSelector defaulted to `{}` would select nothing.
_OBJECT = WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True})
Selector = Annotated[LabelSelector | None, _OBJECT]


class PeerSelector(Model):
    """Pods allowed to connect, as a NetworkPolicyPeer selects them.

    `podSelector` alone: those pods in the cluster's own namespace. `namespaceSelector` alone: every pod of
    the selected namespaces. Both: the selected pods of the selected namespaces. An empty selector (`{}`)
    selects everything at its level."""

    pod_selector: Selector = Field(
        None, description="Pods allowed, in the cluster's namespace unless namespaceSelector is set too."
    )
    namespace_selector: Selector = Field(
        None, description="Namespaces whose pods (those podSelector selects, or all) are allowed."
    )

    @model_validator(mode="after")
    def _selects_something(self) -> PeerSelector:
        if self.pod_selector is None and self.namespace_selector is None:
            raise ValueError("set podSelector, namespaceSelector or both")
        return self


# Pods labelled app.kubernetes.io/name=zkop, in any namespace: where `zkop deploy` puts the operator is
# not known to the cluster's spec, and an operator that cannot reach its ensembles cannot manage them.
DEFAULT_OPERATOR = PeerSelector(
    pod_selector=LabelSelector(match_labels=dict(OPERATOR_POD_LABELS)),
    namespace_selector=LabelSelector(),
)


class NetworkPolicySpec(Model):
    """The NetworkPolicy zkop renders for the members. On by default."""

    enabled: bool = Field(
        True,
        description="Render a NetworkPolicy admitting only the traffic ZooKeeper needs. It is enforced "
        "only where the cluster's network plugin enforces NetworkPolicy.",
    )
    clients: list[PeerSelector] = Field(
        default_factory=list,
        description="Pods allowed on the client ports. Empty: every pod of the cluster's own namespace.",
    )
    # Optional rather than defaulted, and without declared structure in the CRD (see _OBJECT).
    operator_selector: Annotated[PeerSelector | None, _OBJECT] = Field(
        None,
        description="The zkop operator's pods: allowed on the client ports and the admin port. Default: "
        "pods labelled app.kubernetes.io/name=zkop in any namespace; narrow namespaceSelector to the "
        "operator's namespace (e.g. kubernetes.io/metadata.name: zkop-system) where tenants share a cluster.",
    )

    @property
    def operator(self) -> PeerSelector:
        """The operator's pods: `operatorSelector`, or pods labelled app.kubernetes.io/name=zkop anywhere."""
        return self.operator_selector or DEFAULT_OPERATOR
