"""`zkop deploy`: the operator's ServiceAccount, least-privilege RBAC and Deployment. Valid against the
official schemas, accepted by the local API server, no wildcard, and the rules say what they allow (the
end-to-end proof that they are enough is tests/e2e/test_rbac.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner
from lightkube import AsyncClient, KubeConfig
from lightkube.codecs import from_dict

from tests.support.rbac import Attributes, authorizations, grants, rbac_allows, request_attributes
from zkop.api.crd import all_crds
from zkop.cli import main
from zkop.operator.election import DEFAULT_LEASE_NAME
from zkop.render import rbac
from zkop.render.rbac import DeployOptions
from zkop_local.apiserver import ApiServer

KUBERNETES_VERSIONS = ["1.29.0", "1.33.0", "1.37.0"]
MODES = {
    "namespaced": DeployOptions(),
    "watching-two": DeployOptions(watch_namespaces=("kafka", "payments"), replicas=3),
    "cluster-wide": DeployOptions(cluster_wide=True, replicas=2),
    "no-nodes": DeployOptions(node_access=False, crds=False, create_namespace=False),
}


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def rules_of(options: DeployOptions) -> list[Any]:
    return grants(rbac.rbac(options), options.namespace, options.name)


def allows(
    options: DeployOptions, verb: str, resource: str, namespace: str | None, name: str | None = None
) -> bool:
    """`resource` as `[group/]plural`."""
    group, _, plural = resource.rpartition("/")
    return rbac_allows(rules_of(options), verb, group, plural, "", namespace, name)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("mode", sorted(MODES))
def test_every_object_is_valid_in_strict_mode(mode: str, version: str) -> None:
    for obj in rbac.deploy(MODES[mode]):
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_no_wildcard_anywhere_and_every_rule_says_why(mode: str) -> None:
    for role in of_kind(rbac.rbac(MODES[mode]), "Role") + of_kind(rbac.rbac(MODES[mode]), "ClusterRole"):
        for rule in role["rules"]:
            for key in ("apiGroups", "resources", "verbs"):
                assert rule[key] and not any("*" in item for item in rule[key]), rule
            assert not {"escalate", "bind", "impersonate", "deletecollection"} & set(rule["verbs"])
            assert rbac.reason_for(rule), rule


def test_namespaced_by_default_the_operators_namespace_only() -> None:
    options = DeployOptions()
    objects = rbac.rbac(options)
    assert [(r["metadata"]["namespace"], r["metadata"]["name"]) for r in of_kind(objects, "Role")] == [
        ("zkop-system", "zkop")
    ]
    (binding,) = of_kind(objects, "RoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "zkop"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "zkop", "namespace": "zkop-system"}]
    assert allows(options, "patch", "apps/statefulsets", "zkop-system")
    assert not allows(options, "patch", "apps/statefulsets", "kafka")
    # What is namespaced is never granted across namespaces.
    for verb, resource in [("list", "secrets"), ("get", "secrets"), ("list", "pods"), ("delete", "pods")]:
        assert not allows(options, verb, resource, None), (verb, resource)
        assert not allows(options, verb, resource, "kube-system"), (verb, resource)


def test_the_cluster_role_of_namespaced_mode_only_reads_what_is_cluster_scoped() -> None:
    (cluster_role,) = of_kind(rbac.rbac(DeployOptions()), "ClusterRole")
    assert cluster_role["metadata"]["name"] == "zkop:zkop-system:cluster-reads"
    assert {(r["resources"][0], tuple(r["verbs"])) for r in cluster_role["rules"]} == {
        ("customresourcedefinitions", ("list", "watch")),
        ("namespaces", ("list", "watch")),
        ("nodes", ("list", "watch")),
    }
    without_nodes = rbac.rbac(DeployOptions(node_access=False))
    assert not rbac_allows(grants(without_nodes, "zkop-system", "zkop"), "list", "", "nodes", "", None)


def test_each_watched_namespace_gets_the_same_role() -> None:
    options = MODES["watching-two"]
    roles = of_kind(rbac.rbac(options), "Role")
    assert [(r["metadata"]["namespace"], r["metadata"]["name"]) for r in roles] == [
        ("kafka", "zkop"),
        ("payments", "zkop"),
        ("zkop-system", "zkop-leader-election"),
    ]
    assert roles[0]["rules"] == roles[1]["rules"]
    assert allows(options, "create", "secrets", "payments")
    assert not allows(options, "create", "secrets", "zkop-system")  # not watched: only its Lease there


def test_cluster_wide_is_one_cluster_role_with_the_same_rules_and_no_namespace_watch() -> None:
    options = MODES["cluster-wide"]
    objects = rbac.rbac(options)
    (cluster_role,) = of_kind(objects, "ClusterRole")
    (binding,) = of_kind(objects, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == cluster_role["metadata"]["name"] == "zkop:zkop-system"
    namespaced_rules = of_kind(rbac.rbac(DeployOptions()), "Role")[0]["rules"]
    assert cluster_role["rules"][: len(namespaced_rules)] == namespaced_rules
    assert allows(options, "list", "secrets", None) and allows(options, "delete", "pods", "anywhere")
    assert not allows(options, "list", "namespaces", None)  # kopf observes namespaces only when namespaced


def test_leader_election_only_with_replicas_and_only_its_lease() -> None:
    assert of_kind(rbac.rbac(DeployOptions()), "Role")[-1]["metadata"]["name"] == "zkop"
    options = DeployOptions(replicas=2)
    rules = rules_of(options)
    lease = "coordination.k8s.io/leases"
    assert allows(options, "create", lease, "zkop-system")
    assert allows(options, "update", lease, "zkop-system", name=DEFAULT_LEASE_NAME)
    assert not allows(options, "update", lease, "zkop-system", name="someone-elses")
    assert not allows(options, "update", lease, "kafka", name=DEFAULT_LEASE_NAME)
    assert not rbac_allows(rules, "delete", "coordination.k8s.io", "leases", "", "zkop-system", "zkop-leader")
    assert rbac.DEFAULT_LEASE_NAME == DEFAULT_LEASE_NAME


def test_writes_are_patches_and_creates_never_updates_except_the_lease() -> None:
    options = DeployOptions(replicas=2)
    for role in of_kind(rbac.rbac(options), "Role") + of_kind(rbac.rbac(options), "ClusterRole"):
        for rule in role["rules"]:
            if "update" in rule["verbs"]:
                assert rule["resources"] == ["leases"] or all(
                    r.endswith("/finalizers") for r in rule["resources"]
                )
    for resource in ("configmaps", "services", "serviceaccounts", "secrets", "apps/statefulsets"):
        assert allows(options, "create", resource, "zkop-system")  # an apply that creates is a create
        assert allows(options, "patch", resource, "zkop-system")
    assert not allows(options, "delete", "secrets", "zkop-system")
    assert not allows(options, "get", "persistentvolumeclaims", "zkop-system")


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = of_kind(objects, "Deployment")
    (result,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(result)


def test_the_deployment_runs_zkop_hardened_with_its_service_account() -> None:
    objects = rbac.deploy(DeployOptions(image="registry.example/zkop:1"))
    (deployment,) = of_kind(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "zkop"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    main_container = container(objects)
    assert main_container["image"] == "registry.example/zkop:1"
    assert main_container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert main_container["args"] == [
        "run",
        "--namespace",
        "zkop-system",
        "--cluster-domain",
        "cluster.local",
    ]
    assert "livenessProbe" not in main_container  # `zkop run` serves no health endpoint
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}  # never two unelected replicas at once
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["app.kubernetes.io/name"] == "zkop"  # what a NetworkPolicy's operatorSelector selects
    kinds = [o["kind"] for o in objects]
    assert kinds[: len(all_crds())] == ["CustomResourceDefinition"] * len(all_crds())
    assert kinds[len(all_crds()) :] == [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "Deployment",
    ]


@pytest.mark.parametrize("mode", sorted(MODES))
def test_the_deployment_arguments_are_accepted_by_zkop_run(mode: str) -> None:
    options = MODES[mode]
    args = container(rbac.deploy(options))["args"]
    assert args[0] == "run"
    context = main.commands["run"].make_context("run", list(args[1:]))
    assert context.params["leader_election"] is options.leader_election
    assert context.params["all_namespaces"] is options.cluster_wide
    assert context.params["namespaces"] == (() if options.cluster_wide else options.watched)
    if options.leader_election:
        assert context.params["leader_election_namespace"] == options.namespace
        assert context.params["leader_election_id"] == options.lease_name


def test_deploy_prints_the_objects_with_a_reason_above_every_rule() -> None:
    result = CliRunner().invoke(main, ["deploy", "-n", "zk-ops", "-w", "kafka", "--replicas", "2"])
    assert result.exit_code == 0, result.output
    assert list(yaml.safe_load_all(result.output)) == rbac.deploy(
        DeployOptions(namespace="zk-ops", watch_namespaces=("kafka",), replicas=2)
    )
    assert "# Nodes: ZookeeperConfigSyncs with clusterState.nodes" in result.output
    assert "# leader election: the first candidate creates the Lease" in result.output
    refused = CliRunner().invoke(main, ["deploy", "--cluster-wide", "-w", "kafka"])
    assert refused.exit_code == 2 and "cluster-wide" in refused.output


async def test_the_local_api_server_accepts_the_whole_installation(tmp_path: Path) -> None:
    server = ApiServer()
    await server.start()
    client = AsyncClient(KubeConfig.from_file(str(server.kubeconfig(tmp_path / "kubeconfig"))))
    try:
        options = DeployOptions(watch_namespaces=("kafka",), replicas=2)
        await client.create(
            from_dict({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kafka"}})
        )
        for obj in rbac.deploy(options):
            await client.create(from_dict(obj))
        for obj in rbac.deploy(DeployOptions(namespace="other", cluster_wide=True, crds=False)):
            await client.create(from_dict(obj))
    finally:
        await client.close()
        await server.stop()


# -- the test helpers themselves -------------------------------------------------------------------------


def test_request_attributes_follow_the_api_servers_request_info() -> None:
    def attrs(method: str, path: str, **query: str) -> Attributes | None:
        return request_attributes(method, path, query)

    assert attrs("GET", "/api/v1/namespaces/default/pods") == Attributes(
        "list", "", "pods", "", "default", None
    )
    assert attrs("GET", "/api/v1/pods", watch="true") == Attributes("watch", "", "pods", "", None, None)
    assert attrs("PATCH", "/apis/zkop.io/v1alpha1/namespaces/a/zookeeperclusters/zk/status") == Attributes(
        "patch", "zkop.io", "zookeeperclusters", "status", "a", "zk"
    )
    assert attrs("DELETE", "/api/v1/namespaces/a/pods") == Attributes(
        "deletecollection", "", "pods", "", "a", None
    )
    assert attrs("GET", "/api/v1/namespaces/kafka") == Attributes(
        "get", "", "namespaces", "", "kafka", "kafka"
    )
    assert attrs("PUT", "/apis/coordination.k8s.io/v1/namespaces/a/leases/l") == Attributes(
        "update", "coordination.k8s.io", "leases", "", "a", "l"
    )
    assert attrs("GET", "/apis/apps/v1") is None and attrs("GET", "/version") is None
    apply = "application/apply-patch+yaml"
    created = authorizations("PATCH", "/api/v1/namespaces/a/configmaps/c", {}, apply, 201)
    assert [a.verb for a in created] == ["patch", "create"]
    assert [a.verb for a in authorizations("PATCH", "/api/v1/namespaces/a/configmaps/c", {}, apply, 200)] == [
        "patch"
    ]
