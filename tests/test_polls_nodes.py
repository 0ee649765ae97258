"""Polls across two real Dateline nodes (`dateline serve`) on one PostgreSQL and one Redis: votes
on either node are counted exactly, and the two nodes' announcers never announce one change
twice nor more than once a second."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests import sse
from tests.nodes import Node, two_nodes
from tests.servers import PostgresServer, RedisServer, free_port

pytestmark = pytest.mark.postgres
SLUG = "xi-putin-moscow"


@pytest.fixture
def cluster(
    postgres: PostgresServer, redis_server: RedisServer, tmp_path: Path
) -> Iterator[tuple[Node, Node, str]]:
    db = postgres.create_database(f"polls{os.getpid()}_{free_port()}")
    # Every test client comes from 127.0.0.1: lift the per-address limit.
    env = {"DATELINE_POLL_VOTES_PER_MINUTE": "0", "DATELINE_SECRET_KEY": "shared-by-both"}
    with two_nodes(db, redis_server.url, tmp_path, SLUG, env=env) as nodes:
        yield nodes


async def _vote(base: str, url: str, option: int) -> int:
    async with httpx.AsyncClient(base_url=base, timeout=20) as browser:
        return (await browser.post(url, json={"option": option})).status_code


async def test_votes_on_two_nodes_are_counted_exactly_and_announced_once_a_second(
    cluster: tuple[Node, Node, str],
) -> None:
    a, b, token = cluster
    closes = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    poll = {"question": "Deal by Friday?", "options": ["Yes", "No"], "closes_at": closes}
    async with httpx.AsyncClient(base_url=a.base, timeout=10) as editor:
        r = await editor.post(
            f"/api/v1/blogs/{SLUG}/posts",
            json={"headline": "Your view", "poll": poll},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 201, r.text
    post = r.json()
    url = post["poll"]["vote_url"]
    n = 60
    async with sse.connect(b.base, f"/{SLUG}/live?after={post['seq']}") as reader:
        nodes = itertools.cycle([a.base, b.base])
        answers = await asyncio.gather(*(_vote(next(nodes), url, i % 2) for i in range(n)))
        assert answers == [200] * n
        totals, seqs = [], []
        while not totals or totals[-1] < n:
            frame = await reader.next_event(timeout=5)
            assert frame.data is not None and frame.data["type"] == "poll.results"
            totals.append(frame.data["poll"]["total_votes"])
            seqs.append(frame.id)
    assert totals[-1] == n and totals == sorted(set(totals))  # no change announced twice
    async with httpx.AsyncClient(base_url=b.base, timeout=10) as c:
        counted = (await c.get(f"/api/v1/blogs/{SLUG}/posts/{post['id']}")).json()["poll"]
        delta = (await c.get(f"/api/v1/blogs/{SLUG}/events", params={"after": post["seq"]})).json()
    assert [o["votes"] for o in counted["options"]] == [n // 2, n // 2]
    results = [e for e in delta["events"] if e["type"] == "poll.results"]
    assert [e["seq"] for e in results] == seqs
    moments = [datetime.fromisoformat(e["at"]) for e in results]
    assert all((y - x).total_seconds() >= 1 for x, y in itertools.pairwise(moments)), moments
