"""GRIP mode through a real Pushpin (Debian's package): the edge holds the readers, the node
publishes each event once, and GRIP's reliable delivery recovers what a lost publish or a
restarted edge would have cost a reader."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SEED, Running
from tests.nodes import Node, cli
from tests.pushpin import Pushpin
from tests.servers import PostgresServer, free_port, start_redis
from tests.sse import Reader, connect

pytestmark = pytest.mark.network
SLUG = "xi-putin-moscow"
KEY = "grip-test-key-of-at-least-32-characters"
SEED_EVENTS = 9  # the seed's posts, one event each


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[Pushpin]:
    pushpin = Pushpin(tmp_path / "pushpin", key=KEY)
    yield pushpin
    pushpin.stop()


@pytest.fixture
def settings_overrides(edge: Pushpin) -> dict[str, Any]:
    return {
        "push": "grip",
        "grip_publish_urls": edge.publish_url,
        "grip_key": KEY,
        "grip_recover_seconds": 2.0,
        "grip_keepalive_seconds": 0.0,  # recoveries by timeout alone (test_grip_keepalive.py)
        "grip_retry_seconds": 1.0,
    }


@pytest.fixture
async def pushpin(edge: Pushpin, seeded: Running) -> AsyncIterator[Pushpin]:
    """Pushpin started in front of the seeded node (and stopped before the node is)."""
    edge.start([int(seeded.base_url.rsplit(":", 1)[1])])
    await edge.ready(f"/{SLUG}/live")
    yield edge
    edge.stop()


async def _post(running: Running, n: int, *, start: int = 1) -> list[int]:
    seqs = []
    async with running.client(running.token) as c:
        for i in range(start, start + n):
            r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": f"Edge {i}"})
            assert r.status_code == 201, r.text
            seqs.append(r.json()["seq"])
    return seqs


async def _ids(reader: Reader, count: int, timeout: float = 10.0) -> list[int]:
    return [f.id for f in await reader.events(count, timeout) if f.id is not None]


async def test_readers_through_pushpin_get_every_event_once_in_order(
    pushpin: Pushpin, seeded: Running
) -> None:
    async with (
        connect(pushpin.base_url, f"/{SLUG}/live") as a,
        connect(pushpin.base_url, f"/{SLUG}/live") as b,
    ):
        assert a.status == 200 and a.headers is not None
        assert a.headers["content-type"].startswith("text/event-stream")
        assert "grip-hold" not in a.headers  # the instructions stay between node and edge
        for reader in (a, b):
            assert await _ids(reader, SEED_EVENTS) == list(range(1, SEED_EVENTS + 1))
        # The edge holds them: this node holds no live reader.
        assert seeded.services.hub.reader_count == 0
        seqs = await _post(seeded, 5)
        for reader in (a, b):
            got = await reader.events(5)
            assert [f.id for f in got] == seqs
            assert [f.data["post"]["headline"] for f in got if f.data] == [
                f"Edge {i}" for i in range(1, 6)
            ]
            assert await reader.nothing_more(0.5)
    publisher = seeded.services.grip
    # The import announced its last event, then came the five posts: each published once.
    assert publisher is not None and publisher.published == 6 and publisher.given_up == 0


async def test_a_reader_resumes_exactly_through_pushpin(pushpin: Pushpin, seeded: Running) -> None:
    await _post(seeded, 3)
    async with connect(pushpin.base_url, f"/{SLUG}/live", last_event_id=10) as reader:
        assert await _ids(reader, 2) == [11, 12]
        assert await reader.nothing_more(0.3)
        posted = await _post(seeded, 1, start=4)
        assert await _ids(reader, 1) == posted


async def test_lost_publishes_are_recovered_from_the_event_log(
    pushpin: Pushpin, seeded: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    publisher = seeded.services.grip
    assert publisher is not None
    real = publisher._publish
    lost: list[str] = []

    async def lose_some(batch: list[dict[str, Any]]) -> None:
        # Events 11 and 13 never reach the edge.
        kept = [item for item in batch if item["id"] not in ("11", "13")]
        lost.extend(item["id"] for item in batch if item not in kept)
        await real(kept)

    monkeypatch.setattr(publisher, "_publish", lose_some)
    async with connect(pushpin.base_url, f"/{SLUG}/live") as reader:
        assert await _ids(reader, SEED_EVENTS) == list(range(1, SEED_EVENTS + 1))
        # 10 arrives; 11 is lost and 12 shows the gap: the edge asks the node for what it
        # missed at once. 13 is lost and nothing follows: the edge asks after
        # grip_recover_seconds of silence.
        for i in range(1, 5):
            await _post(seeded, 1, start=i)
            await asyncio.sleep(0.2)
        assert await _ids(reader, 4, timeout=15) == [10, 11, 12, 13]
        assert await reader.nothing_more(0.5)
    assert lost == ["11", "13"]


async def test_a_restarted_edge_loses_nothing(pushpin: Pushpin, seeded: Running) -> None:
    async with connect(pushpin.base_url, f"/{SLUG}/live") as reader:
        assert await _ids(reader, SEED_EVENTS) == list(range(1, SEED_EVENTS + 1))
        await _post(seeded, 1)
        assert await _ids(reader, 1) == [10]
        pushpin.stop()  # the reader's connection goes with it
    # Written while the edge is down: the publishes are given up after grip_retry_seconds.
    await _post(seeded, 2, start=2)
    pushpin.start()
    await pushpin.ready(f"/{SLUG}/live")
    # The reader comes back with its last id, as a browser's EventSource does.
    async with connect(pushpin.base_url, f"/{SLUG}/live", last_event_id=10) as again:
        assert await _ids(again, 2) == [11, 12]
        posted = await _post(seeded, 1, start=4)
        assert await _ids(again, 1) == posted
        assert await again.nothing_more(0.3)


async def test_ended_coverage_ends_the_stream_at_the_edge(
    pushpin: Pushpin, seeded: Running
) -> None:
    async with connect(pushpin.base_url, f"/{SLUG}/live") as reader:
        assert await _ids(reader, SEED_EVENTS) == list(range(1, SEED_EVENTS + 1))
        async with seeded.client(seeded.token) as c:
            r = await c.patch(f"/api/v1/blogs/{SLUG}", json={"status": "ended"})
            assert r.status_code == 200, r.text
        ended = await reader.next_event(10)
        assert ended.data is not None and ended.data["type"] == "blog.ended"
        assert await reader.ended(10)
    # A reader arriving later gets the whole log, the end, and a closed stream.
    async with connect(pushpin.base_url, f"/{SLUG}/live", last_event_id=SEED_EVENTS) as late:
        assert (await late.next_event(10)).data["type"] == "blog.ended"  # type: ignore[index]
        assert await late.ended(10)


async def test_without_a_valid_signature_the_node_streams_itself(
    pushpin: Pushpin, seeded: Running
) -> None:
    """A client that reaches the node directly, even with a forged Grip-Sig, gets an ordinary
    stream: the GRIP instructions go only to the proxy that holds the key."""
    forged = "eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJwdXNocGluIiwiZXhwIjo0MTAyNDQ0ODAwfQ.c2lnbmF0dXJl"
    async with (
        httpx.AsyncClient(base_url=seeded.base_url, timeout=10) as c,
        c.stream("GET", f"/{SLUG}/live", headers={"Grip-Sig": forged}) as r,
    ):
        assert r.status_code == 200 and "grip-hold" not in r.headers
        lines = r.aiter_lines()
        assert await anext(lines) == "retry: 3000"
        for _ in range(50):
            if seeded.services.hub.reader_count == 1:
                break
            await asyncio.sleep(0.02)
        assert seeded.services.hub.reader_count == 1


@pytest.mark.postgres
async def test_two_nodes_behind_one_pushpin(
    postgres: PostgresServer, edge: Pushpin, tmp_path: Path
) -> None:
    """Two nodes on one database and a Redis bus, both behind one Pushpin: readers are held by
    the edge, each node publishes what it commits, and every reader gets every event once, in
    order, whichever node wrote it (even two at once)."""
    redis = start_redis(tmp_path)
    db = postgres.create_database(f"grip{os.getpid()}_{free_port()}")
    cli("import", str(SEED), "--slug", SLUG, db=db)
    token = cli(
        "user", "create", "ed@example.org", "--name", "Ed", "--role", "editor", "--blog", SLUG,
        "--token", db=db,
    ).strip().splitlines()[-1]  # fmt: skip
    env = {
        "DATELINE_PUSH": "grip",
        "DATELINE_GRIP_PUBLISH_URLS": edge.publish_url,
        "DATELINE_GRIP_KEY": KEY,
        "DATELINE_GRIP_RECOVER_SECONDS": "2",
        "DATELINE_GRIP_KEEPALIVE_SECONDS": "1",
    }
    a = Node(db, redis.url, tmp_path / "node-a.log", env=env)
    b = Node(db, redis.url, tmp_path / "node-b.log", env=env)
    try:
        edge.start([a.port, b.port])
        await edge.ready(f"/{SLUG}/live")
        async with (
            connect(edge.base_url, f"/{SLUG}/live") as one,
            connect(edge.base_url, f"/{SLUG}/live") as two,
            httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {token}"}) as c,
        ):
            for reader in (one, two):
                assert await _ids(reader, SEED_EVENTS) == list(range(1, SEED_EVENTS + 1))

            async def write(node: Node, n: int) -> None:
                url = f"{node.base}/api/v1/blogs/{SLUG}/posts"
                r = await c.post(url, json={"headline": f"From {node.port} #{n}"})
                assert r.status_code == 201, r.text

            for n in range(3):
                await write(a, n)
                await write(b, n)
            await asyncio.gather(*(write(node, 9) for node in (a, b)))  # at the same moment
            for reader in (one, two):
                assert await _ids(reader, 8, timeout=15) == list(range(10, 18))
                assert await reader.nothing_more(0.5)
    finally:
        edge.stop()
        a.stop()
        b.stop()
        redis.stop()


async def test_a_backlog_longer_than_a_page_arrives_whole_once(
    pushpin: Pushpin, seeded: Running
) -> None:
    """More than 500 events to catch up on: the edge fetches the rest through next links, and
    the reader (who sent its Last-Event-ID) gets each event once."""
    from dateline.importers import ImportedBlog
    from dateline.model import Blog, Post, PostStatus

    start = datetime(2024, 5, 1, 8, tzinfo=UTC)
    posts = [
        Post(blog_slug="", headline=f"Update {i}", status=PostStatus.PUBLISHED,
             published_at=start + timedelta(minutes=i))
        for i in range(1, 1201)
    ]  # fmt: skip
    await seeded.newsroom.import_blog(
        ImportedBlog(Blog(slug="long-day", title="A long day", timezone="UTC"), reversed(posts)),
        seeded.admin,
    )
    async with connect(pushpin.base_url, "/long-day/live", last_event_id=3) as reader:
        ids = await _ids(reader, 1197, timeout=15)
        assert ids == list(range(4, 1201))
        assert await reader.nothing_more(0.5)
