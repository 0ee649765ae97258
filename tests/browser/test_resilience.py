"""Readers through the nginx configuration we ship, on a bad day: the only node killed and back
8 s later, and the database away. The page reopens its stream by itself (the browser's
EventSource gives up for good on the first non-200 answer: a 502 from nginx, a 503 from the
node) and shows every post once, in order. No script on the page fails meanwhile: the page's
own reconnects catch every network error (a refused connection, nginx's 502, the node's 503), so
any uncaught error on it is a bug."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page

from tests.conftest import SEED, Running
from tests.nodes import Nginx, Node, cli
from tests.servers import PostgresServer

SLUG = "xi-putin-moscow"
pytestmark = pytest.mark.browser


async def _publish(base: str, token: str, headline: str) -> None:
    """Write a post, retrying while the node answers 503 (its database coming back)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as c, asyncio.timeout(30):
        while True:
            r = await c.post(
                f"/api/v1/blogs/{SLUG}/posts",
                json={"headline": headline},
                headers={"Authorization": f"Bearer {token}"},
            )
            if r.status_code != 503:
                break
            await asyncio.sleep(0.5)
        assert r.status_code == 201, r.text


async def _headlines(page: Page) -> list[str]:
    return [h.strip() for h in await page.locator("#stream article h2").all_inner_texts()]


async def _shows(page: Page, wanted: list[str], timeout: float = 45) -> list[str]:
    """The stream's headlines once all of `wanted` are among them (newest first)."""
    async with asyncio.timeout(timeout):
        while True:
            shown = await _headlines(page)
            if all(w in shown for w in wanted):
                return shown
            await asyncio.sleep(0.2)


async def _open(browser: Browser, url: str) -> tuple[Page, list[str]]:
    """The page, its stream open, and the list its uncaught errors are collected in."""
    page = await (await browser.new_context()).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"{e.name}: {e.message}\n{e.stack}"))
    await page.goto(url)
    await page.wait_for_function("() => !document.querySelector('#live-status:not([hidden])')")
    return page, errors


async def _reconnecting(page: Page) -> None:
    """Once the page has seen its stream drop (it says "Reconnecting…")."""
    await page.wait_for_function(
        "() => document.querySelector('#live-status:not([hidden])')?.textContent"
        " === 'Reconnecting…'"
    )


@pytest.fixture
def node_db(tmp_path: Path) -> tuple[str, str]:
    db = str(tmp_path / "node.db")
    cli("import", str(SEED), "--slug", SLUG, db=db)
    token = cli(
        "user", "create", "ed@example.org", "--name", "Ed", "--role", "editor", "--blog", SLUG,
        "--token", db=db,
    ).strip().splitlines()[-1]  # fmt: skip
    return db, token


async def test_the_page_rides_out_its_only_node_dying_and_coming_back(
    browser: Browser, node_db: tuple[str, str], tmp_path: Path
) -> None:
    db, token = node_db
    # The node readers reach through nginx, and another process on the same database that
    # takes the newsroom's writes while the first is down.
    node = Node(db, "memory://", tmp_path / "node.log")
    writer = Node(db, "memory://", tmp_path / "writer.log")
    proxy = Nginx([f"127.0.0.1:{node.port}"], str(tmp_path / "media"), tmp_path / "nginx")
    try:
        page, errors = await _open(browser, f"{proxy.base}/{SLUG}")
        await _publish(node.base, token, "Before the crash 1")
        await _publish(node.base, token, "Before the crash 2")
        await _shows(page, ["Before the crash 2"])
        node.kill()
        await _reconnecting(page)
        for i in range(3):
            await _publish(writer.base, token, f"While the node is down {i}")
        await asyncio.sleep(8)  # the scenario: the page has lost its node, back 8 s later
        node.start_again()
        await _publish(node.base, token, "After the restart")
        wanted = ["After the restart", *(f"While the node is down {i}" for i in (2, 1, 0)),
                  "Before the crash 2", "Before the crash 1"]  # fmt: skip
        shown = await _shows(page, wanted)
        assert shown[: len(wanted)] == wanted  # each once, newest first
        assert len(shown) == len(set(shown))
        assert errors == []
    finally:
        proxy.stop()
        node.stop()
        writer.stop()


@pytest.fixture
def database_url(own_postgres: PostgresServer) -> str:
    return own_postgres.create_database("resilience")


@pytest.mark.postgres
async def test_the_page_rides_out_the_database_going_away(
    browser: Browser, seeded: Running, own_postgres: PostgresServer, tmp_path: Path
) -> None:
    upstream = seeded.base_url.removeprefix("http://")
    proxy = Nginx([upstream], seeded.services.settings.media_dir, tmp_path / "nginx")
    try:
        page, errors = await _open(browser, f"{proxy.base}/{SLUG}")
        await _publish(seeded.base_url, seeded.token, "Before the outage")
        await _shows(page, ["Before the outage"])
        own_postgres.halt()
        try:
            # The stream drops (a deploy draining the node, a proxy's timeout) while the store
            # is away: the page's reconnects are answered 503 with Retry-After.
            seeded.services.hub.disconnect_all()
            await _reconnecting(page)
            async with httpx.AsyncClient() as c:
                r = await c.get(f"{proxy.base}/{SLUG}/live?after=0")
                assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
            await asyncio.sleep(4)
        finally:
            own_postgres.start_again()
        for i in range(3):
            await _publish(seeded.base_url, seeded.token, f"After the outage {i}")
        wanted = [*(f"After the outage {i}" for i in (2, 1, 0)), "Before the outage"]
        shown = await _shows(page, wanted)
        assert shown[: len(wanted)] == wanted
        assert len(shown) == len(set(shown))
        assert re.search(r"\S", await page.locator("#live-status").inner_text()) is None
        assert errors == []
    finally:
        proxy.stop()
