"""A node killed with SIGKILL under concurrent writers, five times, on SQLite and on PostgreSQL:
no acknowledged post is lost, no post appears that nobody wrote or appears twice, the seqs stay
gap-free, and a reader that resumes with Last-Event-ID across every crash sees every event once,
in order."""

from __future__ import annotations

import asyncio
import random
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEED
from tests.nodes import Node, cli

SLUG = "xi-putin-moscow"
KILLS = 5
WRITERS = 4
ID = re.compile(rb"^id: (\d+)$", re.M)
pytestmark = pytest.mark.network


class ResumingReader:
    """Reads the live stream, and after every drop reconnects with the last seq it saw."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.seqs: list[int] = []
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            last = self.seqs[-1] if self.seqs else 9
            writer: asyncio.StreamWriter | None = None
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.write(
                    f"GET /{SLUG}/live HTTP/1.1\r\nHost: t\r\nLast-Event-ID: {last}\r\n\r\n".encode()
                )
                head = await reader.readuntil(b"\r\n\r\n")
                if b" 200 " in head.split(b"\r\n", 1)[0]:
                    buffer = b""
                    while chunk := await reader.read(65536):
                        buffer += chunk
                        *frames, buffer = buffer.split(b"\n\n")
                        for frame in frames:
                            self.seqs += [int(m) for m in ID.findall(frame)]
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                if writer is not None:
                    writer.close()
            await asyncio.sleep(0.1)


async def test_kill_9_under_writers_loses_nothing(database_url: str, tmp_path: Path) -> None:
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

    reader = ResumingReader(node.port)
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
    try:
        written = [p for p in posts if p.startswith("writer ")]
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
        reader.task.cancel()
        node.stop()
