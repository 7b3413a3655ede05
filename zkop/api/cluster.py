"""The ZookeeperCluster resource: what a user asks for (spec) and what zkop observed (status)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from zkop.api.common import (
    Condition,
    IntOrString,
    KubeObject,
    KubeObjectList,
    Model,
    Quantity,
    Resource,
    StatusModel,
)
from zkop.api.network_policy import NetworkPolicySpec

KIND = "ZookeeperCluster"
PLURAL = "zookeeperclusters"

# The official image, pinned: upgrades are a deliberate spec change, never a surprise from a moving tag.
DEFAULT_IMAGE = "zookeeper:3.9.3"

# zoo.cfg keys whose value zkop owns: membership, paths, ports and the safety switches. A user who sets
# one would break reconfiguration or the start script, so the spec refuses them.
MANAGED_CONFIG_KEYS = frozenset(
    {
        "dataDir",
        "dataLogDir",
        "dynamicConfigFile",
        "clientPort",
        "secureClientPort",
        "clientPortAddress",
        "secureClientPortAddress",
        "reconfigEnabled",
        "standaloneEnabled",
        "skipACL",
        "quorumListenOnAllIPs",
        "4lw.commands.whitelist",
        "admin.enableServer",
        "admin.serverAddress",
        "admin.serverPort",
        "metricsProvider.className",
        "sslQuorum",
        "serverCnxnFactory",
        "portUnification",
        "client.portUnification",
        "sslQuorumReloadCertFiles",
        "admin.forceHttps",
        "admin.portUnification",
        "enforce.auth.enabled",
        "enforce.auth.schemes",
        "sessionRequireClientSASLAuth",
    }
)
# Families of managed keys: membership lines, quorum-system weights, TLS stores and auth providers.
MANAGED_CONFIG_PREFIXES = ("server.", "group.", "weight.", "ssl.", "authProvider.")

# Go-style durations as cert-manager and Kubernetes write them: 2160h, 90m, 1h30m, 45s.
DURATION_PATTERN = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
Duration = Annotated[str, Field(pattern=DURATION_PATTERN, min_length=2)]


def duration_seconds(value: str) -> int:
    """Seconds of a Duration (already validated by the pattern)."""
    match = re.fullmatch(DURATION_PATTERN, value)
    if match is None or not value:
        raise ValueError(f"{value!r} is not a duration like 2160h or 30m")
    hours, minutes, seconds = (int(g[:-1]) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


_CONFIG_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")
# A value ends up on one line of zoo.cfg: anything that could start a second line (or hide one) is refused.
_FORBIDDEN_VALUE_CHARS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


class StorageSpec(Model):
    """The persistent volume each member keeps its data (snapshots, transaction log, config) on."""

    size: Quantity = Field("10Gi", description="Size of each member's volume, e.g. 10Gi.")
    storage_class_name: str | None = Field(
        None, description="StorageClass of the volumes; cluster default if unset."
    )
    reclaim_policy: Literal["Retain", "Delete"] = Field(
        "Retain",
        description="What happens to a member's volume when the member is removed or the cluster deleted: "
        "Retain keeps it (a later member with the same id starts cleanly from it), Delete removes it.",
    )


class ResourceRequirements(Model):
    """CPU and memory for each member's container (the same shape as a container's resources)."""

    requests: dict[str, Quantity] | None = None
    limits: dict[str, Quantity] | None = None


class JvmSpec(Model):
    """The ZooKeeper server JVM."""

    heap: Quantity | None = Field(
        None, description="Java heap (-Xms and -Xmx), e.g. 512Mi. Unset: the image's default."
    )
    extra_flags: list[str] = Field(
        default_factory=list, description="Extra JVM flags, e.g. -XX:+UseG1GC. One flag per item."
    )

    @field_validator("extra_flags")
    @classmethod
    def _one_flag_per_item(cls, flags: list[str]) -> list[str]:
        for i, flag in enumerate(flags):
            if not flag.startswith("-") or any(c.isspace() for c in flag):
                raise ValueError(
                    f"item {i} ({flag!r}) must be a single JVM flag starting with '-' and without spaces"
                )
        return flags


class PodOverrides(Model):
    """Scheduling and identity settings copied into every member pod."""

    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    affinity: KubeObject | None = None
    tolerations: KubeObjectList | None = None
    node_selector: dict[str, str] | None = None
    priority_class_name: str | None = None
    security_context: KubeObject | None = Field(None, description="The pod-level securityContext.")
    topology_spread_constraints: KubeObjectList | None = None
    service_account_name: str | None = Field(
        None, description="Run members under this ServiceAccount instead of the one zkop creates."
    )


class TlsSpec(Model):
    """TLS for client connections and for the quorum. On by default."""

    enabled: bool = Field(
        True,
        description="Encrypt and authenticate client and quorum traffic. Turning it off is meant for "
        "tests and migrations only.",
    )
    secret_name: str | None = Field(
        None,
        description="Use this Secret (keys tls.crt, tls.key, ca.crt, as cert-manager writes them) as the "
        "members' certificate instead of a zkop-managed CA. Its certificate must cover every member's DNS "
        "name (*.<cluster>-headless.<namespace>.svc.<domain>) and allow client and server authentication; "
        "whoever maintains it renews it, and zkop rolls the members when its content changes.",
    )
    certificate_duration: Duration = Field(
        "2160h", description="Lifetime of member and client certificates zkop issues (default 90 days)."
    )
    renew_before: Duration = Field(
        "720h",
        description="Renew a certificate zkop issued when less than this is left (default 30 days). "
        "Renewal is a leader-last rolling restart.",
    )
    ca_duration: Duration = Field("87600h", description="Lifetime of the CA zkop creates (default 10 years).")
    ca_renew_before: Duration = Field(
        "8760h",
        description="Rotate the CA when less than this is left (default 1 year): trust both, switch, "
        "then drop the old one, a rolling restart each.",
    )
    plaintext_client_port: bool = Field(
        False,
        description="Keep the plain-text client port 2181 open next to TLS on 2281, for migrating clients. "
        "Plain-text clients are not authenticated by certificate.",
    )

    @model_validator(mode="after")
    def _renewal_fits(self) -> TlsSpec:
        for before, lifetime, field in (
            (self.renew_before, self.certificate_duration, "renewBefore"),
            (self.ca_renew_before, self.ca_duration, "caRenewBefore"),
        ):
            if duration_seconds(before) >= duration_seconds(lifetime):
                raise ValueError(
                    f"{field} ({before}) must be shorter than the lifetime it applies to ({lifetime}), "
                    "or certificates would be renewed forever"
                )
        return self


# A SASL user name: a DNS label, as it names the user's Secret `<cluster>-sasl-<user>`.
SASL_USER_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# zkop's own SASL user: every member accepts it, applications cannot take the name.
ZKOP_SASL_USER = "zkop"
MAX_SASL_USERS = 100


class SaslSpec(Model):
    """SASL DIGEST-MD5 users (with authentication.clients: sasl)."""

    users: list[Annotated[str, Field(pattern=SASL_USER_PATTERN, max_length=63)]] = Field(
        default_factory=list,
        max_length=MAX_SASL_USERS,
        description="Users that may connect, one per application (DNS labels, e.g. orders). zkop "
        "generates each password once and writes it to the Secret <cluster>-sasl-<user> (username, "
        "password, and a client JAAS section under jaas.conf). Members read their users at start: adding "
        "or removing one is a rolling restart. The name zkop is reserved for zkop itself.",
    )

    @field_validator("users", mode="before")
    @classmethod
    def _users_are_labels(cls, users: object) -> object:
        # Before the item pattern: these messages name the user and the fix; the pattern stays in the
        # CRD so that the API server refuses the same names.
        if not isinstance(users, list):
            return users
        for i, user in enumerate(users):
            if not isinstance(user, str) or not re.match(SASL_USER_PATTERN, user) or len(user) > 63:
                raise ValueError(
                    f"item {i} ({user!r}) must be a DNS label (lowercase letters, digits and '-', at most "
                    "63 characters, starting and ending with a letter or digit): it names the Secret "
                    "<cluster>-sasl-<user>"
                )
            if user == ZKOP_SASL_USER:
                raise ValueError(
                    f"item {i}: the user {ZKOP_SASL_USER!r} is reserved for zkop itself: choose another name"
                )
        duplicates = sorted({u for u in users if users.count(u) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}: list each user once")
        return users


class AuthenticationSpec(Model):
    """How clients prove who they are."""

    clients: Literal["mtls", "sasl", "none"] | None = Field(
        None,
        description="mtls (the default with TLS): every client presents a certificate from the cluster's "
        "CA (ZooKeeper's x509 provider, identity = the certificate's subject); sasl: every client logs in "
        "with SASL DIGEST-MD5 as one of sasl.users (identity sasl:<user>), clients need no certificate, "
        "and a client that does not log in can do nothing; none (the default without TLS): any client may "
        "connect and authenticates by digest if at all. ACLs apply either way; zkop's own superuser "
        "identity is a digest kept in a Secret.",
    )
    sasl: SaslSpec | None = Field(None, description="The SASL users, with clients: sasl.")

    @field_validator("sasl")
    @classmethod
    def _sasl_needs_sasl_clients(cls, sasl: SaslSpec | None, info: ValidationInfo) -> SaslSpec | None:
        # A field validator (clients is declared before sasl, so it is parsed already): the error names
        # spec.authentication.sasl, the field to change or remove.
        if "clients" not in info.data:
            return sasl  # clients itself is invalid: that error is enough
        clients = info.data["clients"]
        if sasl is not None and sasl.users and clients != "sasl":
            raise ValueError(
                f"users are listed but authentication.clients is {clients or 'not set'}: set "
                "authentication.clients: sasl to let them log in, or remove authentication.sasl"
            )
        return sasl


class ZookeeperClusterSpec(Model):
    """What the user asks for: an ensemble of `replicas` voting members."""

    replicas: int = Field(
        3,
        ge=1,
        le=9,
        description="Number of voting members. Odd numbers (3, 5) tolerate the most failures per member.",
    )
    image: str = Field(DEFAULT_IMAGE, min_length=1, description="The ZooKeeper container image.")
    storage: StorageSpec = Field(default_factory=StorageSpec)  # type: ignore[arg-type]
    resources: ResourceRequirements | None = None
    jvm: JvmSpec = Field(default_factory=JvmSpec)  # type: ignore[arg-type]
    config: dict[str, IntOrString] = Field(
        default_factory=dict,
        description="zoo.cfg settings, e.g. maxClientCnxns: 120. Keys zkop manages (dataDir, server.N, "
        "clientPort, reconfigEnabled, ...) are refused.",
    )
    pod: PodOverrides = Field(default_factory=PodOverrides)  # type: ignore[arg-type]
    tls: TlsSpec = Field(default_factory=TlsSpec)  # type: ignore[arg-type]
    authentication: AuthenticationSpec = Field(default_factory=AuthenticationSpec)  # type: ignore[arg-type]
    network_policy: NetworkPolicySpec = Field(default_factory=NetworkPolicySpec)  # type: ignore[arg-type]
    root_acl: Literal["protected", "open"] = Field(
        "protected",
        description="protected: anyone may read the root, only zkop may create or delete at the top "
        "level (applications get their own subtrees through ZookeeperZnode); open: ZooKeeper's default, "
        "anyone may do anything at the root (for applications that create top-level nodes themselves).",
    )

    @property
    def sasl_users(self) -> list[str]:
        """The application SASL users (without zkop's own); empty unless clients authenticate by SASL."""
        if self.client_auth != "sasl" or self.authentication.sasl is None:
            return []
        return list(self.authentication.sasl.users)

    @property
    def client_auth(self) -> Literal["mtls", "sasl", "none"]:
        """How clients authenticate, with the default filled in."""
        return self.authentication.clients or ("mtls" if self.tls.enabled else "none")

    @model_validator(mode="after")
    def _mtls_needs_tls(self) -> ZookeeperClusterSpec:
        if self.authentication.clients == "mtls" and not self.tls.enabled:
            raise ValueError(
                "authentication.clients 'mtls' needs tls.enabled: true; remove authentication.clients "
                "(or set it to none) to run without TLS"
            )
        return self

    @field_validator("config")
    @classmethod
    def _config_is_safe(cls, config: dict[str, int | str]) -> dict[str, int | str]:
        for key, value in config.items():
            if key in MANAGED_CONFIG_KEYS or key.startswith(MANAGED_CONFIG_PREFIXES):
                raise ValueError(
                    f"key {key!r} is managed by zkop and cannot be set: remove it from spec.config"
                )
            if not _CONFIG_KEY.match(key):
                raise ValueError(
                    f"key {key!r} is not a zoo.cfg key: use letters, digits, '.', '_' and '-', "
                    "starting with a letter"
                )
            if isinstance(value, str) and _FORBIDDEN_VALUE_CHARS.search(value):
                raise ValueError(f"value of {key!r} contains a line break or control character: use one line")
        return config


class MemberStatus(StatusModel):
    """One member of the ensemble as zkop last observed it."""

    id: int
    pod: str
    address: str | None = None
    role: Literal["leader", "follower", "observer", "down"]
    zxid: str | None = None
    synced: bool = False


class TlsStatus(StatusModel):
    """The TLS the members run with."""

    mode: Literal["mtls", "tls", "disabled"]
    issuer: str | None = None  # "zkop CA" or "secret <name>"
    certificate_not_after: str | None = None
    ca_not_after: str | None = None
    plaintext_client_port: bool = False
    rotation: str | None = None  # the CA rotation step under way, if any


class ZookeeperClusterStatus(StatusModel):
    """What zkop observed; written only through the status subresource."""

    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = None
    replicas: int | None = None
    ready_replicas: int | None = None
    members: list[MemberStatus] = Field(default_factory=list)
    leader: str | None = None
    config_version: str | None = None
    connection_string: str | None = None
    tls: TlsStatus | None = None
    root_acl: str | None = None  # the root ACL zkop last applied: protected or open


class ZookeeperCluster(Resource):
    """The whole resource, as read from the API."""

    api_version: Literal["zkop.io/v1alpha1"] = "zkop.io/v1alpha1"
    kind: Literal["ZookeeperCluster"] = "ZookeeperCluster"
    spec: ZookeeperClusterSpec = Field(default_factory=ZookeeperClusterSpec)  # type: ignore[arg-type]
    status: ZookeeperClusterStatus | None = None
