"""What it takes to run the zkop operator in a cluster, with least privilege: its ServiceAccount, RBAC,
Deployment and the CRDs (`zkop deploy` prints them).

Every permission below names the code that needs it. Nothing is granted with `*`. Two modes:

- namespaced (default): a Role and RoleBinding in each watched namespace (the operator's own unless told
  otherwise), plus one small ClusterRole for what is cluster-scoped by nature: the Nodes a
  ZookeeperConfigSync may mirror (optional), and kopf's observation of namespaces and CRDs.
- cluster-wide (`--cluster-wide`): one ClusterRole and ClusterRoleBinding with the same rules.

Leader election (several replicas) adds a Role for its one Lease in the operator's namespace.

Things zkop does *not* need, deliberately: PersistentVolumeClaims (the StatefulSet controller removes
members' volumes, following persistentVolumeClaimRetentionPolicy), `update` on anything but the Lease
(every write is a server-side apply, a JSON or merge patch), `list` of Secrets across the cluster in
namespaced mode, and kopf's peering resources (zkop elects a leader with its own Lease).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Any

import yaml

from zkop import __version__
from zkop.api.cluster import PLURAL as CLUSTER_PLURAL
from zkop.api.common import GROUP
from zkop.api.configsync import PLURAL as CONFIGSYNC_PLURAL
from zkop.api.crd import all_crds
from zkop.api.export import EXPORT_PLURAL
from zkop.api.network_policy import OPERATOR_POD_LABELS
from zkop.api.znode import ZNODE_PLURAL

# zkop.operator.election.DEFAULT_LEASE_NAME (kept here so rendering imports no operator code; a test
# checks they agree).
DEFAULT_LEASE_NAME = "zkop-leader"

DEFAULT_NAMESPACE = "zkop-system"
DEFAULT_IMAGE = f"ghcr.io/zkop/zkop:{__version__}"
# A non-root uid/gid without a home or a shell in any base image (distroless' `nonroot`).
OPERATOR_UID = 65532


@dataclass(frozen=True)
class Permission:
    """One PolicyRule and the reason zkop needs it."""

    why: str
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...] = ()

    def rule(self) -> dict[str, Any]:
        rule: dict[str, Any] = {
            "apiGroups": list(self.api_groups),
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }
        if self.resource_names:
            rule["resourceNames"] = list(self.resource_names)
        return rule


# -- what the operator does in every namespace it watches ------------------------------------------------

NAMESPACED: tuple[Permission, ...] = (
    # The custom resources.
    Permission(
        "ZookeeperClusters: kopf lists and watches them and patches its annotations onto them; handlers, "
        "ZookeeperZnodes, exports and config syncs read the cluster they refer to (operator/access.py)",
        (GROUP,),
        (CLUSTER_PLURAL,),
        ("get", "list", "watch", "patch"),
    ),
    Permission(
        "ZookeeperZnodes: kopf lists, watches and patches them; zkop adds and removes its finalizer with a "
        "JSON patch after reading the object, and config sync readers refer to them (operator/znodes.py)",
        (GROUP,),
        (ZNODE_PLURAL,),
        ("get", "list", "watch", "patch"),
    ),
    Permission(
        "ZookeeperServiceExports and ZookeeperConfigSyncs: kopf lists and watches them (daemons, events) "
        "and patches finalizers and annotations; config sync adds its own finalizer with a JSON patch",
        (GROUP,),
        (EXPORT_PLURAL, CONFIGSYNC_PLURAL),
        ("list", "watch", "patch"),
    ),
    Permission(
        "status of every zkop resource: server-side apply (clusters, znodes) or merge patch (exports, "
        "config syncs) of the status subresource",
        (GROUP,),
        tuple(f"{p}/status" for p in (CLUSTER_PLURAL, ZNODE_PLURAL, EXPORT_PLURAL, CONFIGSYNC_PLURAL)),
        ("patch",),
    ),
    Permission(
        "objects zkop creates carry an owner reference with blockOwnerDeletion to their ZookeeperCluster "
        "or ZookeeperZnode; with the OwnerReferencesPermissionEnforcement admission plugin that needs "
        "update on the owner's finalizers",
        (GROUP,),
        (f"{CLUSTER_PLURAL}/finalizers", f"{ZNODE_PLURAL}/finalizers"),
        ("update",),
    ),
    # What zkop renders for each cluster (render/__init__.py) and each ZookeeperZnode (render/znode.py).
    # Every write is a server-side apply: `patch`, and `create` for an object that does not exist yet
    # (the API server authorizes an apply that creates as `create`). `get` reads before applying.
    Permission(
        "ConfigMaps: the members' configuration and discovery ConfigMaps are read and applied; kopf "
        "lists and watches ConfigMaps so a change reaches the ZookeeperConfigSyncs mirroring it",
        ("",),
        ("configmaps",),
        ("get", "list", "watch", "create", "patch"),
    ),
    Permission(
        "Secrets: the superuser and application credentials are created once and read; their owner "
        "references are merge-patched; config sync reads the Secrets it mirrors, and kopf lists and "
        "watches Secrets so a change reaches the sync",
        ("",),
        ("secrets",),
        ("get", "list", "watch", "create", "patch"),
    ),
    Permission(
        "Services: the headless and client Services are read and applied; exports list and watch every "
        "Service of their namespaces to publish them into a ZooKeeper registry",
        ("",),
        ("services",),
        ("get", "list", "watch", "create", "patch"),
    ),
    Permission(
        "ServiceAccounts: the members' ServiceAccount (no token mounted, no permissions) is read and applied",
        ("",),
        ("serviceaccounts",),
        ("get", "create", "patch"),
    ),
    Permission(
        "StatefulSets: the members' StatefulSet is read and applied (replicas follow membership changes)",
        ("apps",),
        ("statefulsets",),
        ("get", "create", "patch"),
    ),
    Permission(
        "PodDisruptionBudgets: the members' budget is read and applied",
        ("policy",),
        ("poddisruptionbudgets",),
        ("get", "create", "patch"),
    ),
    Permission(
        "NetworkPolicies: the members' NetworkPolicy (spec.networkPolicy) is read and applied, and "
        "deleted when it is turned off",
        ("networking.k8s.io",),
        ("networkpolicies",),
        ("get", "create", "patch", "delete"),
    ),
    Permission(
        "Pods: members are listed (addresses and roles); a member is deleted to restart it, one at a time, "
        "leader last (the StatefulSet's update strategy is OnDelete); kopf lists and watches pods for the "
        "config syncs mirroring them",
        ("",),
        ("pods",),
        ("list", "watch", "delete"),
    ),
    Permission(
        "EndpointSlices: exports list and watch them to publish each Service's ready endpoints",
        ("discovery.k8s.io",),
        ("endpointslices",),
        ("list", "watch"),
    ),
    Permission(
        "Events: zkop records what it did and why (kube/client.py), kopf posts handler warnings",
        ("",),
        ("events",),
        ("create",),
    ),
)

# -- what is cluster-scoped by nature --------------------------------------------------------------------

NODES = Permission(
    "Nodes: ZookeeperConfigSyncs with clusterState.nodes mirror node readiness and addresses; kopf "
    "watches Nodes cluster-wide (they are not namespaced) whatever namespaces the operator watches",
    ("",),
    ("nodes",),
    ("list", "watch"),
)
CRDS = Permission(
    "CustomResourceDefinitions: kopf lists and watches them to notice zkop's resources being installed "
    "or changed while it runs (read only)",
    ("apiextensions.k8s.io",),
    ("customresourcedefinitions",),
    ("list", "watch"),
)
NAMESPACES = Permission(
    "Namespaces: kopf, when it watches named namespaces, lists and watches Namespaces to follow their "
    "creation and deletion (read only; without it kopf falls back to assuming they exist)",
    ("",),
    ("namespaces",),
    ("list", "watch"),
)


def lease_permissions(lease_name: str) -> tuple[Permission, ...]:
    """Leader election (operator/election.py): its one Lease, in the operator's namespace."""
    return (
        Permission(
            "leader election: the first candidate creates the Lease (RBAC cannot limit create by name)",
            ("coordination.k8s.io",),
            ("leases",),
            ("create",),
        ),
        Permission(
            "leader election: candidates read the Lease, the leader renews it with a PUT carrying the "
            "resourceVersion read, and releases it on a graceful stop",
            ("coordination.k8s.io",),
            ("leases",),
            ("get", "update"),
            (lease_name,),
        ),
    )


