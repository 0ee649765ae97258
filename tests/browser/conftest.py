"""Browser tests: Debian's chromium driven by Playwright, against a real server on a free port."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from dateline.config import Settings
from tests.servers import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    # Every site in these tests is on this machine: a page "elsewhere" that embeds the blog
    # would need a permission prompt to reach the loopback address.
    "--disable-features=LocalNetworkAccessChecks",
]  # fmt: skip


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Browser tests exercise the page, not the engines: SQLite only."""
    return f"sqlite:///{tmp_path / 'dateline.db'}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # A short retry so a dropped stream reconnects within the test's patience.
    return Settings(
        database_url=database_url,
        port=free_port(),
        media_dir=str(tmp_path / "media"),
        heartbeat_seconds=1.0,
        sse_retry_ms=300,
        secret_key="test-secret",
        gc_thaw_seconds=0,
    )


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    yield page
    await context.close()
