"""Certificates over time: what the cluster's TLS Secrets should hold now. Pure (the caller passes the
time and the Secrets it read; the only side effect is key generation).

zkop-managed mode keeps three Secrets:
- `<cluster>-ca`: the signing CA (`ca.crt`, `ca.key`), and during a CA rotation `next-ca.crt`/`next-ca.key`
  (trusted, not yet signing) or `previous-ca.crt` (still trusted, no longer signing);
- `<cluster>-tls`: the members' certificate (`tls.crt`, `tls.key`) and the trust bundle (`ca.crt`);
- `<cluster>-client-tls`: a client certificate for applications, with the same bundle.

A member reads its certificate and bundle only at start, so every change of `<cluster>-tls` is rolled out
by the leader-last rolling restart (the fingerprint is part of the restart hash). Renewal keeps the CA,
so old and new certificates trust each other throughout. A CA rotation is three rolls, each started only
when the previous one has settled, so that at no moment does a member present a certificate that another
running member does not trust:
1. trust:  bundle = old + new CA, certificates still from the old one;
2. switch: certificates from the new CA, bundle still old + new;
3. drop:   bundle = new CA only.
The step is read back from the CA Secret at every pass, so an operator restart resumes where it was.

User-supplied mode (`spec.tls.secretName`, e.g. a cert-manager Certificate): zkop only reads the Secret,
checks it, and rolls members when its content changes; whoever issues it renews it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from zkop.api.cluster import ZookeeperCluster, duration_seconds
from zkop.plan.observed import Observed
from zkop.render import tls as render_tls
from zkop.render.names import ClusterNames
from zkop.security.pki import (
    CertificateError,
    KeyPair,
    bundle,
    certificate_info,
    issue,
    key_matches,
    new_ca,
    signed_by,
    split_pem,
)

# Annotations: a user asks for renewal or CA rotation by setting a new value (any string, e.g. a time);
# zkop records the value it has acted on in the Secret it changed.
ANNOTATION_RENEW = "zkop.io/renew-certificates"
ANNOTATION_ROTATE_CA = "zkop.io/rotate-ca"
ANNOTATION_RENEWED_FOR = "zkop.io/renewed-for"
ANNOTATION_ROTATED_FOR = "zkop.io/rotated-for"

SecretData = Mapping[str, str]


@dataclass(frozen=True)
class SecretWrite:
    """One Secret zkop should write: its full data and zkop's annotations on it."""

    name: str
    data: dict[str, str] = field(repr=False)
    annotations: dict[str, str] = field(default_factory=dict)
    component: str = "tls"  # the Secret's app.kubernetes.io/component label


@dataclass(frozen=True)
class TlsPlan:
    """What to write, what the members will run with, and what to report."""

    writes: tuple[SecretWrite, ...] = ()
    member: KeyPair | None = None  # the member certificate after the writes
    trust: str | None = None  # the bundle after the writes
    error: str | None = None  # a problem the user must fix (named field and fix)
    rotation: str | None = None  # the CA rotation step under way
    events: tuple[tuple[str, str], ...] = ()
    ca_not_after: dt.datetime | None = None

    @property
    def fingerprint(self) -> str | None:
        """Identifies what members load at start; part of the restart hash."""
        if self.member is None or self.trust is None:
            return None
        return fingerprint(self.member.cert_pem, self.trust)


def fingerprint(cert_pem: str, trust: str) -> str:
    """A member certificate and trust bundle, as one short hash (never the key)."""
    return hashlib.sha256((cert_pem + trust).encode()).hexdigest()[:20]


def _seconds(value: str) -> dt.timedelta:
    return dt.timedelta(seconds=duration_seconds(value))


def _annotation(cluster: ZookeeperCluster, key: str) -> str:
    return str((cluster.metadata.get("annotations") or {}).get(key) or "")


def settled(observed: Observed, restart_hash: str, voters: int) -> bool:
    """The last roll is over: every member runs the current template, is Ready, and serves in sync."""
    template = ((observed.statefulset or {}).get("spec") or {}).get("template") or {}
    if (template.get("metadata") or {}).get("annotations", {}).get("zkop.io/restart-hash") != restart_hash:
        return False
    pods = [p for p in observed.pods if not p.terminating]
    if len(pods) < voters or any(not p.ready or p.restart_hash != restart_hash for p in pods):
        return False
    ensemble = observed.ensemble
    return bool(ensemble and ensemble.leader and all(m.synced for m in ensemble.members))


