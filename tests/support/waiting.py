"""Waiting for an asynchronous condition, failing with what was awaited and the last value seen."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(
    probe: Callable[[], Awaitable[Any]],
    timeout: float = 120.0,
    interval: float = 0.3,
    what: str = "condition",
) -> Any:
    """Await probe() until it returns something truthy; return that, or fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = None
    while loop.time() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