# -- options ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployOptions:
    namespace: str = DEFAULT_NAMESPACE
    name: str = "zkop"
    image: str = DEFAULT_IMAGE
    image_pull_policy: str = "IfNotPresent"
    replicas: int = 1
    cluster_wide: bool = False
    watch_namespaces: tuple[str, ...] = ()  # namespaced mode; empty: the operator's own namespace
    node_access: bool = True
    cluster_domain: str = "cluster.local"
    lease_name: str = DEFAULT_LEASE_NAME
    create_namespace: bool = True
    crds: bool = True

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError("replicas must be at least 1")
        if self.cluster_wide and self.watch_namespaces:
            raise ValueError("watch namespaces are for the namespaced mode; --cluster-wide watches all")

    @property
    def watched(self) -> tuple[str, ...]:
        """The namespaces watched in namespaced mode, each once, in the order given."""
        return tuple(dict.fromkeys(self.watch_namespaces or (self.namespace,)))

    @property
    def leader_election(self) -> bool:
        return self.replicas > 1

    @property
    def cluster_role_name(self) -> str:
        """ClusterRoles are cluster-wide: the name carries the namespace, so installs do not collide."""
        return f"{self.name}:{self.namespace}"

    @property
    def labels(self) -> dict[str, str]:
        return {
            **OPERATOR_POD_LABELS,
            "app.kubernetes.io/instance": self.name,
            "app.kubernetes.io/component": "operator",
            "app.kubernetes.io/version": __version__,
        }

    @property
    def selector_labels(self) -> dict[str, str]:
        return {**OPERATOR_POD_LABELS, "app.kubernetes.io/instance": self.name}


