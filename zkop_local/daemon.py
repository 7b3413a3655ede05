"""The background process behind `zkop local up`: runs a LocalCluster until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
from pathlib import Path

from zkop_local.cluster import LocalCluster

STATE_FILE = "local.json"


async def serve(state_dir: Path, port: int) -> None:
    cluster = LocalCluster(state_dir, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await cluster.start()
    (state_dir / STATE_FILE).write_text(
        json.dumps({"pid": os.getpid(), "url": cluster.server.url, "kubeconfig": str(cluster.kubeconfig)})
    )
    try:
        while not stop.is_set():
            # Keep the operator running as a supervisor would; it is restarted if it exits.
            if cluster.operator is not None and cluster.operator.poll() is not None:
                logging.warning("operator exited with %s; restarting it", cluster.operator.returncode)
                cluster.stop_operator()
                cluster.start_operator()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 2.0)
    finally:
        await cluster.stop()
        (state_dir / STATE_FILE).unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args.state_dir.resolve(), args.port))


if __name__ == "__main__":
    main()
