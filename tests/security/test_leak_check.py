"""The leak check every e2e test runs at teardown can fail: it finds what it must find."""

from __future__ import annotations

import base64
import datetime as dt

from tests.support.leaks import find_leaks, secret_needles
from zkop.render.identity import new_password, super_digest
from zkop.security.pki import new_ca

NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


def test_passwords_digests_and_private_keys_are_found_wherever_they_appear() -> None:
    password = new_password()
    ca = new_ca("x", now=NOW, validity=dt.timedelta(days=1))
    secrets = [
        {"username": "super", "password": password, "digest": super_digest(password)},
        {"ca.crt": ca.cert_pem, "ca.key": ca.key_pem},
    ]
    needles = secret_needles(secrets)
    key_line = ca.key_pem.splitlines()[1]
    texts = {
        "clean": f"connected as super; certificate {ca.cert_pem}",
        "password": f"auth failed for super:{password}",
        "encoded": f"data: {base64.b64encode(password.encode()).decode()}",
        "digest": f"-Dzookeeper.DigestAuthenticationProvider.superDigest={super_digest(password)}",
        "key": f"loaded {key_line}",
    }
    found = {leak.split(":")[0] for leak in find_leaks(needles, texts)}
    assert found == {"password", "encoded", "digest", "key"}
