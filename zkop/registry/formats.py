"""The node layouts ZooKeeper-native clients read, byte for byte (see docs/registry-sync.md).

- Curator service discovery (also Spring Cloud ZooKeeper and Dubbo 3 application-level discovery):
  `<basePath>/<service>/<instanceId>` holding a ServiceInstance as JSON.
- Dubbo interface-level: `<group>/<interface>/providers/<URL-encoded provider URL>`, empty data.
- Finagle/Aurora serversets: `<basePath>/<service>/member_<id>` holding a status JSON.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

# A fixed namespace for instance ids: the same export, service and endpoint give the same id in every
# process and after every restart, so a rewrite is a no-op instead of a duplicate registration.
_ID_NAMESPACE = uuid.UUID("3f7c2a52-6a1e-5b8e-9a55-2f1d1a7f0c3e")

SPRING_CLOUD_PAYLOAD_CLASS = "org.springframework.cloud.zookeeper.discovery.ZookeeperInstance"
OWNER_METADATA_KEY = "zkop.io/owner"


@dataclass(frozen=True, order=True)
class Endpoint:
    """One address:port serving a Service, and whether Kubernetes considers it ready."""

    address: str
    port: int
    ready: bool = True


def instance_id(export_uid: str, namespace: str, service: str, address: str, port: int) -> str:
    """A uuid5 of the export, the Service and the endpoint: deterministic, so writes are idempotent.

    The export's uid is part of it so that two exports publishing the same Service into the same base
    path each own their own nodes, and a re-created export never adopts its predecessor's nodes.
    """
    return str(uuid.uuid5(_ID_NAMESPACE, f"{export_uid}/{namespace}/{service}/{address}:{port}"))


def _json(document: Mapping[str, Any]) -> bytes:
    # Compact and key-ordered as written: byte-identical output for identical input, so an unchanged
    # instance never shows up as an update.
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def curator_instance(
    *,
    name: str,
    instance: str,
    endpoint: Endpoint,
    registration_ms: int,
    spring_cloud: bool,
    metadata: Mapping[str, str],
    owner: str,
) -> bytes:
    """A Curator ServiceInstance in the JSON Curator's JsonInstanceSerializer reads.

    serviceType STATIC: Curator's word for a registration that is persistent, not tied to a session.
    `enabled` is left out as Curator's compatibility-mode serializer does.
    """
    payload: dict[str, Any] | None = None
    uri_spec: dict[str, Any] | None = None
    if spring_cloud:
        payload = {
            "@class": SPRING_CLOUD_PAYLOAD_CLASS,
            "id": name,
            "name": name,
            "metadata": {**dict(sorted(metadata.items())), OWNER_METADATA_KEY: owner},
        }
        uri_spec = {
            "parts": [
                {"value": "scheme", "variable": True},
                {"value": "://", "variable": False},
                {"value": "address", "variable": True},
                {"value": ":", "variable": False},
                {"value": "port", "variable": True},
            ]
        }
    return _json(
        {
            "name": name,
            "id": instance,
            "address": endpoint.address,
            "port": endpoint.port,
            "sslPort": None,
            "payload": payload,
            "registrationTimeUTC": registration_ms,
            "serviceType": "STATIC",
            "uriSpec": uri_spec,
        }
    )


def java_url_encode(text: str) -> str:
    """java.net.URLEncoder.encode(text, "UTF-8"), which Dubbo uses for node names.

    Python's quote_plus differs in two characters: it keeps `~` (Java encodes it) and encodes `*`
    (Java keeps it).
    """
    return quote_plus(text, safe="*").replace("~", "%7E")


def dubbo_provider_url(
    *, interface: str, application: str, endpoint: Endpoint, metadata: Mapping[str, str]
) -> str:
    """The provider URL a Dubbo consumer parses; parameters sorted so the node name is stable.

    dynamic=false is Dubbo's own flag for a provider registered by someone else (persistent node).
    """
    params = {
        **dict(metadata),
        "anyhost": "false",
        "application": application,
        "category": "providers",
        "dynamic": "false",
        "interface": interface,
        "side": "provider",
    }
    query = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    return f"dubbo://{endpoint.address}:{endpoint.port}/{interface}?{query}"


def dubbo_provider_path(group_root: str, interface: str, url: str) -> str:
    return f"{group_root.rstrip('/')}/{java_url_encode(interface)}/providers/{java_url_encode(url)}"


def serverset_member(endpoint: Endpoint, port_name: str) -> bytes:
    """A Finagle/Aurora serverset member: ALIVE when ready, STARTING while not ready yet."""
    host = {"host": endpoint.address, "port": endpoint.port}
    return _json(
        {
            "serviceEndpoint": host,
            "additionalEndpoints": {port_name or "default": host},
            "status": "ALIVE" if endpoint.ready else "STARTING",
        }
    )


def serverset_member_name(member: str) -> str:
    # Readers only look at children named member_*; the id stands where ZooKeeper's sequence would.
    return f"member_{member.replace('-', '')}"
