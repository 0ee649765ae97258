"""What a node does when what it needs is busy or away: every database connection taken (a bounded
wait, then 503, then recovery), readers resuming from a point the hub still holds in memory (no
store read at all), and /healthz while the bus is down and after it returns."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from dateline.bus import open_bus
from dateline.config import Settings
from dateline.hub import Frame, Hub
from dateline.importers.text import parse_text
from dateline.model import Event, User
from dateline.newsroom import Newsroom
from dateline.store import Store, open_store
from dateline.store.engines import POOL_WAIT_SECONDS, RETRY_AFTER_SECONDS
from dateline.web.server import served_app
from tests.conftest import Running
from tests.nodes import SEED
from tests.servers import RedisServer, start_redis
from tests.test_storm import CountedLog

SLUG = "xi-putin-moscow"
POSTS = f"/api/v1/blogs/{SLUG}/posts"


# -- every database connection busy ---------------------------------------------------------------


async def _hold_every_connection(engine: AsyncEngine, held: contextlib.AsyncExitStack) -> int:
    """Check out every connection `engine`'s pool will give (its size and its overflow)."""
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    capacity = pool.size() + pool._max_overflow
    for _ in range(capacity):
        await held.enter_async_context(engine.connect())
    assert pool.checkedout() == capacity
    return capacity


def _unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] == str(RETRY_AFTER_SECONDS)
    assert r.json()["error"]["code"] == "unavailable"
    assert "try again" in r.json()["error"]["message"]


async def test_a_request_waits_a_bounded_time_for_a_busy_pool_then_503_and_recovers(
    seeded: Running,
) -> None:
    """PostgreSQL: one pool for reads and writes. SQLite: the readers' pool (the single writer
    queues writes for up to 15 s by design; a write first reads who its token belongs to)."""
    async with seeded.client(seeded.token, timeout=30) as c:
        async with contextlib.AsyncExitStack() as held:
            await _hold_every_connection(seeded.store.engines.read, held)
            began = time.monotonic()
            health, write = await asyncio.gather(
                c.get("/healthz"), c.post(POSTS, json={"headline": "While the pool is full"})
            )
            waited = time.monotonic() - began
            _unavailable(health)
            _unavailable(write)
            assert health.json()["error"]["checks"]["database"] == "unavailable"
            # The bound is the pool's wait, not a client's patience or a hang.
            assert POOL_WAIT_SECONDS - 0.5 < waited < POOL_WAIT_SECONDS + 3, waited
        # Connections given back: the node serves again at once, by itself.
        began = time.monotonic()
        assert (await c.get("/healthz")).status_code == 200
        r = await c.post(POSTS, json={"headline": "After the pool emptied"})
        assert r.status_code == 201, r.text
        assert time.monotonic() - began < 2
    headlines = [p.headline for p in (await seeded.store.list_posts(
        await seeded.store.get_blog(SLUG), limit=100))[0]]  # fmt: skip
    assert "After the pool emptied" in headlines
    assert "While the pool is full" not in headlines


# -- the hub's memory of recent frames --------------------------------------------------------


@dataclass
class Newsdesk:
    store: Store
    newsroom: Newsroom
    editor: User


@pytest.fixture
async def newsdesk(database_url: str) -> AsyncIterator[Newsdesk]:
    store = await open_store(database_url)
    newsroom = Newsroom(store, open_bus("memory://"))  # announces nothing: no hub listens
    editor = await newsroom.create_user(None, email="ed@example.org", name="Ed", role="admin")
    await newsroom.import_blog(parse_text(SEED.read_text("utf-8"), slug=SLUG), editor)
    yield Newsdesk(store, newsroom, editor)
    await store.close()


async def _frame(event: Event) -> Frame:
    return Frame.of(event.seq, event.type, b"id: %d\n\n" % event.seq)


async def test_readers_resuming_from_a_seq_the_hub_holds_cause_no_store_read(
    newsdesk: Newsdesk,
) -> None:
    log = CountedLog(newsdesk.store)
    hub = Hub(log, _frame)
    blog = await newsdesk.store.get_blog(SLUG)
    assert blog.id is not None
    first = blog.last_seq + 1
    hub.subscribe(blog.id)  # a reader here: the hub fans out, and keeps what it fanned out
    for i in range(4):
        post = await newsdesk.newsroom.write_post(newsdesk.editor, SLUG, {"headline": f"N {i}"})
        await hub.notify(blog.id, first + i)
        assert post.seq == first + i
    last = first + 3
    # The hub holds `first`…`last`: any resume point from just before them is served from memory.
    log.reads = 0
    resume = [first - 1 + i % 5 for i in range(500)]
    backlogs = await asyncio.gather(*(hub.backlog(blog.id, after) for after in resume))
    assert log.reads == 0
    for after, backlog in zip(resume, backlogs, strict=True):
        assert [f.seq for f in backlog] == list(range(after + 1, last + 1))
    # Older than what it holds: one read from the event log, shared by every reader asking.
    older = await asyncio.gather(*(hub.backlog(blog.id, first - 2) for _ in range(100)))
    assert log.reads == 1
    assert {tuple(f.seq for f in b) for b in older} == {tuple(range(first - 1, last + 1))}


# -- /healthz and the bus ---------------------------------------------------------------------


async def _health_until(c: httpx.AsyncClient, bus_ok: bool, within: float = 15) -> dict[str, Any]:
    """Ask /healthz until its bus check is (or is not) ok; every answer meanwhile is 200."""
    deadline = time.monotonic() + within
    while True:
        r = await c.get("/healthz")
        assert r.status_code == 200, r.text  # a bus down is reported, not fatal
        body: dict[str, Any] = r.json()
        assert body["checks"]["database"] == "ok"
        if (body["checks"]["bus"] == "ok") == bus_ok:
            return body
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_healthz_reports_the_bus_down_but_stays_200_and_clears_when_it_returns(
    settings: Settings, redis_server: RedisServer, tmp_path: Path
) -> None:
    app = served_app(replace(settings, bus_url=redis_server.url))
    returned: RedisServer | None = None
    async with app.app.router.lifespan_context(app.app):
        newsroom: Newsroom = app.state.services.newsroom
        admin = await newsroom.create_user(None, email="a@example.org", name="A", role="admin")
        await newsroom.import_blog(parse_text(SEED.read_text("utf-8"), slug=SLUG), admin)
        headers = {"Authorization": f"Bearer {await newsroom.issue_token(admin)}"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=headers, timeout=10
        ) as c:
            try:
                await _health_until(c, bus_ok=True)
                redis_server.stop()
                down = await _health_until(c, bus_ok=False)
                assert down["status"] == "ok"
                assert down["checks"]["bus"] == "unreachable (live events come by polling)"
                # The node still takes writes: readers get them by polling the event log.
                r = await c.post(POSTS, json={"headline": "While the bus is down"})
                assert r.status_code == 201, r.text
                returned = start_redis(tmp_path / "redis-again", redis_server.port)
                back = await _health_until(c, bus_ok=True)
                assert back["status"] == "ok"
            finally:
                if returned is not None:
                    returned.stop()
