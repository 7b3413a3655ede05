"""Cleanup by markers: after a crash (no orderly shutdown) nothing the runtime made survives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kubelet_testlib import (
    eventually,
    link_names,
    make_pod,
    marked_pids,
    mounts_under,
    needs_netns,
    netns_names,
    shell,
)

from zkop_local.kubelet.runtime import markers
from zkop_local.kubelet.runtime.cleanup import cleanup, cleanup_leftovers
from zkop_local.kubelet.runtime.runtime import PodRuntime

pytestmark = pytest.mark.netns


async def _crashed_runtime(state_dir: Path) -> tuple[PodRuntime, list[int]]:
    """A runtime with running pods (one with a child that escaped into its own session), then abandoned."""
    rt = PodRuntime(state_dir, backoff_base=0.3)
    await rt.start()
    pods = [
        make_pod("a", [shell("c", "setsid sleep 300 & sleep 300")]),
        make_pod("b", [shell("c", "sleep 300"), shell("d", "sleep 300")]),
    ]
    for pod in pods:
        await rt.run_pod(pod)
    await eventually(lambda: len(marked_pids(state_dir)) >= 4, what="pod processes")
    assert any(n.startswith(f"zkop-{rt.instance}-") for n in netns_names())
    assert markers.bridge_name(rt.instance) in link_names()
    # A crashed process releases its instance guard with its sockets; this one lives on, so let go.
    assert markers.instance_alive(rt.instance)
    assert rt._guard is not None
    rt._guard.close()
    return rt, marked_pids(state_dir)


def _assert_nothing_left(rt: PodRuntime, state_dir: Path, pids: list[int]) -> None:
    assert not [n for n in netns_names() if n.startswith(f"zkop-{rt.instance}-")]
    links = link_names()
    assert markers.bridge_name(rt.instance) not in links
    for uid in rt.workers:
        assert markers.veth_name(rt.instance, uid) not in links
    assert not mounts_under(str(state_dir), f"/run/netns/zkop-{rt.instance}")
    assert not marked_pids(state_dir)
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


async def test_cleanup_after_crash_leaves_no_netns_veth_bridge_mount_or_process(tmp_path: Path) -> None:
    needs_netns()
    state_dir = tmp_path / "state"
    rt, pids = await _crashed_runtime(state_dir)
    try:
        cleanup(state_dir)
        _assert_nothing_left(rt, state_dir, pids)
        assert not (state_dir / "kubelet").exists()
    finally:
        cleanup(state_dir)


async def test_cleanup_leftovers_finds_everything_by_markers(tmp_path: Path) -> None:
    needs_netns()
    state_dir = tmp_path / "state"
    rt, pids = await _crashed_runtime(state_dir)
    try:
        cleanup_leftovers()
        _assert_nothing_left(rt, state_dir, pids)
    finally:
        cleanup(state_dir)


async def test_cleanup_leftovers_spares_a_live_instance(tmp_path: Path) -> None:
    """Another control plane running beside this one (the demo during a test run) is not a leftover."""
    needs_netns()
    rt = PodRuntime(tmp_path / "alive", backoff_base=0.3)
    await rt.start()
    try:
        await rt.run_pod(make_pod("live", [shell("c", "sleep 300")]))
        await eventually(lambda: marked_pids(tmp_path / "alive"), what="the live pod's process")
        cleanup_leftovers()
        assert markers.bridge_name(rt.instance) in link_names()
        assert any(n.startswith(f"zkop-{rt.instance}-") for n in netns_names())
        assert marked_pids(tmp_path / "alive")
    finally:
        await rt.shutdown()
    assert not markers.instance_alive(rt.instance)


async def test_lose_node_kills_every_process_at_once(tmp_path: Path) -> None:
    needs_netns()
    state_dir = tmp_path / "state"
    rt, _pids = await _crashed_runtime(state_dir)
    try:
        await rt.lose_node()
        await eventually(lambda: not marked_pids(state_dir), what="all processes gone")
        assert rt.lost
    finally:
        cleanup(state_dir)
