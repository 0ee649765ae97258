"""The in-process bus: a queue and one task that hands notifications to the hub in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from dateline.bus import Listener

log = logging.getLogger(__name__)


class MemoryBus:
    healthy = True  # nothing can come between a process and itself

    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._listener: Listener | None = None

    async def start(self, listener: Listener) -> None:
        self._listener = listener
        self._task = asyncio.create_task(self._run(), name="dateline-memory-bus")

    async def publish(self, blog_id: int, seq: int) -> None:
        self._queue.put_nowait((blog_id, seq))

    async def _run(self) -> None:
        assert self._listener is not None
        while True:
            blog_id, seq = await self._queue.get()
            try:
                await self._listener(blog_id, seq)
            except Exception:  # one bad delivery must not stop the bus
                log.exception("delivering blog %s seq %s failed", blog_id, seq)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
