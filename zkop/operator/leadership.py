"""Whether this operator process may act. Every handler that writes asks `LEADERSHIP.acting` first.

With leader election off (one replica, the default) the process always acts. With it on, a Kubernetes
Lease decides (see `election.py`); a replica that loses the Lease stops acting at once.
"""

from __future__ import annotations

import asyncio


class Leadership:
    def __init__(self) -> None:
        self._acting = asyncio.Event()
        self._acting.set()
        self.identity = "zkop"

    @property
    def acting(self) -> bool:
        return self._acting.is_set()

    def gain(self) -> None:
        self._acting.set()

    def lose(self) -> None:
        self._acting.clear()

    async def wait_until_acting(self) -> None:
        await self._acting.wait()


LEADERSHIP = Leadership()
