"""A node killed with SIGKILL under concurrent writers, five times, on SQLite and on PostgreSQL:
no acknowledged post is lost, no post appears that nobody wrote or appears twice, the seqs stay
gap-free, and a reader that resumes with Last-Event-ID across every crash sees every event once,
in order."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEED
from tests.figures import ProofFigures
from tests.nodes import Node, cli
from tests.sse import ResumingReader

SLUG = "xi-putin-moscow"
KILLS = 5
WRITERS = 4
pytestmark = pytest.mark.network


async def test_kill_9_under_writers_loses_nothing(
    database_url: str, tmp_path: Path, proof_figures: ProofFigures
) -> None:
    db = database_url
    cli("import", str(SEED), "--slug", SLUG, db=db)
    token = cli(
        "user", "create", "ed@example.org", "--name", "Ed", "--role", "editor", "--blog", SLUG,
        "--token", db=db,
    ).strip().splitlines()[-1]  # fmt: skip
    node = Node(db, "memory://", tmp_path / "node.log")
    attempted: set[str] = set()
    acknowledged: set[str] = set()
    stop = asyncio.Event()

    async def writer(n: int) -> None:
        async with httpx.AsyncClient(
            base_url=node.base, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as c:
            i = 0
            while not stop.is_set():
                headline = f"writer {n} post {i}"
                i += 1
                attempted.add(headline)
                try:
                    r = await c.post(f"/api/v1/blogs/{SLUG}/posts", json={"headline": headline})
                except httpx.TransportError:
                    await asyncio.sleep(0.05)  # the node is down: a new headline next time
                    continue
                if r.status_code == 201:
                    acknowledged.add(headline)
                else:
                    assert r.status_code == 503, r.text

    reader = ResumingReader(node.port, f"/{SLUG}/live", after=9)
    writers = [asyncio.create_task(writer(n)) for n in range(WRITERS)]
    try:
        for _ in range(KILLS):
            await asyncio.sleep(random.uniform(0.3, 1.0))
            await asyncio.to_thread(node.kill)
            await asyncio.to_thread(node.start_again)
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.gather(*writers)
    async with httpx.AsyncClient(base_url=node.base, timeout=10) as c:
        blog = (await c.get(f"/api/v1/blogs/{SLUG}")).json()
        posts: list[str] = []
        cursor = None
        while True:
            query = f"?limit=100&cursor={cursor}" if cursor else "?limit=100"
            page = (await c.get(f"/api/v1/blogs/{SLUG}/posts{query}")).json()
            posts += [p["headline"] for p in page["posts"]]
            if not (cursor := page["next_cursor"]):
                break
        events = (await c.get(f"/api/v1/blogs/{SLUG}/events?after=0&limit=1000")).json()
    written = [p for p in posts if p.startswith("writer ")]
    try:
        assert acknowledged, "no write was acknowledged"
        assert acknowledged <= set(written), sorted(acknowledged - set(written))[:5]
        assert set(written) <= attempted  # nothing nobody wrote
        assert len(written) == len(set(written))  # nothing twice
        seqs = [e["seq"] for e in events["events"]]
        assert seqs == list(range(1, blog["last_seq"] + 1))
        assert blog["post_count"] == len(posts)
        async with asyncio.timeout(10):  # the reader catches up with the last seq
            while not reader.seqs or reader.seqs[-1] < blog["last_seq"]:
                await asyncio.sleep(0.05)
        assert reader.seqs == list(range(10, blog["last_seq"] + 1))
    finally:
        await reader.close()
        node.stop()
        proof_figures.record(
            f"crash, kill -9 [{database_url.split(':', 1)[0]}]",
            kills=KILLS,
            writers=WRITERS,
            attempted=len(attempted),
            acknowledged=len(acknowledged),
            lost=len(acknowledged - set(written)),
            duplicated=len(written) - len(set(written)),
            reader_events=len(reader.seqs),
            reader_expected=blog["last_seq"] - 9,
            reader_connections=len(reader.statuses),
        )
