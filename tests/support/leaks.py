"""Secrets must never appear in logs, status, events or printed output.

`secret_needles` turns the Secrets of a control plane into what must not be found: every value that is
secret (passwords, digests, private keys line by line, mirrored Secret values), also base64-encoded as
the API carries it. Certificates and user names are public and are not looked for.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from pathlib import Path

PUBLIC_KEYS = {"tls.crt", "ca.crt", "next-ca.crt", "previous-ca.crt", "username"}
MIN_LENGTH = 12  # shorter values (flags, small numbers) would match by accident


def secret_needles(secrets: Iterable[Mapping[str, str]]) -> set[str]:
    """Strings that must not appear anywhere readable. `secrets`: each Secret's data, decoded."""
    needles: set[str] = set()
    for data in secrets:
        for key, value in data.items():
            if key in PUBLIC_KEYS or not value:
                continue
            if "-----BEGIN" in value:
                lines = [ln.strip() for ln in value.splitlines() if ln.strip() and not ln.startswith("-----")]
                needles.update(ln for ln in lines if len(ln) >= MIN_LENGTH)
            elif len(value) >= MIN_LENGTH:
                needles.add(value)
                needles.add(base64.b64encode(value.encode()).decode())
                # A digest identity "user:hash" carries the password's hash: the hash alone is secret too.
                _, sep, tail = value.partition(":")
                if sep and len(tail) >= MIN_LENGTH:
                    needles.add(tail)
    return needles


def find_leaks(needles: set[str], texts: Mapping[str, str]) -> list[str]:
    """`where: needle[:8]...` for every needle found in a text (name -> content)."""
    return [
        f"{where}: {needle[:8]}..." for where, text in texts.items() for needle in needles if needle in text
    ]


def log_files(root: Path) -> dict[str, str]:
    """Every log file under `root` (operator log, pod logs), by path."""
    return {str(p): p.read_text(errors="replace") for p in sorted(root.rglob("*.log")) if p.is_file()}
