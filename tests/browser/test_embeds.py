"""Embeds in Chromium: a page with five embeds asks no other origin for anything until the reader
clicks one; then exactly that provider's privacy-enhanced frame loads; "Always load" is
remembered; a card upgrades live when its provider answers; nothing overflows a phone's width."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request, expect

from dateline.config import Settings
from dateline.model import EmbedState
from tests.conftest import Running
from tests.embed_provider import Provider
from tests.servers import free_port

pytestmark = pytest.mark.browser
SLUG = "summit"
FIVE = [
    "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
    "https://x.com/Interior/status/463440424141459456",
    "https://vimeo.com/76979871",
    "https://bsky.app/profile/emily.example/post/3jzn6g7ixgq2y",
    "https://t.me/kremlinpress/123",
]


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    server = Provider()
    yield server
    server.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, provider: Provider) -> Settings:
    return Settings(
        database_url=database_url,
        port=free_port(),
        media_dir=str(tmp_path / "media"),
        heartbeat_seconds=1.0,
        sse_retry_ms=300,
        secret_key="test-secret",
        gc_thaw_seconds=0,
        embed_endpoints=provider.endpoints(),
        embed_trusted_hosts=f"127.0.0.1:{provider.port}",
        embed_retry_seconds=0.2,
        embed_timeout_seconds=2.0,
    )


async def _api(running: Running, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    async with running.client(running.token) as c:
        r = await c.request(method, f"/api/v1{path}", **kwargs)
        assert r.status_code < 300, r.text
        return dict(r.json())


async def _ready(running: Running, post_id: str) -> None:
    blog = await running.store.get_blog(SLUG)
    for _ in range(150):
        post = await running.store.get_post(blog, post_id)
        if all(e.state is EmbedState.READY for e in post.embeds):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the embeds never became ready: {post.embeds}")


async def _blog_with_five(running: Running) -> None:
    await _api(running, "POST", "/blogs", json={"slug": SLUG, "title": "Summit", "timezone": "UTC"})
    post = await _api(
        running, "POST", f"/blogs/{SLUG}/posts",
        json={"headline": "What they are saying", "body": "\n\n".join(FIVE)},
    )  # fmt: skip
    await _ready(running, post["id"])


class Watched:
    """A phone-sized page whose requests and console errors are recorded; other origins get a
    small stand-in page (nothing here reaches the internet)."""

    def __init__(self, context: BrowserContext, page: Page, origin: str) -> None:
        self.context, self.page, self.origin = context, page, origin
        self.elsewhere: list[str] = []
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _request(self, request: Request) -> None:
        if not request.url.startswith(self.origin + "/"):
            self.elsewhere.append(request.url)


@pytest.fixture
async def phone(browser: Browser, running: Running) -> Any:
    context = await browser.new_context(viewport={"width": 390, "height": 844})

    async def stand_in(route: Any) -> None:
        await route.fulfill(
            status=200, content_type="text/html", body="<p>the provider's player</p>"
        )

    await context.route(lambda url: not url.startswith(running.base_url + "/"), stand_in)
    page = await context.new_page()
    yield Watched(context, page, running.base_url)
    await context.close()


async def test_five_embeds_ask_nothing_elsewhere_until_one_is_loaded(
    running: Running, phone: Watched
) -> None:
    await _blog_with_five(running)
    page = phone.page
    await page.goto(f"{running.base_url}/{SLUG}")
    cards = page.locator("figure.embed")
    await expect(cards).to_have_count(5)
    await expect(page.locator(".embed__load")).to_have_count(5)
    await expect(page.locator(".embed__load").first).to_be_visible()
    await page.wait_for_load_state("networkidle")
    assert phone.elsewhere == []
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    assert await page.locator("iframe").count() == 0

    youtube = page.locator('figure.embed[data-provider="YouTube"]')
    await youtube.locator(".embed__load").click()
    frame = youtube.locator("iframe.embed__frame")
    await expect(frame).to_have_attribute(
        "src", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"
    )
    assert "allow-scripts" in (await frame.get_attribute("sandbox") or "")
    await expect(page.frame_locator("iframe.embed__frame").locator("p")).to_have_text(
        "the provider's player"
    )
    await page.wait_for_load_state("networkidle")
    assert phone.elsewhere == ["https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"]
    assert await page.locator("iframe").count() == 1
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.errors == []


async def test_always_load_is_remembered_for_that_provider_only(
    running: Running, phone: Watched
) -> None:
    await _blog_with_five(running)
    page = phone.page
    await page.goto(f"{running.base_url}/{SLUG}")
    vimeo = page.locator('figure.embed[data-provider="Vimeo"]')
    await vimeo.locator(".embed__always").check()
    await vimeo.locator(".embed__load").click()
    await expect(vimeo.locator("iframe")).to_have_count(1)
    await page.reload()
    await expect(page.locator('figure.embed[data-provider="Vimeo"] iframe')).to_have_count(1)
    await page.wait_for_load_state("networkidle")
    assert await page.locator("iframe").count() == 1
    assert all(url.startswith("https://player.vimeo.com/") for url in phone.elsewhere)
    assert phone.errors == []


async def test_a_card_upgrades_live_when_its_provider_answers(
    running: Running, phone: Watched, provider: Provider
) -> None:
    await _api(running, "POST", "/blogs", json={"slug": SLUG, "title": "Summit", "timezone": "UTC"})
    page = phone.page
    before = running.services.hub.reader_count
    await page.goto(f"{running.base_url}/{SLUG}")
    for _ in range(100):
        if running.services.hub.reader_count > before:
            break
        await asyncio.sleep(0.05)
    provider.down = True
    try:
        await _api(running, "POST", f"/blogs/{SLUG}/posts", json={"body": FIVE[0]})
        pending = page.locator('figure.embed[data-state="pending"]')
        await expect(pending).to_have_count(1)
        await expect(pending.locator(".embed__link")).to_have_text(FIVE[0])
    finally:
        provider.down = False
    ready = page.locator('figure.embed[data-provider="YouTube"]:not([data-state])')
    await expect(ready).to_have_count(1, timeout=10_000)
    await expect(ready.locator(".embed__title")).to_have_text("Xi arrives in Moscow")
    await expect(ready.locator(".embed__thumb")).to_be_visible()
    assert phone.elsewhere == []
    assert phone.errors == []


async def test_an_edit_keeps_a_loaded_video_playing(running: Running, phone: Watched) -> None:
    await _blog_with_five(running)
    page = phone.page
    before = running.services.hub.reader_count
    await page.goto(f"{running.base_url}/{SLUG}")
    for _ in range(100):
        if running.services.hub.reader_count > before:
            break
        await asyncio.sleep(0.05)
    youtube = page.locator('figure.embed[data-provider="YouTube"]')
    await youtube.locator(".embed__load").click()
    frame = await youtube.locator("iframe").element_handle()
    assert frame is not None
    post_id = await page.locator("article.post").first.get_attribute("data-post-id")
    await _api(
        running, "PATCH", f"/blogs/{SLUG}/posts/{post_id}",
        json={"headline": "What they are saying, updated"}, headers={"If-Match": "*"},
    )  # fmt: skip
    await expect(page.locator(".post__headline").first).to_have_text(
        "What they are saying, updated"
    )
    # The same frame element, not a new one: the video did not restart.
    assert await frame.evaluate("(f) => f.isConnected")
    assert await page.locator("iframe").count() == 1


async def test_a_long_bare_url_in_a_sentence_wraps_at_320_px(
    running: Running, browser: Browser
) -> None:
    await _api(running, "POST", "/blogs", json={"slug": SLUG, "title": "Summit", "timezone": "UTC"})
    url = "https://example.org/" + "a-very-long-path-segment-" * 12
    await _api(running, "POST", f"/blogs/{SLUG}/posts", json={"body": f"Read {url} for the text."})
    context = await browser.new_context(viewport={"width": 320, "height": 640})
    page = await context.new_page()
    await page.goto(f"{running.base_url}/{SLUG}")
    await expect(page.locator(f'.post__body a[href="{url}"]')).to_have_text(url)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 320
    await context.close()
