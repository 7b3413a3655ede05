"""The NetworkPolicy of a cluster's members: who may open a connection to which port.

- Quorum and leader-election ports: only the cluster's own member pods (same namespace, member labels).
- Client ports: the selected clients (`spec.networkPolicy.clients`; none listed means every pod of the
  cluster's namespace) and the zkop operator, which reconfigures membership and writes znodes through them.
- Admin port (the AdminServer): only the operator.

Kubelet probes (readiness and liveness on the admin port) come from the node itself, and traffic between a
pod and its own node is not subject to NetworkPolicy (as Kubernetes documents it and the common CNIs,
Calico and Cilium among them, implement it), so the policy does not list the node.

Egress is not restricted (policyTypes is [Ingress] only): members resolve DNS and reach each other, and
who may connect *to* them is what matters.
"""

from __future__ import annotations

from typing import Any

from zkop.api.network_policy import NetworkPolicySpec, PeerSelector
from zkop.render.names import ClusterNames


def _peer(selector: PeerSelector) -> dict[str, Any]:
    peer: dict[str, Any] = {}
    if selector.pod_selector is not None:
        peer["podSelector"] = selector.pod_selector.to_wire()
    if selector.namespace_selector is not None:
        peer["namespaceSelector"] = selector.namespace_selector.to_wire()
    return peer


def _ports(ports: list[int]) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in sorted(set(ports))]


def network_policy(
    names: ClusterNames,
    spec: NetworkPolicySpec,
    *,
    client_ports: list[int],
    admin_port: int,
    quorum_ports: list[int],
    member_labels: dict[str, str],
) -> dict[str, Any]:
    """One networking.k8s.io/v1 NetworkPolicy selecting the member pods (`member_labels`: the
    StatefulSet's selector labels). Rendered only when `spec.enabled`; the caller decides that.

    Raises ValueError when a quorum port is also a client or admin port (it would be opened to clients),
    or when a port list is empty (a rule without ports admits every port)."""
    if not quorum_ports or not client_ports:
        raise ValueError("quorum_ports and client_ports must not be empty")
    if not member_labels:
        raise ValueError("member_labels must not be empty: an empty selector selects every pod")
    shared = set(quorum_ports) & {*client_ports, admin_port}
    if shared:
        raise ValueError(f"ports {sorted(shared)} cannot be both quorum ports and client or admin ports")
    members = {"podSelector": {"matchLabels": dict(member_labels)}}
    operator = _peer(spec.operator)
    # No clients listed: the cluster's own namespace (an empty podSelector, without namespaceSelector).
    clients = [_peer(c) for c in spec.clients] or [{"podSelector": {}}]
    if operator not in clients:
        clients.append(operator)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": names.cluster, "namespace": names.namespace, "labels": names.labels()},
        "spec": {
            "podSelector": {"matchLabels": dict(member_labels)},
            "policyTypes": ["Ingress"],
            "ingress": [
                # Quorum (followers to the leader) and leader election: member to member only.
                {"from": [members], "ports": _ports(quorum_ports)},
                # ZooKeeper clients, and the operator (reconfig, znodes, registries, config sync).
                {"from": clients, "ports": _ports(client_ports)},
                # The AdminServer: only the operator. Kubelet probes come from the node (see above).
                {"from": [operator], "ports": _ports([admin_port])},
            ],
        },
    }
