"""A bad day: PostgreSQL stopped, frozen, restarted under load; Redis frozen. Writes the node
cannot make are answered 503 with Retry-After and the contract's error JSON within seconds,
never 500 and never a hang; what was already rendered is served meanwhile; /healthz says what
is down; the node recovers by itself; nothing acknowledged is lost and the seqs stay gap-free."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx
import pytest

from tests.conftest import Running
from tests.servers import PostgresServer, RedisServer

SLUG = "xi-putin-moscow"
POSTS = f"/api/v1/blogs/{SLUG}/posts"
pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(own_postgres: PostgresServer) -> str:
    return own_postgres.create_database("outage")


async def _post(c: httpx.AsyncClient, headline: str) -> httpx.Response:
    return await c.post(POSTS, json={"headline": headline})


def _unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert int(r.headers["retry-after"]) > 0
    if r.headers["content-type"].startswith("application/json"):
        assert r.json()["error"]["code"] == "unavailable"
    else:  # a reader's page: the error page, saying so
        assert "unavailable" in r.text


async def _until_written(c: httpx.AsyncClient, headline: str, within: float = 20) -> float:
    """Seconds until a write succeeds again; every answer meanwhile must be 201 or 503."""
    began = time.monotonic()
    while True:
        r = await _post(c, headline)
        if r.status_code == 201:
            return time.monotonic() - began
        _unavailable(r)
        assert time.monotonic() - began < within, "the node did not recover"
        await asyncio.sleep(0.2)


async def _books_balance(running: Running, acknowledged: list[str]) -> None:
    blog = await running.store.get_blog(SLUG)
    assert blog.id is not None
    posts, _ = await running.store.list_posts(blog, limit=10_000)
    assert set(acknowledged) <= {p.headline for p in posts}
    seqs = [e.seq for e in await running.store.events_after(blog.id, 0, limit=100_000)]
    assert seqs == list(range(1, blog.last_seq + 1))
    assert blog.post_count == len(posts)


async def test_a_stopped_database_answers_503_serves_what_it_has_and_recovers(
    seeded: Running, own_postgres: PostgresServer
) -> None:
    async with seeded.client(seeded.token) as c, seeded.client() as reader:
        assert (await _post(c, "Before the outage")).status_code == 201
        page = await reader.get(f"/{SLUG}")
        delta = await reader.get(f"/api/v1/blogs/{SLUG}/events?after=0")
        feed = await reader.get(f"/{SLUG}/feed.atom")
        assert {page.status_code, delta.status_code, feed.status_code} == {200}
        own_postgres.halt()
        try:
            began = time.monotonic()
            _unavailable(await _post(c, "During the outage"))
            assert time.monotonic() - began < 8
            # What was rendered for the blog's last seq is still served, stale but correct.
            await asyncio.sleep(1.1)  # past the blog header's own reuse
            for before in (page, delta, feed):
                again = await reader.get(str(before.url))
                assert again.status_code == 200 and again.content == before.content
            health = await reader.get("/healthz")
            _unavailable(health)
            assert health.json()["error"]["checks"]["database"] == "unavailable"
            _unavailable(await reader.get("/some-other-blog"))  # cannot tell: not a 404
            _unavailable(await c.patch(f"/api/v1/blogs/{SLUG}", json={"title": "T"}))
        finally:
            own_postgres.start_again()
        await _until_written(c, "After the outage")
        assert (await reader.get("/healthz")).status_code == 200
    await _books_balance(seeded, ["Before the outage", "After the outage"])


async def test_a_frozen_database_answers_503_in_seconds_not_a_hang(
    seeded: Running, own_postgres: PostgresServer
) -> None:
    async with seeded.client(seeded.token, timeout=30) as c, seeded.client() as reader:
        assert (await _post(c, "Before the freeze")).status_code == 201
        page = await reader.get(f"/{SLUG}")
        own_postgres.freeze()
        try:
            began = time.monotonic()
            _unavailable(await _post(c, "During the freeze"))
            assert time.monotonic() - began < 9, time.monotonic() - began
            await asyncio.sleep(1.1)
            began = time.monotonic()
            again = await reader.get(f"/{SLUG}")
            assert again.status_code == 200 and again.content == page.content
            assert time.monotonic() - began < 2
        finally:
            own_postgres.thaw()
        await _until_written(c, "After the freeze")
    await _books_balance(seeded, ["Before the freeze", "After the freeze"])


async def test_a_restart_under_load_loses_no_acknowledged_write(
    seeded: Running, own_postgres: PostgresServer
) -> None:
    acknowledged: list[str] = []
    answers: list[int] = []
    stop = asyncio.Event()

    async def writer(n: int) -> None:
        async with seeded.client(seeded.token, timeout=30) as c:
            i = 0
            while not stop.is_set():
                headline = f"Writer {n} post {i}"
                r = await _post(c, headline)
                answers.append(r.status_code)
                if r.status_code == 201:
                    acknowledged.append(headline)
                else:
                    _unavailable(r)
                i += 1
                await asyncio.sleep(0.05)

    writers = [asyncio.create_task(writer(n)) for n in range(4)]
    await asyncio.sleep(1.0)
    own_postgres.halt()
    await asyncio.sleep(2.0)
    own_postgres.start_again()
    await asyncio.sleep(3.0)
    stop.set()
    await asyncio.gather(*writers)
    assert set(answers) == {201, 503}, sorted(set(answers))
    async with seeded.client(seeded.token) as c:
        await _until_written(c, "Settled")
    await _books_balance(seeded, acknowledged)


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, str]:
    if "redis" not in request.node.name:
        return {}
    server: RedisServer = request.getfixturevalue("redis_server")
    return {"bus_url": server.url}


async def test_a_frozen_redis_never_slows_a_write(
    seeded: Running, redis_server: RedisServer
) -> None:
    assert redis_server._proc is not None
    pid = redis_server._proc.pid
    async with seeded.client(seeded.token) as c:
        assert (await _post(c, "Before")).status_code == 201
        os.kill(pid, signal.SIGSTOP)
        try:
            for i in range(5):
                began = time.monotonic()
                assert (await _post(c, f"While Redis is frozen {i}")).status_code == 201
                assert time.monotonic() - began < 1.0
        finally:
            os.kill(pid, signal.SIGCONT)
