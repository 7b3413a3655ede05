"""Fixtures: a started process runtime on its own bridge, torn down (and cleaned by markers) even when a
test fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kubelet_testlib import needs_netns

from zkop_local.kubelet.runtime.cleanup import cleanup
from zkop_local.kubelet.runtime.runtime import PodRuntime
from zkop_local.kubelet.runtime.sources import StaticSources


@pytest.fixture
def sources() -> StaticSources:
    return StaticSources()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
async def runtime(state_dir: Path, sources: StaticSources) -> AsyncIterator[PodRuntime]:
    needs_netns()
    rt = PodRuntime(state_dir, sources=sources, backoff_base=0.3, backoff_cap=2.0, volume_refresh_seconds=0.5)
    await rt.start()
    try:
        yield rt
    finally:
        try:
            await rt.shutdown()
        finally:
            cleanup(state_dir)
