"""`zkop local up|down|status|kubeconfig`: the local control plane as a background service."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from zkop_local.daemon import STATE_FILE
from zkop_local.kubelet.runtime.cleanup import cleanup, cleanup_leftovers

DEFAULT_STATE_DIR = Path(os.environ.get("ZKOP_LOCAL_DIR", Path.home() / ".local" / "state" / "zkop-local"))


def _state(state_dir: Path) -> dict[str, Any] | None:
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    state: dict[str, Any] = json.loads(path.read_text())
    return state


def _is_our_daemon(pid: int, state_dir: Path) -> bool:
    """Only a process whose command line is our daemon for this state dir is ever signalled."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"zkop_local.daemon" in cmdline and str(state_dir).encode() in cmdline


@click.group()
@click.option("--state-dir", type=click.Path(path_type=Path), default=DEFAULT_STATE_DIR, show_default=True)
@click.pass_context
def local(ctx: click.Context, state_dir: Path) -> None:
    """A local Kubernetes control plane (API server, controllers, process kubelet) running zkop."""
    ctx.obj = state_dir.resolve()


@local.command()
@click.option("--port", type=int, default=0, help="API server port (default: any free port).")
@click.option("--timeout", type=float, default=60.0, show_default=True)
@click.pass_obj
def up(state_dir: Path, port: int, timeout: float) -> None:
    """Start the control plane and the operator in the background."""
    state = _state(state_dir)
    if state and _is_our_daemon(state["pid"], state_dir):
        click.echo(f"already running (pid {state['pid']}): {state['url']}")
        click.echo(state["kubeconfig"])
        return
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "daemon.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "zkop_local.daemon", "--state-dir", str(state_dir), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _state(state_dir)
        if state and state["pid"] == process.pid:
            break
        if process.poll() is not None:
            raise click.ClickException(f"the control plane exited; see {state_dir / 'daemon.log'}")
        time.sleep(0.2)
    else:
        raise click.ClickException(
            f"the control plane did not start in {timeout}s; see {state_dir}/daemon.log"
        )
    kubectl = Path(sys.executable).parent / "kubectl"
    click.echo(f"local control plane up (pid {state['pid']}), API server {state['url']}")
    click.echo("the zkop operator runs against it; its log: " + str(state_dir / "operator.log"))
    click.echo(f"use it: export KUBECONFIG={state['kubeconfig']}; {kubectl} get zk -A")
    click.echo(f"stop it: zkop local down --state-dir {state_dir}")


@local.command()
@click.option("--timeout", type=float, default=60.0, show_default=True)
@click.pass_obj
def down(state_dir: Path, timeout: float) -> None:
    """Stop everything and remove every process, namespace, bridge, mount and directory it made."""
    state = _state(state_dir)
    if state and _is_our_daemon(state["pid"], state_dir):
        os.kill(state["pid"], signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _is_our_daemon(state["pid"], state_dir):
            time.sleep(0.2)
        if _is_our_daemon(state["pid"], state_dir):
            os.kill(state["pid"], signal.SIGKILL)
    # Also after a crash: whatever carries our markers goes.
    cleanup(state_dir, remove_state=True)
    cleanup_leftovers([state_dir])
    if state_dir.exists():
        import shutil

        shutil.rmtree(state_dir, ignore_errors=True)
    click.echo("local control plane down; nothing left behind")


@local.command()
@click.pass_obj
def status(state_dir: Path) -> None:
    """Say whether the control plane runs, where, and what it runs."""
    state = _state(state_dir)
    if not state or not _is_our_daemon(state["pid"], state_dir):
        click.echo("not running")
        sys.exit(3)
    click.echo(f"running (pid {state['pid']}), API server {state['url']}, kubeconfig {state['kubeconfig']}")
    kubectl = Path(sys.executable).parent / "kubectl"
    env = {**os.environ, "KUBECONFIG": state["kubeconfig"]}
    subprocess.run([str(kubectl), "get", "nodes,zk,pods", "-A", "-o", "wide"], env=env, check=False)


@local.command()
@click.pass_obj
def kubeconfig(state_dir: Path) -> None:
    """Print the kubeconfig's path (as the last line)."""
    state = _state(state_dir)
    if not state:
        raise click.ClickException("not running: zkop local up")
    click.echo(state["kubeconfig"])
