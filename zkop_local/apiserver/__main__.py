"""Run the local API server standalone.

``python -m zkop_local.apiserver --port 8080 --kubeconfig kc.yaml``
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from .server import ApiServer


async def _main(args: argparse.Namespace) -> None:
    server = ApiServer(bookmark_interval=args.bookmark_interval)
    url = await server.start(args.host, args.port)
    if args.kubeconfig:
        server.kubeconfig(args.kubeconfig)
    print(f"zkop-local apiserver listening on {url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m zkop_local.apiserver", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig", help="write a kubeconfig for this server here")
    parser.add_argument("--bookmark-interval", type=float, default=30.0)
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level)
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
