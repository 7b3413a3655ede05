"""The member configuration files: static zoo.cfg, dynamic membership, logging, start script."""

from __future__ import annotations

from importlib import resources

from zkop.api.cluster import ZookeeperCluster, ZookeeperClusterSpec
from zkop.render import sasl, tls
from zkop.render.names import ClusterNames
from zkop.zookeeper.membership import ADMIN_PORT, Member, Membership

# The four-letter words zkop reads (the membership); role, zxid and sync state come from the AdminServer,
# whose commands the whitelist does not govern. Nothing else is enabled.
FOUR_LETTER_WORDS = ("conf",)

# Defaults a user may override through spec.config (timing and housekeeping, not safety).
DEFAULT_SETTINGS: dict[str, str] = {
    "tickTime": "2000",
    "initLimit": "10",
    "syncLimit": "5",
    "autopurge.snapRetainCount": "3",
    "autopurge.purgeInterval": "1",
}

# Settings zkop owns. dataDir, dynamicConfigFile and admin.serverAddress are added by the start script,
# which knows the paths and the pod's address. Members bind their own address, not all interfaces
# (quorumListenOnAllIPs stays false): a member's own name always resolves to its own pod IP through the
# pod's /etc/hosts, and explicit binding lets several members share one host in tests.
MANAGED_SETTINGS: dict[str, str] = {
    "standaloneEnabled": "false",
    "reconfigEnabled": "true",
    "4lw.commands.whitelist": ",".join(FOUR_LETTER_WORDS),
    "admin.enableServer": "true",
    "admin.serverPort": str(ADMIN_PORT),
}


def _value(value: int | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def static_config(cluster: ZookeeperCluster) -> str:
    """zoo.cfg without membership: defaults, then the user's settings, then zkop's own (last wins)."""
    settings = dict(DEFAULT_SETTINGS)
    for key in sorted(cluster.spec.config):
        settings[key] = _value(cluster.spec.config[key])
    settings.update(MANAGED_SETTINGS)
    settings.update(tls.static_settings(cluster))
    settings.update(sasl.static_settings(cluster))
    lines = ["# Rendered by zkop; edits are overwritten. Membership lives in the dynamic config file."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def member(spec: ZookeeperClusterSpec, names: ClusterNames, member_id: int) -> Member:
    """A member's line as zkop writes it: without TLS it advertises its plain-text client address; with
    TLS it advertises none (the client listeners are static settings, see render.tls)."""
    if spec.tls.enabled:
        return Member(member_id, names.member_host(member_id), client_address=None)
    return Member(member_id, names.member_host(member_id))


def initial_membership(cluster: ZookeeperCluster, names: ClusterNames, replicas: int) -> Membership:
    """The membership of a new ensemble: members 1..replicas, all voting. Version 0 = not yet known."""
    return Membership(tuple(member(cluster.spec, names, i) for i in range(1, replicas + 1)))


def _file(name: str) -> str:
    return resources.files("zkop.render").joinpath("files", name).read_text(encoding="utf-8")


def start_script() -> str:
    return _file("start.sh")


def logging_config() -> str:
    return _file("logback.xml")
