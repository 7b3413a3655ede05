"""SASL as rendered: zoo.cfg enforcement, the Secret volume and user list, the restart hash, discovery,
and the start script's JAAS file (run for real with a stand-in zkServer.sh)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.render.cases import CASES
from zkop.api.validation import parse_cluster
from zkop.render import render
from zkop.render.config import start_script

SASL_SETTINGS = [
    "authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
    "enforce.auth.enabled=true",
    "enforce.auth.schemes=sasl",
]


def cluster(users: list[str], tls: bool = True) -> Any:
    spec: dict[str, Any] = {"authentication": {"clients": "sasl", "sasl": {"users": users}}}
    if not tls:
        spec["tls"] = {"enabled": False}
    return parse_cluster({"metadata": {"name": "zk", "namespace": "shop"}, "spec": spec})


def objects(c: Any, **kwargs: Any) -> dict[str, dict[str, Any]]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in render(c, **kwargs).objects}


def container(c: Any) -> dict[str, Any]:
    return objects(c)["StatefulSet/zk"]["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


@pytest.mark.parametrize("tls", [True, False])
def test_sasl_enforces_logins_in_zoo_cfg(tls: bool) -> None:
    zoo_cfg = objects(cluster(["orders"], tls))["ConfigMap/zk-config"]["data"]["zoo.cfg"].splitlines()
    assert all(setting in zoo_cfg for setting in SASL_SETTINGS)
    assert "sessionRequireClientSASLAuth=true" not in zoo_cfg  # enforce.auth.* is ZooKeeper 3.7+'s way
    if tls:
        assert "ssl.clientAuth=none" in zoo_cfg  # clients need no certificate, TLS still encrypts
        assert "secureClientPort=2281" in zoo_cfg


def test_other_client_authentication_renders_no_sasl() -> None:
    for case in CASES.values():
        if case["spec"].get("authentication", {}).get("clients") == "sasl":
            continue
        rendered = objects(parse_cluster(case))
        config = next(o for k, o in rendered.items() if k.endswith("-config"))
        assert "sasl" not in config["data"]["zoo.cfg"]
        sts = next(o for k, o in rendered.items() if k.startswith("StatefulSet/"))
        pod = sts["spec"]["template"]["spec"]
        assert not any(v["name"] == "sasl" for v in pod["volumes"])
        assert not any(e["name"].startswith("ZKOP_SASL") for e in pod["containers"][0]["env"])


def test_members_mount_the_users_secret_read_only_and_are_told_which_users_to_load() -> None:
    c = cluster(["orders", "billing-api"])
    sts = objects(c)["StatefulSet/zk"]
    volume = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if v["name"] == "sasl")
    assert volume == {"name": "sasl", "secret": {"secretName": "zk-sasl", "defaultMode": 0o440}}
    main = container(c)
    assert {"name": "sasl", "mountPath": "/etc/zkop-sasl", "readOnly": True} in main["volumeMounts"]
    env = {e["name"]: e.get("value") for e in main["env"]}
    assert env["ZKOP_SASL_DIR"] == "/etc/zkop-sasl"
    assert env["ZKOP_SASL_USERS"] == "billing-api orders zkop"  # sorted: reordering restarts nothing
    assert container(cluster(["billing-api", "orders"])) == main


def test_the_restart_hash_follows_the_users_and_their_passwords() -> None:
    c = cluster(["orders"])
    base = render(c, sasl_fingerprint="aaaa").restart_hash
    assert render(c, sasl_fingerprint="bbbb").restart_hash != base
    assert render(cluster(["orders", "payments"]), sasl_fingerprint="aaaa").restart_hash != base
    assert render(cluster(["orders"]), sasl_fingerprint="aaaa").restart_hash == base
    # Clusters without SASL hash as before (no fingerprint is added).
    minimal = parse_cluster(CASES["minimal"])
    assert render(minimal).restart_hash == render(minimal, sasl_fingerprint=None).restart_hash


@pytest.mark.parametrize("tls", [True, False])
def test_discovery_says_clients_log_in_by_sasl(tls: bool) -> None:
    data = objects(cluster(["orders"], tls))["ConfigMap/zk-zookeeper"]["data"]
    assert data["ZOOKEEPER_CLIENT_AUTH"] == "sasl"
    assert data["ZOOKEEPER_TLS"] == ("true" if tls else "false")
    assert data["ZOOKEEPER_CLIENT_PORT"] == ("2281" if tls else "2181")


# The start script, for real: a stand-in zkServer.sh prints what ZooKeeper would be started with.
_FAKE_SERVER = """#!/bin/bash
echo "JVMFLAGS=$SERVER_JVMFLAGS"
"""


def run_start_script(tmp_path: Path, users: str, secret: dict[str, str]) -> subprocess.CompletedProcess[str]:
    c = cluster(["orders", "billing-api"])
    templates = tmp_path / "templates"
    templates.mkdir()
    for key, text in objects(c)["ConfigMap/zk-config"]["data"].items():
        (templates / key).write_text(text)
    mounted = tmp_path / "sasl"
    mounted.mkdir()
    for user, password in secret.items():
        (mounted / user).write_text(password)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "zkServer.sh").write_text(_FAKE_SERVER)
    (bin_dir / "zkServer.sh").chmod(0o755)
    (tmp_path / "runtime").mkdir()
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "POD_NAME": "zk-0",
        "ZKOP_PEER_DOMAIN": "zk-headless.shop.svc.cluster.local",
        "ZKOP_TEMPLATES": str(templates),
        "ZKOP_DATA": str(tmp_path / "data"),
        "ZKOP_SUPER_DIGEST": "super:x",
        "ZKOP_RUNTIME": str(tmp_path / "runtime"),
        "ZKOP_SASL_DIR": str(mounted),
        "ZKOP_SASL_USERS": users,
    }
    script = tmp_path / "start.sh"
    script.write_text(start_script())
    return subprocess.run(["/bin/bash", str(script)], env=env, capture_output=True, text=True, timeout=30)


def test_the_start_script_writes_the_listed_users_into_a_private_jaas_file(tmp_path: Path) -> None:
    secret = {"zkop": "Zk0p-pass_word", "orders": "0rders~pw", "billing-api": "b.i+l/l=", "gone": "old-pw"}
    result = run_start_script(tmp_path, "billing-api orders zkop", secret)
    assert result.returncode == 0, result.stderr
    jaas = tmp_path / "runtime" / "zkop-sasl" / "jaas.conf"
    assert result.stdout.strip().endswith(f"-Djava.security.auth.login.config={jaas}")
    assert jaas.read_text() == (
        "Server {\n"
        "  org.apache.zookeeper.server.auth.DigestLoginModule required\n"
        '  user_billing-api="b.i+l/l="\n'
        '  user_orders="0rders~pw"\n'
        '  user_zkop="Zk0p-pass_word"\n'
        "  ;\n"
        "};\n"
    )
    assert jaas.stat().st_mode & 0o777 == 0o600
    assert (jaas.parent.stat().st_mode & 0o777) == 0o700
    assert not any(password in result.stdout + result.stderr for password in secret.values())
    assert "SASL DIGEST-MD5 for users: billing-api orders zkop" in result.stderr


@pytest.mark.parametrize(
    ("users", "secret", "says"),
    [
        ("orders zkop", {"zkop": "ok"}, "has no password for SASL user 'orders'"),
        (
            "orders zkop",
            {"zkop": "ok", "orders": 'br"eak'},
            "the SASL password of 'orders' is empty or holds",
        ),
        ("orders zkop", {"zkop": "ok", "orders": ""}, "the SASL password of 'orders' is empty or holds"),
        ("Or*ders zkop", {"zkop": "ok"}, "SASL user 'Or*ders' is not a DNS label"),
    ],
)
def test_the_start_script_refuses_what_would_break_the_jaas_file(
    tmp_path: Path, users: str, secret: dict[str, str], says: str
) -> None:
    result = run_start_script(tmp_path, users, secret)
    assert result.returncode == 65
    assert says in result.stderr
    assert "JVMFLAGS" not in result.stdout  # ZooKeeper is not started
    assert not (tmp_path / "runtime" / "zkop-sasl" / "jaas.conf.tmp").exists()
    assert 'br"eak' not in result.stderr
