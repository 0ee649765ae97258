"""The live stream: a published post reaches connected readers; a reader that reconnects gets
every event it missed, once, in order."""

from __future__ import annotations

import asyncio
import time

import pytest

from dateline.bus import open_bus
from dateline.errors import Unavailable
from dateline.hub import CLOSED, HEARTBEAT, Inbox
from dateline.model import Event
from dateline.newsroom import Newsroom
from dateline.web.live import stream
from tests import logs, sse
from tests.conftest import Running

pytestmark = pytest.mark.network  # live streams and sockets need a real server

SLUG = "xi-putin-moscow"
LIVE = f"/{SLUG}/live"


async def _publish(running: Running, headline: str) -> dict[str, object]:
    async with running.client(running.token) as c:
        r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": headline, "body": "b"})
        assert r.status_code == 201, r.text
        return dict(r.json())


async def test_a_published_post_reaches_a_connected_reader_within_a_second(seeded: Running) -> None:
    async with sse.connect(seeded.base_url, f"{LIVE}?after=9") as reader:
        assert reader.status == 200
        assert reader.headers is not None
        assert reader.headers["content-type"].startswith("text/event-stream")
        first = await reader.frames.get()
        assert first.retry == 3000
        started = time.monotonic()
        post = await _publish(seeded, "Breaking")
        frame = await reader.next_event(timeout=1.0)
        elapsed = time.monotonic() - started
    assert elapsed < 1.0
    assert frame.id == 10 and frame.data is not None
    assert frame.data["type"] == "post.published" and frame.data["seq"] == 10
    assert frame.data["post"]["id"] == post["id"]
    assert frame.data["html"].startswith("<article") and "Breaking" in frame.data["html"]


async def test_a_new_reader_gets_the_whole_log_then_live_events(seeded: Running) -> None:
    async with sse.connect(seeded.base_url, LIVE) as reader:
        backlog = await reader.events(9)
        assert [f.id for f in backlog] == list(range(1, 10))
        await _publish(seeded, "Live one")
        assert (await reader.next_event()).id == 10
        assert await reader.nothing_more()


async def test_reader_resumes_after_last_event_id_with_exactly_the_missed_events(
    seeded: Running,
) -> None:
    async with sse.connect(seeded.base_url, f"{LIVE}?after=9") as reader:
        await _publish(seeded, "Seen live")
        seen = await reader.next_event()
    assert seen.id == 10
    missed = [await _publish(seeded, f"Missed {i}") for i in range(5)]
    async with sse.connect(seeded.base_url, LIVE, last_event_id=seen.id) as reader:
        frames = await reader.events(5)
        assert [f.id for f in frames] == [11, 12, 13, 14, 15]
        assert [f.data["post"]["id"] for f in frames if f.data] == [p["id"] for p in missed]
        assert await reader.nothing_more()
        await _publish(seeded, "After reconnect")
        assert (await reader.next_event()).id == 16


async def test_events_committed_while_a_reader_connects_arrive_once_in_order(
    seeded: Running,
) -> None:
    async def burst() -> None:
        for i in range(20):
            await _publish(seeded, f"Burst {i}")

    writer = asyncio.create_task(burst())
    await asyncio.sleep(0.05)
    async with sse.connect(seeded.base_url, f"{LIVE}?after=9") as reader:
        await writer
        frames = await reader.events(20)
        assert [f.id for f in frames] == list(range(10, 30))
        assert await reader.nothing_more()


async def test_heartbeats_keep_an_idle_stream_open(seeded: Running) -> None:
    async with sse.connect(seeded.base_url, f"{LIVE}?after=9") as reader:
        comments: list[str] = []
        while "heartbeat" not in comments:
            frame = await asyncio.wait_for(reader.frames.get(), 3)
            comments += frame.comments
    assert "connected" in comments


async def test_a_reader_that_falls_behind_is_cut_off_and_catches_up(seeded: Running) -> None:
    hub = seeded.services.hub
    sub = hub.subscribe((await seeded.store.get_blog(SLUG)).id)
    for i in range(seeded.services.settings.reader_queue_size + 5):
        await _publish(seeded, f"Flood {i}")
    await asyncio.sleep(0.2)
    assert sub.dropped
    assert await sub.get() is CLOSED  # the queue was emptied: nothing stale is delivered
    hub.unsubscribe(sub)
    async with sse.connect(seeded.base_url, LIVE, last_event_id=9) as reader:
        frames = await reader.events(seeded.services.settings.reader_queue_size + 5)
        assert [f.id for f in frames] == list(range(10, 10 + len(frames)))


