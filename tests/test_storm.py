"""A story breaks, or a node restarts: a thousand readers arrive at once, each resuming from
where it was. Every reader gets every event it missed and every new one, once, in order; the
server answers none of them with an error; and the backlog is read from the store once per
distinct resume point, not once per reader. (bench/storm.py does the same with 10,000.)"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from dateline.bus import open_bus
from dateline.config import Settings
from dateline.hub import Frame, Hub
from dateline.importers.text import parse_text
from dateline.model import Event
from dateline.newsroom import Newsroom
from dateline.store import Store, open_store
from tests.conftest import SEED, Running, start_server, stop_server

SLUG = "xi-putin-moscow"
READERS = 1000
pytestmark = pytest.mark.network
ID = re.compile(rb"^id: (\d+)$", re.M)


class Reader:
    """One raw SSE connection: the seqs it receives, and the status it was answered with."""

    def __init__(self, port: int, last_event_id: int, source: str = "127.0.0.1") -> None:
        self.port, self.last_event_id, self.source = port, last_event_id, source
        self.status = 0
        self.seqs: list[int] = []
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", self.port, local_addr=(self.source, 0)
        )
        self._writer = writer
        writer.write(
            f"GET /{SLUG}/live HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n"
            f"Last-Event-ID: {self.last_event_id}\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        self._task = asyncio.create_task(self._read(reader))

    async def _read(self, reader: asyncio.StreamReader) -> None:
        buffer = b""
        while chunk := await reader.read(65536):
            buffer += chunk
            *frames, buffer = buffer.split(b"\n\n")
            for frame in frames:
                self.seqs += [int(m) for m in ID.findall(frame)]

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._writer is not None:
            self._writer.close()


async def _publish(running: Running, n: int, label: str) -> list[int]:
    seqs = []
    async with running.client(running.token) as c:
        for i in range(n):
            r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": f"{label} {i}"})
            assert r.status_code == 201, r.text
            seqs.append(r.json()["seq"])
    return seqs


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No heartbeats in the way of counting frames; room for every reader.
    return replace(settings, heartbeat_seconds=60, max_live_readers=READERS + 10)


async def test_a_reconnect_storm_after_a_restart_loses_nothing(
    seeded: Running, settings: Settings
) -> None:
    before = await _publish(seeded, 5, "Before")  # seqs 10 to 14
    # The node restarts (a deploy, a crash): every reader reconnects to the new process, each
    # with the last seq it had, all within a moment.
    assert seeded.server is not None
    await stop_server(*seeded.server)
    server, task, app = await start_server(settings)
    seeded.app, seeded.server = app, (server, task)
    resume = [9, 12, 14]
    # Readers from many addresses, as on the internet (one address may hold only so many
    # connections that have not sent their headers yet).
    readers = [
        Reader(settings.port, resume[i % 3], f"127.0.{i % 4}.{i % 250 + 1}") for i in range(READERS)
    ]
    try:
        await asyncio.gather(*(r.open() for r in readers))
        assert {r.status for r in readers} == {200}
        after = await _publish(seeded, 5, "After")  # seqs 15 to 19
        everything = before + after
        async with asyncio.timeout(20):
            while any(len(r.seqs) < 19 - r.last_event_id for r in readers):
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # and nothing more arrives
        for r in readers:
            assert r.seqs == [s for s in everything if s > r.last_event_id], r.last_event_id
    finally:
        await asyncio.gather(*(r.close() for r in readers))


class CountedLog:
    """The real store, counting the event-log reads the hub makes."""

    def __init__(self, store: Store) -> None:
        self.store, self.reads = store, 0

    async def events_after(self, blog_id: int, after: int, **kwargs: Any) -> list[Event]:
        self.reads += 1
        await asyncio.sleep(0.05)  # a read takes a moment: the others arrive meanwhile
        return await self.store.events_after(blog_id, after, **kwargs)

    async def last_seq(self, blog_id: int) -> int:
        return await self.store.last_seq(blog_id)


@pytest.fixture
async def seeded_store(database_url: str) -> AsyncIterator[Store]:
    store = await open_store(database_url)
    newsroom = Newsroom(store, open_bus("memory://"))  # announces nothing: no hub listens
    await newsroom.import_blog(parse_text(SEED.read_text("utf-8"), slug=SLUG))
    yield store
    await store.close()


async def test_readers_resuming_from_the_same_seq_share_one_read(seeded_store: Store) -> None:
    log = CountedLog(seeded_store)

    async def frame(event: Event) -> Frame:
        return Frame.of(event.seq, event.type, b"id: %d\n\n" % event.seq)

    hub = Hub(log, frame)
    blog = await seeded_store.get_blog(SLUG)
    assert blog.id is not None
    backlogs = await asyncio.gather(*(hub.backlog(blog.id, (0, 4, 8)[i % 3]) for i in range(300)))
    assert log.reads == 3  # one per distinct resume point, not 300
    assert {tuple(f.seq for f in b) for b in backlogs} == {
        tuple(range(1, 10)),
        tuple(range(5, 10)),
        (9,),
    }
