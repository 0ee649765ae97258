"""The newsroom's background rounds, one task each on every node: publishing scheduled posts
when their time comes, fetching pending embeds, and announcing polls' results. The store makes
sure each is done once, whichever node gets there first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from dateline.errors import Unavailable
from dateline.newsroom import Newsroom

log = logging.getLogger(__name__)


class Repeating:
    """Runs `work` every `interval` seconds, or at once when `wake` is set."""

    def __init__(
        self,
        name: str,
        work: Callable[[], Awaitable[object]],
        interval: float,
        wake: asyncio.Event | None = None,
    ) -> None:
        self.name = name
        self.work = work
        self.interval = interval
        self.wake = wake
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"dateline-{self.name}")

    async def _run(self) -> None:
        while True:
            if self.wake is not None:
                self.wake.clear()
            try:
                await self.work()
            except Unavailable:
                pass  # the store is away (and says so in its log); the next round retries
            except Exception:
                # A database blip must not stop the rounds for good; the next one retries.
                log.exception("%s failed; retrying", self.name)
            if self.wake is None:
                await asyncio.sleep(self.interval)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), self.interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def scheduler(newsroom: Newsroom, interval: float) -> Repeating:
    """Publishes scheduled posts when their time comes."""
    return Repeating("scheduler", newsroom.publish_due, interval)


def embed_fetcher(newsroom: Newsroom, interval: float) -> Repeating:
    """Fetches pending embeds: at once when a post with some is saved, else every `interval`."""
    return Repeating("embeds", newsroom.fetch_due_embeds, interval, newsroom.embeds_wanted)


def poll_announcer(newsroom: Newsroom, interval: float) -> Repeating:
    """Announces the polls whose results moved (at most once a poll per `poll_results_seconds`,
    whichever node gets there first)."""
    return Repeating("poll-announcer", newsroom.announce_polls, interval)
