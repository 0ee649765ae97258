"""Publishes scheduled posts when their time comes. Every node runs one; the store makes sure each
post is published once, whichever node gets there first."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from dateline.errors import Unavailable
from dateline.newsroom import Newsroom

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, newsroom: Newsroom, interval: float) -> None:
        self.newsroom = newsroom
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dateline-scheduler")

    async def _run(self) -> None:
        while True:
            try:
                await self.newsroom.publish_due()
            except Unavailable:
                pass  # the store is away (and says so in its log); the next round retries
            except Exception:
                # A database blip must not stop scheduling for good; the next round retries.
                log.exception("publishing scheduled posts failed; retrying")
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
