"""The hub's direct writes: a caught-up reader's frames go straight to its connection; a
connection that stops reading falls back to its queue, is cut off, and holds up nobody."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from typing import Any

import pytest

from dateline.config import Settings
from dateline.web.server.send import SendWriter, send_now
from dateline.web.server.uvicorn_cycle import ChunkWriter
from tests import sse
from tests.conftest import Running

pytestmark = pytest.mark.network  # live streams and sockets need a real server

SLUG = "xi-putin-moscow"
LIVE = f"/{SLUG}/live"
QUEUE = 4


@pytest.fixture
def settings_direct() -> bool:
    return True


@pytest.fixture
def settings(settings: Settings, settings_direct: bool) -> Settings:
    # A short queue, so that a stuck connection is cut off after a few posts.
    return replace(settings, reader_queue_size=QUEUE, direct_writes=settings_direct)


async def _until(check: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.02)


async def test_a_stuck_connection_is_cut_off_and_holds_up_nobody(seeded: Running) -> None:
    hub = seeded.services.hub
    port = int(seeded.base_url.rsplit(":", 1)[1])
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # and it never reads
    stuck.connect(("127.0.0.1", port))
    stuck.sendall(f"GET {LIVE}?after=9 HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    try:
        await _until(lambda: hub.reader_count == 1)
        async with sse.connect(seeded.base_url, f"{LIVE}?after=9") as reader:
            await _until(lambda: hub.reader_count == 2)
            body = "A long dispatch from the summit. " * 1400  # ~46 KB of Markdown
            sent = 0
            async with seeded.client(seeded.token) as c:
                while hub.reader_count == 2:
                    assert sent < 400, "the stuck connection was never cut off"
                    r = await c.post(
                        f"/api/v1/blogs/{SLUG}/posts",
                        json={"headline": f"Dispatch {sent}", "body": body},
                    )
                    assert r.status_code == 201
                    sent += 1
                    frame = await reader.next_event()  # the healthy reader is never held up
                    assert frame.id == 9 + sent
                    assert frame.data is not None
                    assert frame.data["post"]["headline"] == f"Dispatch {sent - 1}"
            assert await reader.nothing_more()
    finally:
        stuck.close()


async def test_frames_written_directly_keep_their_order_with_queued_ones(seeded: Running) -> None:
    hub = seeded.services.hub
    async with sse.connect(seeded.base_url, f"{LIVE}?after=9") as reader:
        await _until(lambda: hub.reader_count == 1)
        async with seeded.client(seeded.token) as c:
            posts = [
                c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": f"Burst {i}"})
                for i in range(30)
            ]
            for r in await asyncio.gather(*posts):
                assert r.status_code == 201
        frames = await reader.events(30)
        assert [f.id for f in frames] == list(range(10, 40))
        assert await reader.nothing_more()


async def _stream_of_only_reader(hub: Any) -> Any:
    """The one reader's stream, once it has caught up and lets the hub write to it."""
    [sub] = [sub for state in hub._blogs.values() for sub in state.readers]
    await _until(lambda: sub.deliver is not None)
    return sub.deliver.__self__


async def _five_posts_arrive(seeded: Running, reader: Any) -> None:
    async with seeded.client(seeded.token) as c:
        for i in range(5):
            r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": f"Post {i}"})
            assert r.status_code == 201
    frames = await reader.events(5)
    assert [f.id for f in frames] == list(range(10, 15))
    assert [f.data["post"]["headline"] for f in frames] == [f"Post {i}" for i in range(5)]
    assert await reader.nothing_more()


async def test_under_uvicorns_httptools_frames_go_straight_to_the_transport(
    seeded: Running,
) -> None:
    # `dateline serve` runs uvicorn with httptools: the hub writes each frame as one HTTP chunk
    # to the connection itself. If an upgrade of uvicorn renames what ChunkWriter reads, this
    # fails instead of the fast path quietly turning off.
    hub = seeded.services.hub
    async with sse.connect(seeded.base_url, f"{LIVE}?after=9") as reader:
        await _until(lambda: hub.reader_count == 1)
        stream = await _stream_of_only_reader(hub)
        assert isinstance(stream.direct, ChunkWriter)
        await _five_posts_arrive(seeded, reader)
        assert (
            await _stream_of_only_reader(hub)
        ).direct is stream.direct  # still caught up, direct


@pytest.mark.parametrize("server_http", ["h11"])
async def test_under_another_protocol_frames_go_through_the_asgi_send(seeded: Running) -> None:
    hub = seeded.services.hub
    async with sse.connect(seeded.base_url, f"{LIVE}?after=9") as reader:
        await _until(lambda: hub.reader_count == 1)
        assert isinstance((await _stream_of_only_reader(hub)).direct, SendWriter)
        await _five_posts_arrive(seeded, reader)


@pytest.mark.parametrize("settings_direct", [False])
async def test_with_direct_writes_off_every_frame_goes_through_its_readers_task(
    seeded: Running,
) -> None:
    hub = seeded.services.hub
    async with sse.connect(seeded.base_url, f"{LIVE}?after=9") as reader:
        await _until(lambda: hub.reader_count == 1)
        [sub] = [sub for state in hub._blogs.values() for sub in state.readers]
        await _five_posts_arrive(seeded, reader)
        assert sub.deliver is None  # the hub never wrote to it directly


async def test_send_now_sends_at_once_when_the_send_does_not_wait() -> None:
    sent: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["body"])

    assert send_now(send, {"type": "http.response.body", "body": b"a"}) is None
    assert sent == [b"a"]


async def test_send_now_finishes_a_send_that_has_to_wait() -> None:
    drained = asyncio.get_running_loop().create_future()
    sent: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        await drained  # as a server does while the connection is backed up
        sent.append(message["body"])

    pending = send_now(send, {"type": "http.response.body", "body": b"b"})
    assert pending is not None and sent == []
    await asyncio.sleep(0.01)
    assert not pending.done()
    drained.set_result(None)
    await asyncio.wait_for(pending, 1)
    assert sent == [b"b"]


async def test_send_now_reports_a_send_that_fails_after_waiting() -> None:
    drained = asyncio.get_running_loop().create_future()

    async def send(message: dict[str, Any]) -> None:
        await drained
        raise ConnectionResetError("gone")

    pending = send_now(send, {"type": "http.response.body", "body": b"c"})
    assert pending is not None
    drained.set_exception(OSError("connection lost"))
    with pytest.raises(OSError, match="connection lost"):
        await asyncio.wait_for(pending, 1)
