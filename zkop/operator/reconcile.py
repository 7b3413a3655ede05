"""One idempotent reconcile pass for a ZookeeperCluster: observe, decide (pure), apply, report.

Level-triggered: every decision is recomputed from what is observed, so a pass interrupted at any step
is completed by the next one. A pass that finds nothing to change makes no write at all.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lightkube import ApiError

from zkop.api.cluster import ZookeeperCluster, ZookeeperClusterStatus
from zkop.api.validation import InvalidSpec, parse_cluster, read_status
from zkop.kube.client import Kube
from zkop.kube.clock import utc_now
from zkop.kube.compare import covers
from zkop.operator import sasl, tls
from zkop.plan.ensemble import Action, Reconfig, RestartMember, plan_ensemble
from zkop.plan.immutable import immutable_changes
from zkop.plan.observed import Observed, PodView
from zkop.plan.status import Verdict, conditions, ensemble_status, invalid_spec_verdicts
from zkop.plan.tls import settled as tls_settled
from zkop.plan.version import downgrade_refusal
from zkop.render import _owned, render, restart_hash
from zkop.render import tls as render_tls
from zkop.render.identity import new_password
from zkop.render.names import ANNOTATION_PAUSED, ClusterNames, RenderOptions
from zkop.zookeeper.acls import apply_root
from zkop.zookeeper.connection import ClientTls, Connection
from zkop.zookeeper.membership import Membership, MembershipError, parse_membership
from zkop.zookeeper.observe import PLAIN, EnsembleState, observe_ensemble
from zkop.zookeeper.reconfig import ReconfigError, SuperuserCredential, reconfigure

log = logging.getLogger(__name__)

EnsembleObserver = Callable[..., Awaitable[EnsembleState]]  # (addresses, *, dial)
Reconfigurer = Callable[..., Awaitable[Membership]]


@dataclass
class Context:
    """Everything a pass talks to, injected (tests swap in their own clock or observer)."""

    kube: Kube
    options: RenderOptions = field(default_factory=RenderOptions)
    observe: EnsembleObserver = observe_ensemble
    reconfigure: Reconfigurer = reconfigure
    clock: Callable[[], str] = utc_now
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    protect_root: Callable[..., Awaitable[bool]] = apply_root


@dataclass(frozen=True)
class Outcome:
    """What a pass did: for logs, tests and the benchmark."""

    applied: tuple[str, ...] = ()
    action: str | None = None
    status_written: bool = False
    invalid: str | None = None
    ready: bool = False
    progressing: bool = False


def _rendered_membership(config_map: Mapping[str, Any] | None) -> Membership | None:
    data = (config_map or {}).get("data") or {}
    if "zoo.cfg.dynamic" not in data:
        return None
    try:
        membership = parse_membership(data["zoo.cfg.dynamic"])
        version = int(data.get("zoo.cfg.dynamic.version", "0") or "0", 16)
    except (MembershipError, ValueError):
        return None
    return Membership(membership.members, version)


async def _superuser_password(ctx: Context, cluster: ZookeeperCluster, names: ClusterNames) -> str:
    """Read the superuser password, generating the Secret the first time. Never overwritten."""
    secret = await ctx.kube.get("v1", "Secret", names.superuser_secret, names.namespace)
    if secret is None:
        password = new_password()
        rendered = render(cluster, ctx.options, superuser_password=password).superuser_secret
        if await ctx.kube.create(rendered):
            return password
        secret = await ctx.kube.get("v1", "Secret", names.superuser_secret, names.namespace)
    encoded = ((secret or {}).get("data") or {}).get("password")
    if not encoded:
        raise InvalidSpec([])  # handled by the caller as a broken secret
    return base64.b64decode(encoded).decode()


async def _root_acl(
    ctx: Context,
    cluster: ZookeeperCluster,
    observed: Observed,
    connection: Connection,
    previous: ZookeeperClusterStatus | None,
    status: ZookeeperClusterStatus,
) -> ZookeeperClusterStatus:
    """Apply spec.rootAcl once the ensemble is Ready; recorded in status, so it is done once per change."""
    wanted = cluster.spec.root_acl
    done = previous.root_acl if previous else None
    ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions)
    addresses = [p.ip for p in observed.pods if p.ip and p.ready]
    if done == wanted or not ready or not addresses:
        return status.model_copy(update={"root_acl": done})
    try:
        await ctx.protect_root(addresses, connection, protect=wanted == "protected")
    except Exception as exc:
        log.warning("%s/%s: root ACL not applied yet: %s", cluster.namespace, cluster.name, exc)
        return status.model_copy(update={"root_acl": done})
    return status.model_copy(update={"root_acl": wanted})


async def _remove_network_policy(ctx: Context, names: ClusterNames) -> bool:
    """spec.networkPolicy turned off: delete the policy zkop rendered (never one it did not make)."""
    live = await ctx.kube.get("networking.k8s.io/v1", "NetworkPolicy", names.cluster, names.namespace)
    labels = ((live or {}).get("metadata") or {}).get("labels") or {}
    if live is None or labels.get("app.kubernetes.io/managed-by") != "zkop":
        return False
    return await ctx.kube.delete("networking.k8s.io/v1", "NetworkPolicy", names.cluster, names.namespace)


async def observe(
    ctx: Context, cluster: ZookeeperCluster, names: ClusterNames, connection: Connection | None = None
) -> Observed:
    kube = ctx.kube
    statefulset = await kube.get("apps/v1", "StatefulSet", names.statefulset, names.namespace)
    config_map = await kube.get("v1", "ConfigMap", names.config_map, names.namespace)
    pods = [
        view
        for pod in await kube.list("v1", "Pod", names.namespace, names.selector_labels())
        if (view := PodView.of(pod)) is not None
    ]
    rendered = _rendered_membership(config_map)
    ids = set(rendered.ids if rendered else range(1, cluster.spec.replicas + 1))
    ids |= {p.member_id for p in pods}
    addresses: dict[int, str | None] = {}
    for member_id in sorted(ids):
        pod = next((p for p in pods if p.member_id == member_id), None)
        running = pod is not None and pod.phase == "Running" and not pod.terminating
        addresses[member_id] = pod.ip if running and pod is not None else None
    dial = connection.dial() if connection is not None else PLAIN
    ensemble = await ctx.observe(addresses, dial=dial) if statefulset is not None else None
    return Observed(statefulset, config_map, tuple(pods), ensemble, rendered)


async def _write_status(
    ctx: Context,
    body: Mapping[str, Any],
    previous: ZookeeperClusterStatus | None,
    status: ZookeeperClusterStatus,
) -> bool:
    wire = status.to_wire()
    if previous is not None and previous.to_wire() == wire:
        return False
    meta = body["metadata"]
    await ctx.kube.apply_status(meta["name"], meta["namespace"], wire)
    return True


async def _announce(
    ctx: Context,
    body: Mapping[str, Any],
    previous: ZookeeperClusterStatus | None,
    status: ZookeeperClusterStatus,
) -> None:
    """One Event per change of a condition's reason: the history an operator person reads."""
    before = {c.type: c for c in (previous.conditions if previous else [])}
    for condition in status.conditions:
        old = before.get(condition.type)
        if old is not None and (old.status, old.reason) == (condition.status, condition.reason):
            continue
        if condition.type == "Ready":
            warning = condition.status != "True" and condition.reason in ("InvalidSpec", "NoQuorum")
        elif condition.type == "Degraded":
            if condition.status == "False" and (old is None or old.status == "False"):
                continue  # still not degraded: no news
            warning = condition.status == "True"
        else:
            continue
        await ctx.kube.event(
            dict(body),
            type_="Warning" if warning else "Normal",
            reason=condition.reason,
            message=condition.message,
        )