def cluster_permissions(options: DeployOptions) -> tuple[Permission, ...]:
    """Cluster-scoped permissions of the mode (kopf watches namespaces only when not cluster-wide)."""
    cluster: list[Permission] = [CRDS]
    if not options.cluster_wide:
        cluster.append(NAMESPACES)
    if options.node_access:
        cluster.append(NODES)
    return tuple(cluster)


# -- objects ---------------------------------------------------------------------------------------------


def _meta(options: DeployOptions, name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = options.labels
    return meta


def _subjects(options: DeployOptions) -> list[dict[str, Any]]:
    return [{"kind": "ServiceAccount", "name": options.name, "namespace": options.namespace}]


def role(
    options: DeployOptions, name: str, namespace: str, permissions: tuple[Permission, ...]
) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": _meta(options, name, namespace),
        "rules": [p.rule() for p in permissions],
    }


def cluster_role(options: DeployOptions, name: str, permissions: tuple[Permission, ...]) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": _meta(options, name),
        "rules": [p.rule() for p in permissions],
    }


def role_binding(options: DeployOptions, name: str, namespace: str, role_kind: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta(options, name, namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": name},
        "subjects": _subjects(options),
    }


def cluster_role_binding(options: DeployOptions, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": _meta(options, name),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": _subjects(options),
    }


def service_account(options: DeployOptions) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _meta(options, options.name, options.namespace),
    }


def rbac(options: DeployOptions) -> list[dict[str, Any]]:
    """The ServiceAccount, and the Roles, ClusterRoles and their bindings of the chosen mode."""
    objects = [service_account(options)]
    if options.cluster_wide:
        name = options.cluster_role_name
        objects += [
            cluster_role(options, name, NAMESPACED + cluster_permissions(options)),
            cluster_role_binding(options, name),
        ]
    else:
        cluster = cluster_permissions(options)
        if cluster:
            name = f"{options.cluster_role_name}:cluster-reads"
            objects += [cluster_role(options, name, cluster), cluster_role_binding(options, name)]
        for namespace in options.watched:
            objects += [
                role(options, options.name, namespace, NAMESPACED),
                role_binding(options, options.name, namespace, "Role"),
            ]
    if options.leader_election:
        name = f"{options.name}-leader-election"
        objects += [
            role(options, name, options.namespace, lease_permissions(options.lease_name)),
            role_binding(options, name, options.namespace, "Role"),
        ]
    return objects