@pytest.mark.parametrize("where", ["filling a hole", "a further backlog page"])
async def test_a_store_failure_mid_stream_ends_it_quietly_and_the_reader_resumes(
    seeded: Running, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """After the 200 has gone out, the store failing (while the stream fills a hole in the
    seqs, or reads a further page of its backlog) ends the stream cleanly with one log line,
    not an exception escaping to the server; the reader comes back with its Last-Event-ID."""
    store = seeded.store
    read = store.events_after
    away = asyncio.Event()

    async def events_after(
        blog_id: int, after: int, *, until: int | None = None, limit: int = 1000
    ) -> list[Event]:
        # What a reader's backlog asks for (the hub's own fan-out reads up to a seq it heard).
        if away.is_set() and until is None and after > 0:
            raise Unavailable("the database is unavailable (test)", retry_after=2)
        return await read(blog_id, after, until=until, limit=limit)

    monkeypatch.setattr(store, "events_after", events_after)
    with logs.captured() as lines:
        if where == "filling a hole":
            reader = sse.ResumingReader(int(seeded.base_url.rsplit(":", 1)[1]), LIVE, after=9)
            await reader.caught_up(9, within=5)
            while reader.statuses != [200]:
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)  # its stream is open and waits for events
            # Two events this node's hub never hears of (written through a bus nobody reads):
            # the next one it fans out leaves a hole that the reader fills from the store.
            quiet = Newsroom(store, open_bus("memory://"))
            for i in range(2):
                await quiet.write_post(seeded.admin, SLUG, {"headline": f"Unheard {i}"})
            away.set()
            await _publish(seeded, "Heard")
        else:
            monkeypatch.setattr(stream, "_BACKLOG_PAGE", 4)
            away.set()
            reader = sse.ResumingReader(int(seeded.base_url.rsplit(":", 1)[1]), LIVE, after=0)
            await reader.caught_up(4, within=5)  # the first page went out; the next one fails
        async with asyncio.timeout(5):
            while reader.clean_ends < 1:
                await asyncio.sleep(0.02)
        away.clear()
        last = (await store.get_blog(SLUG)).last_seq
        await reader.caught_up(last, within=5)
        await _publish(seeded, "After")
        await reader.caught_up(last + 1, within=5)
        await reader.close()
    assert reader.got_every_event(last + 1), reader.seqs
    assert reader.statuses[0] == 200 and set(reader.statuses) <= {200, 503}
    assert logs.trouble("\n".join(lines)) == [], lines
    ended = [line for line in lines if "live stream" in line]
    assert len(ended) == 1, lines


async def test_the_delta_endpoint_matches_the_stream(seeded: Running) -> None:
    await _publish(seeded, "Polled")
    async with seeded.client() as c:
        body = (await c.get(f"/api/v1/blogs/{SLUG}/events", params={"after": 8})).json()
        assert [e["seq"] for e in body["events"]] == [9, 10] and body["last_seq"] == 10
        assert body["events"][1]["post"]["headline"] == "Polled"
        assert "<article" in body["events"][1]["html"]
        empty = (await c.get(f"/api/v1/blogs/{SLUG}/events", params={"after": 10})).json()
        assert empty == {"events": [], "last_seq": 10}
        for value in ("abc", "-1", str(2**40), "1e3"):
            bad = await c.get(LIVE, headers={"Last-Event-ID": value})
            assert bad.status_code == 400, value
            assert bad.json()["error"]["field"] == "after"
        huge = await c.get(f"/api/v1/blogs/{SLUG}/events", params={"after": 2**40})
        assert huge.status_code == 400
        missing = await c.get("/nope/live")
        assert missing.status_code == 404


async def test_a_readers_inbox_is_a_bounded_fifo_with_one_waiting_consumer() -> None:
    inbox = Inbox(2)
    assert inbox.empty()
    with pytest.raises(asyncio.QueueEmpty):
        inbox.get_nowait()
    waiting = asyncio.ensure_future(inbox.get())
    await asyncio.sleep(0)
    assert not waiting.done()  # nothing yet: the consumer waits
    inbox.put_nowait(HEARTBEAT)
    assert await asyncio.wait_for(waiting, 1) is HEARTBEAT
    inbox.put_nowait(HEARTBEAT)
    inbox.put_nowait(CLOSED)
    with pytest.raises(asyncio.QueueFull):  # bounded: the hub cuts such a reader off
        inbox.put_nowait(HEARTBEAT)
    assert [inbox.get_nowait(), await inbox.get()] == [HEARTBEAT, CLOSED]  # in order
    assert inbox.empty()
    unbounded = Inbox(0)
    for _ in range(100):
        unbounded.put_nowait(HEARTBEAT)
