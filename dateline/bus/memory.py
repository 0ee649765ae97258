"""The in-process bus: notifications go to this process's listener, in order, from a task."""

from __future__ import annotations

from dateline.bus.delivery import Deliveries
from dateline.bus.protocol import Listener


class MemoryBus:
    healthy = True  # nothing can come between a process and itself

    def __init__(self) -> None:
        self._deliveries = Deliveries()

    async def start(self, listener: Listener) -> None:
        self._deliveries.start(listener)

    def publish(self, blog_id: int, seq: int) -> None:
        self._deliveries.put(blog_id, seq)

    async def close(self) -> None:
        await self._deliveries.close()
