"""Shared fixtures. Tests mirror the package layout; real components everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ensemble import LocalEnsemble, zookeeper_available


@pytest.fixture
def ensemble(tmp_path: Path) -> Iterator[LocalEnsemble]:
    """A 3-member ensemble started from the rendered configuration; stopped (kill -9) afterwards."""
    if not zookeeper_available():
        pytest.fail("Debian's zookeeper package is not installed: run `make setup` (make test does)")
    members = LocalEnsemble(tmp_path / "ensemble")
    members.start_all()
    try:
        yield members
    finally:
        members.stop_all()