async def _report_paused(
    ctx: Context, body: Mapping[str, Any], previous: ZookeeperClusterStatus | None
) -> Outcome:
    """A paused cluster is neither changed nor restarted: the guard for manual recovery work."""
    generation = body["metadata"].get("generation")
    base = previous or ZookeeperClusterStatus()
    verdict = {
        "Progressing": Verdict(
            "False", "Paused", f'zkop changes nothing while the annotation {ANNOTATION_PAUSED} is "true"'
        )
    }
    kept = [c for c in base.conditions if c.type != "Progressing"]
    status = base.model_copy(
        update={"conditions": kept + conditions(base.conditions, verdict, generation, ctx.clock())}
    )
    written = await _write_status(ctx, body, previous, status)
    if written:
        await ctx.kube.event(
            dict(body), type_="Normal", reason="Paused", message=verdict["Progressing"].message
        )
    return Outcome(status_written=written)


async def _report_invalid(
    ctx: Context, body: Mapping[str, Any], previous: ZookeeperClusterStatus | None, message: str
) -> Outcome:
    generation = body["metadata"].get("generation")
    base = previous or ZookeeperClusterStatus()
    status = base.model_copy(
        update={
            "conditions": conditions(
                base.conditions, invalid_spec_verdicts(message), generation, ctx.clock()
            ),
            "observed_generation": generation,
        }
    )
    written = await _write_status(ctx, body, previous, status)
    if written:
        await _announce(ctx, body, previous, status)
    log.warning("%s/%s: invalid spec: %s", body["metadata"]["namespace"], body["metadata"]["name"], message)
    return Outcome(status_written=written, invalid=message)


