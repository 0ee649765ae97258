"""Several Dateline processes on one PostgreSQL database, told of new events through Redis: a post
written on one node reaches readers on another, and Redis going away loses nothing."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis

from dateline.bus.redis import CHANNEL
from tests import sse
from tests.conftest import SEED
from tests.nodes import Node, cli, two_nodes
from tests.servers import PostgresServer, RedisServer, free_port, start_redis

pytestmark = pytest.mark.postgres
SLUG = "xi-putin-moscow"


@pytest.fixture
def cluster(
    postgres: PostgresServer, redis_server: RedisServer, tmp_path: Path
) -> Iterator[tuple[Node, Node, str]]:
    db = postgres.create_database(f"bus{os.getpid()}_{free_port()}")
    with two_nodes(db, redis_server.url, tmp_path, SLUG) as nodes:
        yield nodes


async def _subscribed(redis_url: str, nodes: int, within: float = 10.0) -> None:
    """Wait until `nodes` processes listen on the bus's channel (polled, not slept)."""
    client = redis.Redis.from_url(redis_url)
    try:
        deadline = time.monotonic() + within
        while True:
            [(_, count)] = await client.pubsub_numsub(CHANNEL)
            if count >= nodes:
                return
            assert time.monotonic() < deadline, f"{count} of {nodes} subscribed to {CHANNEL}"
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()


async def _publish(node: Node, token: str, headline: str) -> int:
    async with httpx.AsyncClient(base_url=node.base, timeout=10) as c:
        r = await c.post(
            f"/api/v1/blogs/{SLUG}/posts",
            json={"headline": headline},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201, r.text
        return int(r.json()["seq"])


async def test_a_post_written_on_one_node_reaches_readers_on_another(
    cluster: tuple[Node, Node, str], redis_server: RedisServer
) -> None:
    a, b, token = cluster
    async with sse.connect(b.base, f"/{SLUG}/live?after=9") as reader:
        await _subscribed(redis_server.url, 2)
        started = time.monotonic()
        seq = await _publish(a, token, "Written on A")
        frame = await reader.next_event(timeout=2)
        assert frame.id == seq == 10
        assert time.monotonic() - started < 1.0
        assert frame.data and frame.data["post"]["headline"] == "Written on A"


async def test_redis_stopping_and_returning_loses_nothing(
    cluster: tuple[Node, Node, str], redis_server: RedisServer, tmp_path: Path
) -> None:
    a, b, token = cluster
    async with sse.connect(b.base, f"/{SLUG}/live?after=9") as reader:
        await _publish(a, token, "Before the outage")
        assert (await reader.next_event(timeout=3)).id == 10
        redis_server.stop()
        for i in range(3):  # writes succeed while Redis is down; B polls the event log
            await _publish(a, token, f"During the outage {i}")
        during = await reader.events(3, timeout=5)
        assert [f.id for f in during] == [11, 12, 13]
        restarted = start_redis(tmp_path / "again", port=redis_server.port)
        try:
            await _subscribed(restarted.url, 2)
            await _publish(a, token, "After the outage")
            after = await reader.next_event(timeout=3)
            assert after.id == 14
            assert await reader.nothing_more(0.5)
        finally:
            restarted.stop()


async def test_several_workers_on_one_port_share_events_through_redis(
    postgres: PostgresServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    db = postgres.create_database(f"workers{os.getpid()}_{free_port()}")
    cli("import", str(SEED), "--slug", SLUG, db=db)
    token = cli(
        "user", "create", "ed@example.org", "--name", "Ed", "--role", "editor", "--blog", SLUG,
        "--token", db=db,
    ).strip().splitlines()[-1]  # fmt: skip
    node = Node(db, redis_server.url, tmp_path / "workers.log", "--workers", "2")
    try:
        await _subscribed(redis_server.url, 2)
        async with sse.connect(node.base, f"/{SLUG}/live?after=9") as reader:
            # Whichever worker takes each write, the reader's worker hears of it.
            seqs = [await _publish(node, token, f"Worker post {i}") for i in range(6)]
            frames = await reader.events(6, timeout=5)
        assert [f.id for f in frames] == seqs == list(range(10, 16))
    finally:
        node.stop()
