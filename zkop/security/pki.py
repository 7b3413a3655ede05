"""Certificates with the `cryptography` library: a cluster CA, member and client certificates, and what
zkop needs to know about a certificate (validity, subject, issuer, fingerprint). Pure: the caller gives
the time, nothing touches the network or the disk.

Keys are ECDSA P-256 (what Java 17 and Python's ssl both speak with TLS 1.2 and 1.3, small and fast to
generate). Everything is PEM: ZooKeeper 3.8 reads PEM key and trust stores directly (`ssl.*.type=PEM`), so
no keytool and no store passwords are needed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Certificates start a little in the past: clocks of members and clients are never exactly in step.
BACKDATE = dt.timedelta(minutes=5)


class CertificateError(ValueError):
    """PEM data that is not a usable certificate or key."""


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, both PEM."""

    cert_pem: str
    key_pem: str

    @property
    def info(self) -> CertificateInfo:
        return certificate_info(self.cert_pem)


@dataclass(frozen=True)
class CertificateInfo:
    """What zkop reads from a certificate."""

    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    fingerprint: str  # SHA-256, hex
    is_ca: bool
    dns_names: tuple[str, ...]

    def remaining(self, now: dt.datetime) -> dt.timedelta:
        return self.not_after - now

    def valid_at(self, now: dt.datetime) -> bool:
        return self.not_before <= now < self.not_after


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def new_ca(common_name: str, *, now: dt.datetime, validity: dt.timedelta) -> KeyPair:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    key = _key()
    name = _name(common_name, "zkop")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return KeyPair(_cert_pem(cert), _key_pem(key))


def issue(
    ca: KeyPair,
    common_name: str,
    *,
    now: dt.datetime,
    validity: dt.timedelta,
    dns_names: Sequence[str] = (),
    ip_addresses: Sequence[str] = (),
    server: bool = True,
    client: bool = True,
) -> KeyPair:
    """A leaf certificate signed by `ca`. Members need both usages (they are servers to clients and peers,
    and clients of their peers); application and operator certificates are client-only. Never outlives
    its CA."""
    ca_cert = _load_cert(ca.cert_pem)
    ca_key = serialization.load_pem_private_key(ca.key_pem.encode(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise CertificateError("the CA key is not an EC key zkop created")
    key = _key()
    usages = [
        u
        for u, on in ((ExtendedKeyUsageOID.SERVER_AUTH, server), (ExtendedKeyUsageOID.CLIENT_AUTH, client))
        if on
    ]
    not_after = min(now + validity, ca_cert.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_addresses]
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return KeyPair(_cert_pem(builder.sign(ca_key, hashes.SHA256())), _key_pem(key))


def _load_cert(pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise CertificateError(f"not a PEM certificate: {exc}") from None


def split_pem(bundle: str) -> list[str]:
    """The certificates of a PEM bundle, each as its own PEM text, in order."""
    marker = "-----END CERTIFICATE-----"
    return [
        part.strip() + "\n" + marker + "\n" for part in bundle.split(marker) if "BEGIN CERTIFICATE" in part
    ]


def bundle(*pems: str) -> str:
    """One trust bundle from certificates and bundles, each certificate once, in first-seen order."""
    seen: dict[str, str] = {}
    for pem in pems:
        for cert in split_pem(pem):
            seen.setdefault(certificate_info(cert).fingerprint, cert)
    return "".join(seen.values())


def certificate_info(pem: str) -> CertificateInfo:
    """The first certificate of `pem`, read."""
    cert = _load_cert(pem)
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        is_ca = constraints.ca
    except x509.ExtensionNotFound:
        is_ca = False
    try:
        names = tuple(
            cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
                x509.DNSName
            )
        )
    except x509.ExtensionNotFound:
        names = ()
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        is_ca=is_ca,
        dns_names=names,
    )


def signed_by(cert_pem: str, ca_pem: str) -> bool:
    """Whether `ca_pem`'s key signed `cert_pem` (signature and issuer name; validity is not checked)."""
    cert, ca = _load_cert(cert_pem), _load_cert(ca_pem)
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def key_matches(pair: KeyPair) -> bool:
    """Whether the private key belongs to the certificate."""
    try:
        key = serialization.load_pem_private_key(pair.key_pem.encode(), password=None)
    except (ValueError, TypeError):
        return False
    public = _load_cert(pair.cert_pem).public_key()
    return bool(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
