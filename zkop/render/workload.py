"""The StatefulSet that runs the members, and its PodDisruptionBudget."""

from __future__ import annotations

from typing import Any

from zkop.api.cluster import ZookeeperCluster
from zkop.render import sasl, tls
from zkop.render.hashing import restart_hash
from zkop.render.names import ANNOTATION_RESTART_AT, ANNOTATION_RESTART_HASH, ClusterNames
from zkop.render.quantity import mebibytes
from zkop.zookeeper.membership import ADMIN_PORT, ELECTION_PORT, QUORUM_PORT

CONTAINER = "zookeeper"
DATA_VOLUME = "data"
CONFIG_MOUNT = "/etc/zkop"
DATA_MOUNT = "/data"
LOGS_MOUNT = "/logs"  # the official image's ZOO_LOG_DIR
# The official image runs ZooKeeper as user and group 1000 (`zookeeper`).
ZOOKEEPER_UID = 1000


def _env(cluster: ZookeeperCluster, names: ClusterNames) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "ZKOP_PEER_DOMAIN", "value": names.peer_domain},
        {"name": "ZKOP_TEMPLATES", "value": CONFIG_MOUNT},
        {"name": "ZKOP_DATA", "value": DATA_MOUNT},
        {
            "name": "ZKOP_SUPER_DIGEST",
            "valueFrom": {"secretKeyRef": {"name": names.superuser_secret, "key": "digest"}},
        },
        {"name": "ZKOP_RUNTIME", "value": tls.RUNTIME_MOUNT},
    ]
    if cluster.spec.tls.enabled:
        env.append({"name": "ZKOP_TLS_DIR", "value": tls.TLS_MOUNT})
    if sasl.enabled(cluster):
        env.append({"name": "ZKOP_SASL_DIR", "value": sasl.SASL_MOUNT})
        env.append({"name": "ZKOP_SASL_USERS", "value": " ".join(sasl.accepted_users(cluster))})
    flags = list(cluster.spec.jvm.extra_flags)
    if cluster.spec.jvm.heap:
        heap = mebibytes(cluster.spec.jvm.heap)
        env.append({"name": "ZK_SERVER_HEAP", "value": str(heap)})
        flags = [f"-Xms{heap}m", f"-Xmx{heap}m", *flags]
    if flags:
        env.append({"name": "SERVER_JVMFLAGS", "value": " ".join(flags)})
    return env


def _container(cluster: ZookeeperCluster, names: ClusterNames) -> dict[str, Any]:
    # With TLS the AdminServer speaks HTTPS only; probes do not verify certificates (as in Kubernetes).
    scheme = "HTTPS" if cluster.spec.tls.enabled else "HTTP"
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": cluster.spec.image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/bash", f"{CONFIG_MOUNT}/start.sh"],
        "env": _env(cluster, names),
        "ports": [
            *(
                {"name": tls.PORT_NAMES[port], "containerPort": port, "protocol": "TCP"}
                for port in tls.client_ports(cluster)
            ),
            {"name": "quorum", "containerPort": QUORUM_PORT, "protocol": "TCP"},
            {"name": "election", "containerPort": ELECTION_PORT, "protocol": "TCP"},
            {"name": "admin", "containerPort": ADMIN_PORT, "protocol": "TCP"},
        ],
        # Ready means "serving as part of a quorum": the AdminServer's monitor command fails with 500
        # while a member is electing or syncing (ruok would answer imok then).
        "readinessProbe": {
            "httpGet": {"path": "/commands/monitor", "port": "admin", "scheme": scheme},
            "periodSeconds": 5,
            "timeoutSeconds": 3,
            "failureThreshold": 2,
        },
        # Alive means the JVM answers at all; an electing member is alive, so no restart loops in elections.
        "livenessProbe": {
            "httpGet": {"path": "/commands/ruok", "port": "admin", "scheme": scheme},
            "initialDelaySeconds": 30,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 6,
        },
        "volumeMounts": [
            {"name": DATA_VOLUME, "mountPath": DATA_MOUNT},
            {"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True},
            {"name": "runtime", "mountPath": tls.RUNTIME_MOUNT},
            {"name": "logs", "mountPath": LOGS_MOUNT},
            *(
                [{"name": "tls", "mountPath": tls.TLS_MOUNT, "readOnly": True}]
                if cluster.spec.tls.enabled
                else []
            ),
            *(
                [{"name": "sasl", "mountPath": sasl.SASL_MOUNT, "readOnly": True}]
                if sasl.enabled(cluster)
                else []
            ),
        ],
        # Everything ZooKeeper writes goes to volumes: data and config to /data, the JVM's and the TLS
        # key store's scratch files to /tmp (memory), logs to /logs. The image itself stays read-only.
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    if cluster.spec.resources:
        resources = cluster.spec.resources.to_wire()
        if resources:
            container["resources"] = resources
    return container


def _volumes(cluster: ZookeeperCluster, names: ClusterNames) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": "config", "configMap": {"name": names.config_map, "defaultMode": 0o444}},
        {"name": "runtime", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
        {"name": "logs", "emptyDir": {"sizeLimit": "1Gi"}},
    ]
    if cluster.spec.tls.enabled:
        # 0440 with fsGroup: readable by the member's group, never by others.
        secret = {"secretName": tls.member_secret(cluster, names), "defaultMode": 0o440}
        volumes.append({"name": "tls", "secret": secret})
    if sasl.enabled(cluster):
        # The users' passwords: only ever in this Secret and in the JAAS file the start script writes
        # from it into the memory-backed runtime directory.
        volumes.append({"name": "sasl", "secret": {"secretName": names.sasl_secret, "defaultMode": 0o440}})
    return volumes


def _pod_spec(cluster: ZookeeperCluster, names: ClusterNames) -> dict[str, Any]:
    overrides = cluster.spec.pod
    spec: dict[str, Any] = {
        "serviceAccountName": overrides.service_account_name or names.service_account,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 30,
        "securityContext": overrides.security_context
        or {
            "runAsUser": ZOOKEEPER_UID,
            "runAsGroup": ZOOKEEPER_UID,
            "fsGroup": ZOOKEEPER_UID,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "affinity": overrides.affinity
        or {
            # Spread members over nodes when the cluster can; never refuse to schedule because of it.
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": names.selector_labels()},
                        },
                    }
                ]
            }
        },
        "containers": [_container(cluster, names)],
        "volumes": _volumes(cluster, names),
    }
    for key, value in (
        ("tolerations", overrides.tolerations),
        ("nodeSelector", overrides.node_selector),
        ("priorityClassName", overrides.priority_class_name),
        ("topologySpreadConstraints", overrides.topology_spread_constraints),
    ):
        if value:
            spec[key] = value
    return spec


