"""Hands notifications to this node's listener in order, from a task of its own: whoever
publishes never waits for the listener (the hub's fan-out to every local reader), and a listener
that fails is logged and does not stop the ones after it."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from dateline.bus.protocol import Listener
from dateline.errors import Unavailable

log = logging.getLogger("dateline.bus")


class Deliveries:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._listener: Listener | None = None

    def start(self, listener: Listener) -> None:
        self._listener = listener
        self._task = asyncio.create_task(self._run(), name="dateline-bus-deliveries")

    def put(self, blog_id: int, seq: int) -> None:
        """Queue one notification; returns at once."""
        if self._task is not None:
            self._queue.put_nowait((blog_id, seq))

    async def _run(self) -> None:
        assert self._listener is not None
        while True:
            blog_id, seq = await self._queue.get()
            try:
                await self._listener(blog_id, seq)
            except Unavailable:
                # The store is away, and its log says so every few seconds; the hub's poll of
                # the event log fetches this seq once it is back: a delay, never a loss.
                pass
            except Exception:  # one bad delivery must not stop the ones after it
                log.exception("delivering blog %s seq %s failed", blog_id, seq)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
