"""A bad day: PostgreSQL stopped, frozen and restarted; Redis stopped and frozen; each under
four writers posting in a loop and three live readers that resume with Last-Event-ID.

Writes the node cannot make are answered 503 with Retry-After and the contract's error JSON
within seconds, never 500 and never a hang; what was already rendered is served meanwhile;
/healthz says what is down; the node recovers by itself within a bound; nothing acknowledged is
lost, the seqs stay gap-free, every reader gets every event once, in order; the node's log says
so in a few lines, without a traceback. Each scenario's figures (answers before, during and
after; 503s; events lost; recovery time) are printed in the run's "proof figures"."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.figures import ProofFigures
from tests.load import SLUG, Books, Load, quiet_log, unavailable
from tests.nodes import SEED, Node, cli, two_nodes
from tests.servers import PostgresServer, RedisServer, free_port, start_redis

pytestmark = [pytest.mark.postgres, pytest.mark.network]
READERS = 3
BEFORE, AFTER = 1.5, 1.5  # seconds of load before the outage, and after the recovery


@pytest.fixture
def node(own_postgres: PostgresServer, tmp_path: Path) -> Iterator[tuple[Node, str]]:
    """`dateline serve` on a database of the test's own PostgreSQL cluster; an editor's token."""
    db = own_postgres.create_database("outage")
    cli("import", str(SEED), "--slug", SLUG, db=db)
    token = cli(
        "user", "create", "ed@example.org", "--name", "Ed", "--role", "editor", "--blog", SLUG,
        "--token", db=db,
    ).strip().splitlines()[-1]  # fmt: skip
    served = Node(db, "memory://", tmp_path / "node.log")
    try:
        yield served, token
    finally:
        served.stop()


@pytest.fixture
def cluster(
    postgres: PostgresServer, redis_server: RedisServer, tmp_path: Path
) -> Iterator[tuple[Node, Node, str]]:
    """Two nodes on one PostgreSQL database, told of new events through `redis_server`."""
    db = postgres.create_database(f"outage{os.getpid()}_{free_port()}")
    with two_nodes(db, redis_server.url, tmp_path, SLUG) as nodes:
        yield nodes


async def _through(
    load: Load, *, down: Callable[[], None], up: Callable[[], None], hold: float,
    within: float, during: Callable[[], Awaitable[None]] | None = None,
) -> float:  # fmt: skip
    """Load before, `down()`, `hold` seconds (with `during()` checks), `up()`, load after; the
    seconds from `up()` until a new write is acknowledged and every reader has it."""
    await asyncio.sleep(BEFORE)
    load.outage_begins()
    await asyncio.to_thread(down)
    began = time.monotonic()
    try:
        if during is not None:
            await during()
        await asyncio.sleep(hold - (time.monotonic() - began))
    finally:
        await asyncio.to_thread(up)
        load.outage_ends()
    recovery = await load.recovered(within)
    await asyncio.sleep(AFTER)
    return recovery


def _books_balance(load: Load, books: Books) -> None:
    assert load.wrong == [], load.wrong[:5]  # only 201, or 503 with Retry-After and the JSON
    assert set(load.codes["before"]) == {201}, load.codes
    assert load.acknowledged, "no write was acknowledged"
    assert books.lost == 0 and books.twice == 0, books
    assert books.gap_free, "the seqs have a gap"
    assert books.readers_exact, [(r.after, r.seqs[:3], r.seqs[-3:]) for r in load.readers]


async def test_a_stopped_database_answers_503_serves_what_it_has_and_recovers(
    node: tuple[Node, str], own_postgres: PostgresServer, proof_figures: ProofFigures,
    tmp_path: Path,
) -> None:  # fmt: skip
    served, token = node
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as reader:
        before = [await reader.get(f"/{SLUG}"), await reader.get(f"/api/v1/blogs/{SLUG}/events?after=0"),
                  await reader.get(f"/{SLUG}/feed.atom")]  # fmt: skip
        assert {r.status_code for r in before} == {200}

        async def during() -> None:
            # What was rendered for the blog's last seq is still served, stale but correct.
            await asyncio.sleep(1.1)  # past the blog header's own reuse
            for earlier in before:
                again = await reader.get(str(earlier.url))
                assert again.status_code == 200 and again.content == earlier.content
            health = await reader.get("/healthz")
            assert unavailable(health)
            assert health.json()["error"]["checks"]["database"] == "unavailable"
            assert unavailable(await reader.get("/some-other-blog"))  # cannot tell: not a 404
            edit = await reader.patch(f"/api/v1/blogs/{SLUG}", json={"title": "T"},
                                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert unavailable(edit)

        load = Load(token, [served.base], [served.port] * READERS)
        try:
            recovery = await _through(
                load, down=own_postgres.halt, up=own_postgres.start_again, hold=3, within=15,
                during=during,
            )  # fmt: skip
            books = await load.finish(served.base)
        finally:
            await load.cancel()
        assert (await reader.get("/healthz")).status_code == 200
    proof_figures.record("postgres stopped 3 s", **load.figures(books, recovery))
    _books_balance(load, books)
    assert load.codes["during"][503] > 0 and load.slowest["during"] < 9, load.slowest
    assert recovery < 15
    assert (problem := quiet_log(tmp_path / "node.log")) is None, problem


async def test_a_frozen_database_answers_503_in_seconds_not_a_hang(
    node: tuple[Node, str], own_postgres: PostgresServer, proof_figures: ProofFigures,
    tmp_path: Path,
) -> None:  # fmt: skip
    served, token = node
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as reader:
        page = await reader.get(f"/{SLUG}")

        async def during() -> None:
            await asyncio.sleep(1.1)
            began = time.monotonic()
            again = await reader.get(f"/{SLUG}")
            assert again.status_code == 200 and again.content == page.content
            assert time.monotonic() - began < 2

        load = Load(token, [served.base], [served.port] * READERS)
        try:
            recovery = await _through(
                # Longer than a statement may wait (5 s): a freeze shorter than that is a pause.
                load, down=own_postgres.freeze, up=own_postgres.thaw, hold=8, within=15,
                during=during,
            )  # fmt: skip
            books = await load.finish(served.base)
        finally:
            await load.cancel()
    proof_figures.record("postgres frozen (SIGSTOP) 8 s", **load.figures(books, recovery))
    _books_balance(load, books)
    assert load.codes["during"][503] > 0 and load.slowest["during"] < 10, load.slowest
    assert recovery < 15
    assert (problem := quiet_log(tmp_path / "node.log")) is None, problem


async def test_a_restart_under_load_loses_no_acknowledged_write(
    node: tuple[Node, str], own_postgres: PostgresServer, proof_figures: ProofFigures,
    tmp_path: Path,
) -> None:  # fmt: skip
    served, token = node
    load = Load(token, [served.base], [served.port] * READERS)
    try:
        recovery = await _through(
            load, down=own_postgres.halt, up=own_postgres.start_again, hold=0, within=15
        )
        books = await load.finish(served.base)
    finally:
        await load.cancel()
    proof_figures.record("postgres restarted", **load.figures(books, recovery))
    _books_balance(load, books)
    assert load.slowest["during"] < 9, load.slowest
    assert recovery < 15
    assert (problem := quiet_log(tmp_path / "node.log")) is None, problem


async def test_redis_stopped_under_load_slows_no_write_and_loses_nothing(
    cluster: tuple[Node, Node, str], redis_server: RedisServer, proof_figures: ProofFigures,
    tmp_path: Path,
) -> None:  # fmt: skip
    a, b, token = cluster
    await asyncio.sleep(1.2)  # both nodes have subscribed
    restarted: list[RedisServer] = []

    def up() -> None:
        restarted.append(start_redis(tmp_path / "again", port=redis_server.port))

    # Writers on both nodes; readers on B hear of A's posts only through Redis, or by polling.
    load = Load(token, [a.base, b.base], [b.port, b.port, a.port])
    try:
        recovery = await _through(load, down=redis_server.stop, up=up, hold=3, within=10)
        books = await load.finish(a.base)
    finally:
        await load.cancel()
        for server in restarted:
            server.stop()
    proof_figures.record("redis stopped 3 s (2 nodes)", **load.figures(books, recovery))
    _books_balance(load, books)
    assert set(load.codes["during"]) == {201}, load.codes  # the bus is never in a write's path
    assert load.slowest["during"] < 1.0, load.slowest
    assert recovery < 10
    logs = [tmp_path / "node-a.log", tmp_path / "node-b.log"]
    assert (problem := quiet_log(*logs)) is None, problem


async def test_a_frozen_redis_never_slows_a_write_and_loses_nothing(
    cluster: tuple[Node, Node, str], redis_server: RedisServer, proof_figures: ProofFigures,
    tmp_path: Path,
) -> None:  # fmt: skip
    a, b, token = cluster
    assert redis_server._proc is not None
    pid = redis_server._proc.pid
    await asyncio.sleep(1.2)  # both nodes have subscribed
    load = Load(token, [a.base, b.base], [b.port, b.port, a.port])
    try:
        recovery = await _through(
            load, down=lambda: os.kill(pid, signal.SIGSTOP),
            up=lambda: os.kill(pid, signal.SIGCONT), hold=4, within=10,
        )  # fmt: skip
        books = await load.finish(a.base)
    finally:
        await load.cancel()
        os.kill(pid, signal.SIGCONT)
    proof_figures.record("redis frozen (SIGSTOP) 4 s (2 nodes)", **load.figures(books, recovery))
    _books_balance(load, books)
    assert set(load.codes["during"]) == {201}, load.codes
    assert load.slowest["during"] < 1.0, load.slowest
    assert recovery < 10
    logs = [tmp_path / "node-a.log", tmp_path / "node-b.log"]
    assert (problem := quiet_log(*logs)) is None, problem