def _usable(
    data: SecretData | None,
    signer: str,
    *,
    now: dt.datetime,
    renew_before: dt.timedelta,
    names: tuple[str, ...],
) -> KeyPair | None:
    """The Secret's key pair if it is signed by `signer`, matches its key, names what it must and is not
    due for renewal; None when it must be issued anew."""
    if not data or "tls.crt" not in data or "tls.key" not in data:
        return None
    pair = KeyPair(data["tls.crt"], data["tls.key"])
    try:
        info = pair.info
        if not signed_by(pair.cert_pem, signer) or not key_matches(pair):
            return None
    except CertificateError:
        return None
    if info.remaining(now) <= renew_before or not info.valid_at(now):
        return None
    if set(info.dns_names) != set(names):
        return None
    return pair


def plan_user_secret(cluster: ZookeeperCluster, data: SecretData | None, now: dt.datetime) -> TlsPlan:
    """Check a user-supplied Secret; never write it."""
    name = cluster.spec.tls.secret_name
    missing = [k for k in ("tls.crt", "tls.key", "ca.crt") if not (data or {}).get(k)]
    if data is None or missing:
        what = "does not exist" if data is None else f"has no {', '.join(missing)}"
        return TlsPlan(
            error=f"spec.tls.secretName: Secret {name} {what}; create it with keys tls.crt, tls.key and "
            "ca.crt (a cert-manager Certificate writes exactly these), or unset secretName to let zkop "
            "run a CA"
        )
    pair = KeyPair(data["tls.crt"], data["tls.key"])
    try:
        info = pair.info
        trust = bundle(data["ca.crt"])
        if not key_matches(pair):
            raise CertificateError("tls.key does not belong to tls.crt")
        if not any(signed_by(pair.cert_pem, ca) for ca in split_pem(trust)):
            raise CertificateError("tls.crt is not signed by any certificate in ca.crt")
    except CertificateError as exc:
        return TlsPlan(error=f"spec.tls.secretName: Secret {name}: {exc}")
    if not info.valid_at(now):
        return TlsPlan(
            error=f"spec.tls.secretName: Secret {name}: the certificate expired at {info.not_after}"
        )
    return TlsPlan(member=pair, trust=trust)


