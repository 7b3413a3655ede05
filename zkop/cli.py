"""The `zkop` command line."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from typing import Any

import click
import yaml

from zkop import __version__
from zkop.api.crd import all_crds
from zkop.api.validation import InvalidSpec, parse_cluster
from zkop.render import render
from zkop.render.names import RenderOptions


def _dump_all(objects: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False)


@click.group()
def main() -> None:
    """zkop: Apache ZooKeeper on Kubernetes, and Kubernetes into ZooKeeper."""


@main.command()
def version() -> None:
    """Print zkop's version."""
    click.echo(f"zkop {__version__}")


@main.command()
def crds() -> None:
    """Print every CustomResourceDefinition zkop serves, as YAML."""
    click.echo(_dump_all(all_crds()), nl=False)


@main.command()
@click.option("-n", "--namespace", default="zkop-system", show_default=True, help="The operator's namespace.")
@click.option(
    "-w",
    "--watch-namespace",
    "watch_namespaces",
    multiple=True,
    help="Watch this namespace (repeatable). [default: the operator's namespace]",
)
@click.option("--cluster-wide", is_flag=True, help="Watch every namespace (a ClusterRole instead of Roles).")
@click.option("--image", default=None, help="The operator's image. [default: ghcr.io/zkop/zkop:<version>]")
@click.option("--replicas", default=1, show_default=True, type=click.IntRange(min=1))
@click.option(
    "--node-access/--no-node-access",
    default=True,
    show_default=True,
    help="Let ZookeeperConfigSyncs mirror Nodes (list/watch Nodes cluster-wide).",
)
@click.option("--cluster-domain", default="cluster.local", show_default=True)
@click.option("--crds/--no-crds", default=True, show_default=True, help="Include the CRDs.")
@click.option("--create-namespace/--no-create-namespace", default=True, show_default=True)
def deploy(
    namespace: str,
    watch_namespaces: tuple[str, ...],
    cluster_wide: bool,
    image: str | None,
    replicas: int,
    node_access: bool,
    cluster_domain: str,
    crds: bool,
    create_namespace: bool,
) -> None:
    """Print the operator's installation as YAML: CRDs, ServiceAccount, least-privilege RBAC, Deployment.

    Namespaced by default (a Role in each watched namespace); pipe it to `kubectl apply -f -`."""
    from zkop.render import rbac

    try:
        options = rbac.DeployOptions(
            namespace=namespace,
            watch_namespaces=watch_namespaces,
            cluster_wide=cluster_wide,
            image=image or rbac.DEFAULT_IMAGE,
            replicas=replicas,
            node_access=node_access,
            cluster_domain=cluster_domain,
            crds=crds,
            create_namespace=create_namespace,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(rbac.to_yaml(rbac.deploy(options)), nl=False)


@main.command("render")
@click.option("-f", "--filename", type=click.File("r"), required=True, help="A ZookeeperCluster (YAML).")
@click.option("--cluster-domain", default="cluster.local", show_default=True)
def render_command(filename: Any, cluster_domain: str) -> None:
    """Print every object zkop would create for a ZookeeperCluster, as a YAML stream.

    The superuser Secret is printed without its credential: zkop generates that in the cluster.
    """
    documents = [d for d in yaml.safe_load_all(filename) if d]
    if len(documents) != 1 or documents[0].get("kind") != "ZookeeperCluster":
        raise click.ClickException("expected exactly one ZookeeperCluster document")
    document = documents[0]
    document.setdefault("metadata", {}).setdefault("namespace", "default")
    if not document["metadata"].get("name"):
        raise click.ClickException("metadata.name: required field is missing")
    try:
        cluster = parse_cluster(document)
    except InvalidSpec as exc:
        for error in exc.errors:
            click.echo(f"error: {error}", err=True)
        sys.exit(2)
    rendered = render(cluster, RenderOptions(cluster_domain=cluster_domain))
    click.echo(_dump_all([rendered.superuser_secret, *rendered.objects]), nl=False)


@main.command()
@click.option("-n", "--namespace", "namespaces", multiple=True, help="Watch this namespace (repeatable).")
@click.option("-A", "--all-namespaces", is_flag=True, help="Watch every namespace.")
@click.option("--cluster-domain", default="cluster.local", show_default=True)
@click.option("--verbose", is_flag=True)
@click.option(
    "--leader-election", is_flag=True, help="Run as one of several replicas: only the Lease holder acts."
)
@click.option(
    "--leader-election-namespace",
    default=None,
    help="Namespace of the Lease. [default: the operator's own namespace, or default]",
)
@click.option("--leader-election-id", default="zkop-leader", show_default=True, help="Name of the Lease.")
@click.option("--lease-duration", default=15.0, show_default=True, help="Seconds a Lease lasts unrenewed.")
@click.option("--renew-deadline", default=10.0, show_default=True, help="Seconds a leader tries to renew.")
@click.option("--retry-period", default=2.0, show_default=True, help="Seconds between election attempts.")
def run(
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    cluster_domain: str,
    verbose: bool,
    leader_election: bool,
    leader_election_namespace: str | None,
    leader_election_id: str,
    lease_duration: float,
    renew_deadline: float,
    retry_period: float,
) -> None:
    """Run the operator against the current kubeconfig, or in-cluster configuration."""
    import kopf

    from zkop.operator import election, handlers

    if bool(namespaces) == all_namespaces:
        raise click.UsageError("give --namespace (one or more) or --all-namespaces")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "httpx2", "kazoo.client"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    config = None
    if leader_election:
        try:
            config = election.ElectionConfig(
                namespace=leader_election_namespace or election.default_namespace(),
                identity=election.default_identity(),
                name=leader_election_id,
                lease_duration=lease_duration,
                renew_deadline=renew_deadline,
                retry_period=retry_period,
            )
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
    handlers.configure(RenderOptions(cluster_domain=cluster_domain), config)
    asyncio.run(
        kopf.operator(
            clusterwide=all_namespaces,
            namespaces=list(namespaces),
            standalone=True,
        )
    )


def _add_local_commands() -> None:
    """`zkop local ...` comes from the local control plane package when it is installed beside zkop.

    The operator itself never imports that package; only this CLI entry does, on demand.
    """
    try:
        module = importlib.import_module("zkop_local.cli")
    except ModuleNotFoundError:
        return
    main.add_command(module.local)


_add_local_commands()