async def _act(
    ctx: Context,
    body: Mapping[str, Any],
    names: ClusterNames,
    observed: Observed,
    action: Action,
    connection: Connection,
) -> tuple[str | None, str | None]:
    """Carry out the plan's one action; return (what was done, why it failed). Failures are retried by
    the next pass, which observes again first."""
    if isinstance(action, RestartMember):
        await ctx.kube.delete("v1", "Pod", action.pod, names.namespace)
        await ctx.kube.event(
            dict(body),
            type_="Normal",
            reason="RestartingMember",
            message=f"restarting {action.pod} (member {action.member_id}) to pick up the new configuration",
        )
        return f"restart {action.pod}", None
    assert isinstance(action, Reconfig)
    addresses = [p.ip for i in action.through if (p := observed.pod(i)) is not None and p.ip]
    what = f"member {action.joining[0].id} joined" if action.joining else f"member {action.leaving[0]} left"
    try:
        result = await ctx.reconfigure(
            addresses,
            connection,
            joining=action.joining,
            leaving=action.leaving,
            from_version=action.from_version,
        )
    except ReconfigError as exc:
        await ctx.kube.event(dict(body), type_="Warning", reason=exc.reason, message=f"reconfig: {exc}")
        return None, f"{exc.reason}: {exc}"
    await ctx.kube.event(
        dict(body),
        type_="Normal",
        reason="MemberAdded" if action.joining else "MemberRemoved",
        message=f"{what}; membership is now {list(result.ids)} (version {result.version_hex})",
    )
    return f"reconfig: {what}", None


