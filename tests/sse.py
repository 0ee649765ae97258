"""A small SSE client for tests: parses frames from a real HTTP stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Frame:
    id: int | None = None
    data: dict[str, Any] | None = None
    retry: int | None = None
    event: str | None = None  # the `event:` name; None is the default "message"
    comments: list[str] = field(default_factory=list)


@dataclass
class Reader:
    """Collects frames from one SSE connection in the background."""

    frames: asyncio.Queue[Frame] = field(default_factory=asyncio.Queue)
    status: int = 0
    headers: httpx.Headers | None = None
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def next_event(self, timeout: float = 5.0) -> Frame:
        """The next frame that carries an event (skipping retry and comment-only frames),
        within `timeout` seconds in all (comments, such as heartbeats, do not extend it)."""
        async with asyncio.timeout(timeout):
            while True:
                frame = await self.frames.get()
                if frame.data is not None:
                    return frame

    async def events(self, count: int, timeout: float = 5.0) -> list[Frame]:
        return [await self.next_event(timeout) for _ in range(count)]

    async def ended(self, timeout: float = 5.0) -> bool:
        """True once the server sent its `end` event and closed the stream."""
        frame = await self.next_event(timeout)
        await asyncio.wait_for(self.closed.wait(), timeout)
        return frame.event == "end"

    async def nothing_more(self, wait: float = 0.3) -> bool:
        with contextlib.suppress(TimeoutError):
            await self.next_event(wait)
            return False
        return True


async def _pump(client: httpx.AsyncClient, url: str, headers: dict[str, str], reader: Reader,
                opened: asyncio.Event) -> None:  # fmt: skip
    async with client.stream("GET", url, headers=headers) as response:
        reader.status, reader.headers = response.status_code, response.headers
        opened.set()
        frame = Frame()
        async for line in response.aiter_lines():
            if line == "":
                if frame.data is not None or frame.retry is not None or frame.comments:
                    await reader.frames.put(frame)
                frame = Frame()
            elif line.startswith(":"):
                frame.comments.append(line[1:].strip())
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "id":
                    frame.id = int(value)
                elif name == "data":
                    frame.data = json.loads(value)
                elif name == "retry":
                    frame.retry = int(value)
                elif name == "event":
                    frame.event = value
    reader.closed.set()


@contextlib.asynccontextmanager
async def connect(
    base_url: str, path: str, *, last_event_id: int | None = None
) -> AsyncIterator[Reader]:
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    reader = Reader()
    opened = asyncio.Event()
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10, read=None)) as client:
        task = asyncio.create_task(_pump(client, path, headers, reader, opened))
        try:
            await asyncio.wait_for(opened.wait(), 5)
            yield reader
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await task
