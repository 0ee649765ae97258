"""A small SSE client for tests: parses frames from a real HTTP stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
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


_ID = re.compile(rb"^id: (\d+)$", re.M)
_END = b"0\r\n\r\n"  # the last chunk of a chunked body: the server ended the stream itself


class ResumingReader:
    """Reads `path`'s live stream over a raw socket and, as the page's script does, reconnects
    after every end, drop or refusal with the last seq it saw as Last-Event-ID."""

    def __init__(self, port: int, path: str, after: int, *, pause: float = 0.1) -> None:
        self.port, self.path, self.after, self.pause = port, path, after, pause
        self.seqs: list[int] = []
        self.statuses: list[int] = []  # each connection's answer (0: no answer at all)
        self.clean_ends = 0  # streams the server ended with the last chunk
        self.task = asyncio.create_task(self._run())

    @property
    def last(self) -> int:
        return self.seqs[-1] if self.seqs else self.after

    async def _run(self) -> None:
        while True:
            writer: asyncio.StreamWriter | None = None
            answered = len(self.statuses)
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(
                    f"GET {self.path} HTTP/1.1\r\nHost: t\r\nLast-Event-ID: {self.last}\r\n\r\n"
                    .encode()
                )  # fmt: skip
                head = await reader.readuntil(b"\r\n\r\n")
                self.statuses.append(int(head.split(b" ", 2)[1]))
                if self.statuses[-1] == 200:
                    await self._read(reader)
            except (OSError, asyncio.IncompleteReadError):
                if len(self.statuses) == answered:
                    self.statuses.append(0)  # refused or reset before any answer
            finally:
                if writer is not None:
                    writer.close()
            await asyncio.sleep(self.pause)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        buffer = b""
        while chunk := await reader.read(65536):
            buffer += chunk
            *frames, rest = buffer.split(b"\n\n")
            for frame in frames:
                self.seqs += [int(m) for m in _ID.findall(frame)]
            if buffer.endswith(_END):
                self.clean_ends += 1
                return  # the connection is kept alive for another request: ours is over
            buffer = rest

    def got_every_event(self, last_seq: int) -> bool:
        """Every event after the resume point up to `last_seq`, once each, in order."""
        return self.seqs == list(range(self.after + 1, last_seq + 1))

    async def caught_up(self, seq: int, within: float) -> float:
        """Seconds until this reader has seen `seq`; fails after `within` seconds."""
        began = time.monotonic()
        async with asyncio.timeout(within):
            while self.last < seq:
                await asyncio.sleep(0.02)
        return time.monotonic() - began

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