async def reconcile(body: Mapping[str, Any], ctx: Context) -> Outcome:
    """Bring the objects of one ZookeeperCluster in line with its spec, and report its status."""
    previous = read_status(ZookeeperClusterStatus, body)
    try:
        cluster = parse_cluster(dict(body))
    except InvalidSpec as exc:
        return await _report_invalid(ctx, body, previous, str(exc))
    names = ClusterNames.of(cluster, ctx.options)
    if (cluster.metadata.get("annotations") or {}).get(ANNOTATION_PAUSED) == "true":
        return await _report_paused(ctx, body, previous)
    try:
        credential = SuperuserCredential(await _superuser_password(ctx, cluster, names))
    except InvalidSpec:
        return await _report_invalid(
            ctx,
            body,
            previous,
            f"secret {names.superuser_secret}: has no password; delete it only if the ensemble is new",
        )
    secrets = await tls.read_secrets(ctx.kube, cluster, names)
    sasl_secrets = await sasl.read_secrets(ctx.kube, cluster, names)
    sasl_plan = sasl.decide(cluster, names, sasl_secrets)
    if sasl_plan.error:
        return await _report_invalid(ctx, body, previous, sasl_plan.error)
    connection = tls.connection(credential, secrets.member, sasl.credential(sasl_plan))
    observed = await observe(ctx, cluster, names, connection)
    # Certificates change only between rolls: a CA rotation step waits until the last roll settled.
    running_hash = restart_hash(
        cluster,
        ctx.options,
        tls_fingerprint=secrets.fingerprint,
        sasl_fingerprint=sasl_secrets.fingerprint(cluster),
    )
    is_settled = tls_settled(observed, running_hash, cluster.spec.replicas)
    tls_plan = tls.decide(cluster, names, secrets, ctx.now(), is_settled)
    if tls_plan.error:
        return await _report_invalid(ctx, body, previous, tls_plan.error)
    desired_hash = restart_hash(
        cluster, ctx.options, tls_fingerprint=tls_plan.fingerprint, sasl_fingerprint=sasl_plan.fingerprint
    )
    plan = plan_ensemble(cluster.spec, observed, names, desired_hash)
    rendered = render(
        cluster,
        ctx.options,
        membership=plan.membership,
        statefulset_replicas=plan.statefulset_replicas,
        tls_fingerprint=tls_plan.fingerprint,
        sasl_fingerprint=sasl_plan.fingerprint,
    )
    if observed.statefulset is not None:
        refused = immutable_changes(observed.statefulset, rendered.objects) or downgrade_refusal(
            observed.statefulset, cluster
        )
        if refused:
            return await _report_invalid(ctx, body, previous, refused)
    # Secrets first: members must find their certificate and SASL users when the StatefulSet starts them.
    applied = await tls.apply_plan(ctx.kube, cluster, names, tls_plan, _owned)
    applied += await tls.apply_plan(ctx.kube, cluster, names, sasl_plan, _owned)
    if tls_plan.member is not None and tls_plan.trust is not None:
        connection = Connection(
            credential,
            ClientTls(tls_plan.member.cert_pem, tls_plan.member.key_pem, tls_plan.trust),
            connection.sasl,
        )
    for manifest in rendered.objects:
        meta = manifest["metadata"]
        live = (
            observed.statefulset
            if manifest["kind"] == "StatefulSet"
            else observed.config_map
            if manifest["kind"] == "ConfigMap" and meta["name"] == names.config_map
            else await ctx.kube.get(manifest["apiVersion"], manifest["kind"], meta["name"], meta["namespace"])
        )
        if live is not None and covers(live, manifest):
            continue
        try:
            await ctx.kube.apply(manifest)
        except ApiError as exc:
            if exc.status.code in (400, 422):
                return await _report_invalid(
                    ctx,
                    body,
                    previous,
                    f"{manifest['kind']} {meta['name']} was refused: {exc.status.message}",
                )
            raise
        applied.append(f"{manifest['kind']}/{meta['name']}")
    if not cluster.spec.network_policy.enabled and await _remove_network_policy(ctx, names):
        applied.append(f"NetworkPolicy/{names.cluster} (deleted)")
    if applied:
        log.info("%s/%s: applied %s", names.namespace, names.cluster, ", ".join(applied))
    done = None
    progress = plan.progress
    if plan.action is not None:
        done, failure = await _act(ctx, body, names, observed, plan.action, connection)
        if failure:
            progress = f"{plan.progress}; last attempt failed: {failure}"
    verdict = None
    if progress:
        verdict = Verdict("True", plan.reason, progress)
    elif plan.pending:
        verdict = Verdict("False", plan.reason, plan.pending)
    status = ensemble_status(
        names=names,
        previous=previous,
        generation=body["metadata"].get("generation"),
        spec_replicas=cluster.spec.replicas,
        membership=plan.membership or rendered.membership,
        observed=observed,
        pending=plan.pending,
        now=ctx.clock(),
        progress=verdict,
        client_port=render_tls.client_port(cluster),
    )
    if cluster.spec.tls.enabled:
        status = status.model_copy(update={"tls": tls.status(cluster, tls_plan)})
    status = await _root_acl(ctx, cluster, observed, connection, previous, status)
    written = await _write_status(ctx, body, previous, status)
    if written:
        await _announce(ctx, body, previous, status)
    ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions)
    progressing = any(c.type == "Progressing" and c.status == "True" for c in status.conditions)
    return Outcome(tuple(applied), done, written, None, ready, progressing)
