"""The bus contract, run against every backend: `memory://` and a real Redis.

A publish returns at once (it never waits for this node's readers or for the network) and never
raises; a listener that fails is logged and does not reach the writer or stop later deliveries;
each node hears its own notifications in the order they were published, and a hub fills any gap
from the event log. What only a shared bus can do (another node hearing this one, an outage of
Redis) is tested on Redis alone."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from dateline.bus import Bus, open_bus
from dateline.hub import Frame, Hub
from dateline.model import Event
from dateline.newsroom import Newsroom
from dateline.store import open_store
from tests.servers import RedisServer, start_redis


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(params=["memory", "redis"])
def bus_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


class Heard:
    """A listener that records what it hears, and can be held up or made to fail."""

    def __init__(self) -> None:
        self.items: list[tuple[int, int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail_on: set[int] = set()

    async def __call__(self, blog_id: int, seq: int) -> None:
        await self.release.wait()
        self.items.append((blog_id, seq))
        if seq in self.fail_on:
            raise RuntimeError(f"listener failed on seq {seq}")

    def first_heard(self, blog_id: int) -> list[int]:
        """The seqs of `blog_id` in the order first heard (a shared bus echoes a node's own)."""
        seen: list[int] = []
        for blog, seq in self.items:
            if blog == blog_id and seq not in seen:
                seen.append(seq)
        return seen

    async def until(self, check: Any, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.01)


async def _ready(bus: Bus) -> None:
    async with asyncio.timeout(5):
        while not bus.healthy:
            await asyncio.sleep(0.01)


@pytest.fixture
async def started(bus_url: str) -> AsyncIterator[tuple[Bus, Heard]]:
    bus = open_bus(bus_url)
    heard = Heard()
    await bus.start(heard)
    await _ready(bus)
    yield bus, heard
    await bus.close()


async def test_publish_returns_at_once_while_the_listener_is_busy(
    started: tuple[Bus, Heard],
) -> None:
    bus, heard = started
    heard.release.clear()  # this node's fan-out is stuck
    began = time.perf_counter()
    for seq in range(1, 1001):
        assert bus.publish(7, seq) is None  # not a coroutine: nothing to wait for
    assert time.perf_counter() - began < 0.5
    heard.release.set()
    await heard.until(lambda: heard.first_heard(7) == list(range(1, 1001)))


async def test_a_failing_listener_is_logged_and_later_notifications_still_arrive(
    started: tuple[Bus, Heard], caplog: pytest.LogCaptureFixture
) -> None:
    bus, heard = started
    heard.fail_on = {2}
    with caplog.at_level(logging.ERROR, logger="dateline.bus"):
        for seq in (1, 2, 3):
            bus.publish(5, seq)  # the failure below never reaches the writer
        await heard.until(lambda: heard.first_heard(5) == [1, 2, 3])
    assert any("blog 5 seq 2" in r.getMessage() for r in caplog.records)


async def test_each_node_hears_its_own_notifications_in_order(
    started: tuple[Bus, Heard],
) -> None:
    bus, heard = started
    for seq in range(1, 51):
        bus.publish(1, seq)
        bus.publish(2, seq * 10)
    await heard.until(lambda: len(heard.first_heard(1)) == 50 and len(heard.first_heard(2)) == 50)
    assert heard.first_heard(1) == list(range(1, 51))
    assert heard.first_heard(2) == [s * 10 for s in range(1, 51)]


async def test_a_hub_on_the_bus_fills_gaps_from_the_event_log(bus_url: str, tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'gaps.db'}")
    offline = Newsroom(store, open_bus("memory://"))  # announces nothing: we do, below
    editor = await offline.create_user(None, email="e@example.org", name="E", role="editor")
    blog = await offline.create_blog(editor, {"slug": "gaps", "title": "Gaps"})
    assert blog.id is not None

    async def frame(event: Event) -> Frame:
        return Frame.of(event.seq, event.type, b"id: %d\n\n" % event.seq)

    hub = Hub(store, frame, poll_seconds=60)
    bus = open_bus(bus_url)
    await bus.start(hub.notify)
    await _ready(bus)
    try:
        sub = hub.subscribe(blog.id)
        first = await offline.write_post(editor, "gaps", {"headline": "One"})
        bus.publish(blog.id, first.seq or 0)
        got = await asyncio.wait_for(sub.get(), 5)
        assert isinstance(got, Frame) and got.seq == 1
        for n in (2, 3, 4):  # committed, but only the last is announced
            last = await offline.write_post(editor, "gaps", {"headline": f"#{n}"})
        bus.publish(blog.id, last.seq or 0)
        frames = [await asyncio.wait_for(sub.get(), 5) for _ in range(3)]
        assert [f.seq for f in frames if isinstance(f, Frame)] == [2, 3, 4]
    finally:
        await bus.close()
        await hub.close()
        await store.close()


# -- only a shared bus -----------------------------------------------------------------------


async def test_another_node_hears_this_one_through_redis(redis_server: RedisServer) -> None:
    a, b = open_bus(redis_server.url), open_bus(redis_server.url)
    heard_a, heard_b = Heard(), Heard()
    await a.start(heard_a)
    await b.start(heard_b)
    await _ready(a)
    await _ready(b)
    try:
        for seq in range(1, 21):
            a.publish(3, seq)
        await heard_b.until(lambda: 20 in heard_b.first_heard(3))
        assert heard_b.first_heard(3) == sorted(heard_b.first_heard(3))
        assert heard_a.first_heard(3) == list(range(1, 21))
    finally:
        await a.close()
        await b.close()


async def test_a_frozen_redis_never_holds_up_a_publish(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    a, b = open_bus(server.url), open_bus(server.url)
    heard_a, heard_b = Heard(), Heard()
    await a.start(heard_a)
    await b.start(heard_b)
    await _ready(a)
    await _ready(b)
    assert server._proc is not None
    pid = server._proc.pid
    try:
        os.kill(pid, signal.SIGSTOP)
        began = time.perf_counter()
        for seq in range(1, 11):
            a.publish(9, seq)
        assert time.perf_counter() - began < 0.1
        await heard_a.until(lambda: heard_a.first_heard(9) == list(range(1, 11)))
        os.kill(pid, signal.SIGCONT)
        # The newest seq reaches the other node once Redis answers again.
        await heard_b.until(lambda: 10 in heard_b.first_heard(9), timeout=15)
    finally:
        os.kill(pid, signal.SIGCONT)
        await a.close()
        await b.close()
        server.stop()


async def test_redis_gone_publish_neither_waits_nor_raises_and_catches_up(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    port = server.port
    a, b = open_bus(server.url), open_bus(server.url)
    heard_a, heard_b = Heard(), Heard()
    await a.start(heard_a)
    await b.start(heard_b)
    await _ready(a)
    await _ready(b)
    try:
        server.stop()
        began = time.perf_counter()
        for seq in range(1, 6):
            a.publish(4, seq)
        assert time.perf_counter() - began < 0.1
        await heard_a.until(lambda: heard_a.first_heard(4) == [1, 2, 3, 4, 5])
        await heard_a.until(lambda: not a.healthy, timeout=10)
        server = start_redis(tmp_path, port)
        await _ready(a)
        await _ready(b)
        # What was published meanwhile reached the other node only if it was subscribed when
        # the sender retried; hubs poll the event log for that (tests/test_redis_bus.py). New
        # notifications flow again.
        a.publish(4, 6)
        await heard_b.until(lambda: 6 in heard_b.first_heard(4), timeout=15)
    finally:
        await a.close()
        await b.close()
        server.stop()