def operator_args(options: DeployOptions) -> list[str]:
    """`zkop run` as the Deployment runs it."""
    args = ["run"]
    if options.cluster_wide:
        args.append("--all-namespaces")
    else:
        for namespace in options.watched:
            args += ["--namespace", namespace]
    args += ["--cluster-domain", options.cluster_domain]
    if options.leader_election:
        args += [
            "--leader-election",
            "--leader-election-namespace",
            options.namespace,
            "--leader-election-id",
            options.lease_name,
        ]
    return args


def deployment(options: DeployOptions) -> dict[str, Any]:
    """The operator's Deployment: non-root, read-only root filesystem, no capabilities, RuntimeDefault
    seccomp. One replica is replaced with Recreate (two unelected replicas must never act together);
    several elect a leader through a Lease and roll normally.

    No liveness probe: `zkop run` does not start kopf's health endpoint; a crashed operator exits and
    the kubelet restarts it."""
    container: dict[str, Any] = {
        "name": "operator",
        "image": options.image,
        "imagePullPolicy": options.image_pull_policy,
        "command": ["zkop"],
        "args": operator_args(options),
        "env": [
            # The leader-election identity (election.default_identity) and the operator's namespace.
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "512Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    strategy: dict[str, Any] = (
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
        if options.leader_election
        else {"type": "Recreate"}
    )
    pod_spec: dict[str, Any] = {
        "serviceAccountName": options.name,
        "automountServiceAccountToken": True,
        # Time to stop handlers and hand the Lease over (election.Election.stop).
        "terminationGracePeriodSeconds": 30,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": OPERATOR_UID,
            "runAsGroup": OPERATOR_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}],
    }
    if options.leader_election:
        pod_spec["affinity"] = {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": options.selector_labels},
                        },
                    }
                ]
            }
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(options, options.name, options.namespace),
        "spec": {
            "replicas": options.replicas,
            "selector": {"matchLabels": options.selector_labels},
            "strategy": strategy,
            "template": {"metadata": {"labels": options.labels}, "spec": pod_spec},
        },
    }


def namespace(options: DeployOptions) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(options, options.namespace)}


def deploy(options: DeployOptions) -> list[dict[str, Any]]:
    """Everything `zkop deploy` prints, in an order `kubectl apply -f -` accepts in one go."""
    objects: list[dict[str, Any]] = list(all_crds()) if options.crds else []
    if options.create_namespace:
        objects.append(namespace(options))
    return [*objects, *rbac(options), deployment(options)]


def reason_for(rule: dict[str, Any]) -> str | None:
    """Why zkop needs a rendered rule, if it is one of zkop's (resourceNames aside)."""
    for permission in (*NAMESPACED, NODES, CRDS, NAMESPACES, *lease_permissions("")):
        rendered = permission.rule()
        if all(rendered[k] == rule.get(k) for k in ("apiGroups", "resources", "verbs")):
            return permission.why
    return None


def to_yaml(objects: list[dict[str, Any]]) -> str:
    """A YAML stream of `objects` in which every RBAC rule is preceded by a comment saying why."""
    documents = []
    for obj in objects:
        rules = obj.get("rules") if obj.get("kind") in ("Role", "ClusterRole") else None
        if not rules:
            documents.append(yaml.safe_dump(obj, sort_keys=False, default_flow_style=False))
            continue
        text = yaml.safe_dump(
            {k: v for k, v in obj.items() if k != "rules"}, sort_keys=False, default_flow_style=False
        )
        text += "rules:\n"
        for rule in rules:
            why = reason_for(rule)
            if why:
                text += "".join(f"# {line}\n" for line in textwrap.wrap(why, 100))
            text += yaml.safe_dump([rule], sort_keys=False, default_flow_style=False)
        documents.append(text)
    return "---\n".join(documents)