def plan_tls(
    cluster: ZookeeperCluster,
    names: ClusterNames,
    *,
    ca: SecretData | None,
    member: SecretData | None,
    client: SecretData | None,
    member_annotations: Mapping[str, str] | None = None,
    ca_annotations: Mapping[str, str] | None = None,
    now: dt.datetime,
    is_settled: bool,
    extra_ip_addresses: tuple[str, ...] = (),
) -> TlsPlan:
    """The zkop-managed CA and certificates as they should be now (see the module docstring)."""
    spec = cluster.spec.tls
    if not spec.enabled:
        return TlsPlan()
    if spec.secret_name:
        return plan_user_secret(cluster, member, now)
    events: list[tuple[str, str]] = []
    ca_data = dict(ca or {})
    ca_annotations = dict(ca_annotations or {})
    ca_written = False

    def fresh_ca() -> KeyPair:
        # Each CA gets its own subject: ZooKeeper's PEM trust store keys certificates by subject, so two
        # CAs with one name in a bundle would leave only the last one trusted.
        name = f"zkop {names.namespace}/{names.cluster} {now:%Y%m%dT%H%M%SZ} {secrets.token_hex(3)}"
        return new_ca(name, now=now, validity=_seconds(spec.ca_duration))

    if not ca_data.get("ca.crt"):
        old_trust = (member or {}).get("ca.crt")
        if old_trust:
            # The CA Secret is gone but members run with certificates from it: never sign with a CA they
            # do not trust yet. Keep trusting the old one (without its key) and rotate to a new one.
            new = fresh_ca()
            ca_data = {"ca.crt": old_trust, "next-ca.crt": new.cert_pem, "next-ca.key": new.key_pem}
            events.append(
                ("CARotationStarted", "the CA Secret was missing: trusting a new CA next to the old")
            )
        else:
            first = fresh_ca()
            ca_data = {"ca.crt": first.cert_pem, "ca.key": first.key_pem}
            events.append(("CACreated", f"created the cluster CA in Secret {names.ca_secret}"))
        ca_written = True

    requested = _annotation(cluster, ANNOTATION_ROTATE_CA)
    signer_info = certificate_info(ca_data["ca.crt"])
    rotation_due = (
        not ca_data.get("ca.key")
        or signer_info.remaining(now) <= _seconds(spec.ca_renew_before)
        or (requested and requested != ca_annotations.get(ANNOTATION_ROTATED_FOR))
    )
    rotation = None
    if ca_data.get("next-ca.crt"):
        rotation = "trusting the new CA next to the old one (1/3)"
        # Switch only once members run with the new CA in their bundle (written with step 1 and rolled
        # out since: the last roll settled with that bundle).
        member_trust = split_pem((member or {}).get("ca.crt", ""))
        rolled_out = certificate_info(ca_data["next-ca.crt"]).fingerprint in {
            certificate_info(c).fingerprint for c in member_trust
        }
        if is_settled and rolled_out and ca_data.get("next-ca.key"):
            ca_data = {
                "ca.crt": ca_data["next-ca.crt"],
                "ca.key": ca_data["next-ca.key"],
                "previous-ca.crt": ca_data["ca.crt"],
            }
            ca_written = True
            rotation = "certificates from the new CA, the old one still trusted (2/3)"
            events.append(("CARotationSwitched", "members get certificates from the new CA"))
    elif ca_data.get("previous-ca.crt"):
        rotation = "certificates from the new CA, the old one still trusted (2/3)"
        member_current = (member or {}).get("tls.crt")
        if is_settled and member_current and signed_by(member_current, ca_data["ca.crt"]):
            ca_data = {k: v for k, v in ca_data.items() if k != "previous-ca.crt"}
            ca_written = True
            rotation = "dropping the old CA from the trust bundle (3/3)"
            events.append(("CARotationFinished", "the old CA is no longer trusted"))
    elif rotation_due and ca_data.get("ca.key"):
        new = fresh_ca()
        ca_data = {**ca_data, "next-ca.crt": new.cert_pem, "next-ca.key": new.key_pem}
        ca_written = True
        rotation = "trusting the new CA next to the old one (1/3)"
        events.append(("CARotationStarted", "trusting a new CA next to the old one"))
    if ca_written and requested:
        ca_annotations[ANNOTATION_ROTATED_FOR] = requested

    trust = bundle(*(ca_data[k] for k in ("ca.crt", "next-ca.crt", "previous-ca.crt") if ca_data.get(k)))
    writes: list[SecretWrite] = []
    if ca_written:
        writes.append(SecretWrite(names.ca_secret, ca_data, ca_annotations))

    signer = KeyPair(ca_data["ca.crt"], ca_data["ca.key"]) if ca_data.get("ca.key") else None
    renew_before = _seconds(spec.renew_before)
    renew_token = _annotation(cluster, ANNOTATION_RENEW)
    renewed_for = dict(member_annotations or {}).get(ANNOTATION_RENEWED_FOR, "")
    dns = tuple(render_tls.member_dns_names(names))

    def keep_or_issue(
        data: SecretData | None, name: str, common_name: str, dns_names: tuple[str, ...], server: bool
    ) -> KeyPair | None:
        if signer is None:
            # No signing key (mid-rotation after a lost CA Secret): keep what members have; a renewal
            # waits until the rotation gives zkop a CA it can sign with.
            if not data or not data.get("tls.crt") or not data.get("tls.key"):
                return None
            usable: KeyPair | None = KeyPair(data["tls.crt"], data["tls.key"])
            renewal_asked = False
        else:
            usable = _usable(data, ca_data["ca.crt"], now=now, renew_before=renew_before, names=dns_names)
            renewal_asked = server and renew_token not in ("", renewed_for)
        if usable is not None and not renewal_asked:
            if dict(data or {}).get("ca.crt") == trust:
                return usable
            writes.append(SecretWrite(name, {**dict(data or {}), "ca.crt": trust}, _tokens(name)))
            return usable
        assert signer is not None
        pair = issue(
            signer,
            common_name,
            now=now,
            validity=_seconds(spec.certificate_duration),
            dns_names=dns_names,
            ip_addresses=extra_ip_addresses if server else (),
            server=server,
        )
        writes.append(
            SecretWrite(
                name, {"tls.crt": pair.cert_pem, "tls.key": pair.key_pem, "ca.crt": trust}, _tokens(name)
            )
        )
        events.append(
            (
                "CertificateIssued",
                f"issued {common_name} into Secret {name}, "
                f"valid until {pair.info.not_after:%Y-%m-%dT%H:%M:%SZ}",
            )
        )
        return pair

    def _tokens(name: str) -> dict[str, str]:
        return {ANNOTATION_RENEWED_FOR: renew_token} if name == names.tls_secret and renew_token else {}

    member_pair = keep_or_issue(member, names.tls_secret, f"{names.cluster}.{names.namespace}", dns, True)
    keep_or_issue(client, names.client_tls_secret, f"{names.cluster}-client.{names.namespace}", (), False)
    if member_pair is None:
        return TlsPlan(
            error="the CA Secret has no key and the members have no certificate: delete Secret "
            f"{names.ca_secret} and {names.tls_secret} only on a cluster with no running member"
        )
    return TlsPlan(
        writes=tuple(writes),
        member=member_pair,
        trust=trust,
        rotation=rotation,
        events=tuple(events),
        ca_not_after=certificate_info(ca_data["ca.crt"]).not_after,
    )