def pod_template(
    cluster: ZookeeperCluster,
    names: ClusterNames,
    config_files: dict[str, str],
    tls_fingerprint: str | None = None,
    sasl_fingerprint: str | None = None,
) -> dict[str, Any]:
    """The member pod template, annotated with the hash of everything a restart would pick up: also the
    fingerprints of the member certificate and trust bundle and of the SASL users, as ZooKeeper reads
    them only at start."""
    spec = _pod_spec(cluster, names)
    labels = {**cluster.spec.pod.labels, **names.labels()}
    annotations = dict(cluster.spec.pod.annotations)
    restart_at = cluster.metadata.get("annotations", {}).get(ANNOTATION_RESTART_AT)
    parts: list[Any] = [spec, labels, annotations, config_files, restart_at]
    if tls_fingerprint is not None:
        parts.append(tls_fingerprint)  # absent without TLS: hashes of existing clusters stay the same
    if sasl_fingerprint is not None:
        parts.append({"sasl": sasl_fingerprint})  # absent without SASL, likewise
    annotations[ANNOTATION_RESTART_HASH] = restart_hash(*parts)
    return {"metadata": {"labels": labels, "annotations": annotations}, "spec": spec}


def statefulset(
    cluster: ZookeeperCluster, names: ClusterNames, replicas: int, template: dict[str, Any]
) -> dict[str, Any]:
    storage = cluster.spec.storage
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage.size}},
    }
    if storage.storage_class_name:
        claim_spec["storageClassName"] = storage.storage_class_name
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": names.statefulset, "namespace": names.namespace, "labels": names.labels()},
        "spec": {
            "replicas": replicas,
            "serviceName": names.headless_service,
            "selector": {"matchLabels": names.selector_labels()},
            # Parallel: a fresh ensemble needs a majority up before any member can be Ready.
            "podManagementPolicy": "Parallel",
            # OnDelete: zkop restarts members itself, one at a time, leader last.
            "updateStrategy": {"type": "OnDelete"},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": storage.reclaim_policy,
                "whenScaled": storage.reclaim_policy,
            },
            "template": template,
            "volumeClaimTemplates": [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": DATA_VOLUME, "labels": names.labels()},
                    "spec": claim_spec,
                }
            ],
        },
    }


def pod_disruption_budget(names: ClusterNames, voters: int) -> dict[str, Any]:
    """Voluntary disruptions (drains, evictions) never take the ensemble below quorum: one member at a
    time from three voters up; none for one or two voters, which have no member to spare."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": names.pdb, "namespace": names.namespace, "labels": names.labels()},
        "spec": {
            "maxUnavailable": 1 if voters >= 3 else 0,
            "selector": {"matchLabels": names.selector_labels()},
        },
    }
