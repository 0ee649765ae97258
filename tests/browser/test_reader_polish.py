"""The reader page's finer points, in Chromium: a pinned post read once, Load more in place,
the summary live, the empty stream's note, what a screen reader hears, a tag filter that stays
live, long words on a phone, times in the blog's zone from the server, the embed's links."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from dateline import render
from dateline.store import schema
from tests.conftest import Running

SLUG = "xi-putin-moscow"
pytestmark = pytest.mark.browser


async def _api(running: Running, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    async with running.client(running.token) as c:
        r = await c.request(method, f"/api/v1{path}", **kwargs)
        assert r.status_code < 300, r.text
        return dict(r.json())


async def _live(page: Page, running: Running, url: str) -> None:
    before = running.services.hub.reader_count
    await page.goto(f"{running.base_url}{url}")
    for _ in range(100):
        if running.services.hub.reader_count > before:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the page never opened its live stream")


async def test_a_pinned_post_is_read_once_in_its_slot(seeded: Running, page: Page) -> None:
    posts = (await _api(seeded, "GET", f"/blogs/{SLUG}/posts?limit=3"))["posts"]
    pinned = posts[2]
    await _api(seeded, "PATCH", f"/blogs/{SLUG}/posts/{pinned['id']}", json={"pinned": True})
    await _live(page, seeded, f"/{SLUG}")
    body = page.locator(".post__body", has_text=pinned["body"][:40])
    await expect(body.locator("visible=true")).to_have_count(1)  # in the slot, not twice
    marker = page.locator(f"#stream #post-{pinned['id']} .post__pinned-above")
    await expect(marker).to_be_visible()
    # Pinning another live moves the slot; the first is whole in the stream again.
    await _api(seeded, "PATCH", f"/blogs/{SLUG}/posts/{pinned['id']}", json={"pinned": False})
    await expect(page.locator(f"#stream #post-{pinned['id']} .post__body")).to_be_visible()


async def test_load_more_appends_in_place_and_the_page_stays_live(
    seeded: Running, page: Page
) -> None:
    for i in range(15):
        await _api(seeded, "POST", f"/blogs/{SLUG}/posts", json={"headline": f"Update {i}"})
    await _live(page, seeded, f"/{SLUG}")
    await expect(page.locator("#stream article")).to_have_count(20)
    await page.evaluate("window.__marker = 'same page'")
    await page.get_by_role("link", name="Load more").click()
    await expect(page.locator("#stream article")).to_have_count(24)
    await expect(page.locator(".load-more")).to_have_count(0)
    assert await page.evaluate("window.__marker") == "same page"
    await _api(seeded, "POST", f"/blogs/{SLUG}/posts", json={"headline": "Still live"})
    # The reader is down at the older posts: the new one waits behind the button, as ever.
    await expect(page.locator("#new-posts")).to_have_text("1 new post")
    await page.locator("#new-posts").click()
    await expect(page.locator("#stream article").first).to_contain_text("Still live")


async def test_without_script_an_older_page_links_back_to_the_newest(
    seeded: Running, browser: Browser
) -> None:
    for i in range(15):
        await _api(seeded, "POST", f"/blogs/{SLUG}/posts", json={"headline": f"Update {i}"})
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{seeded.base_url}/{SLUG}")
    await page.get_by_role("link", name="Load more").click()
    await expect(page.locator("#stream article")).to_have_count(4)
    await page.get_by_role("link", name="← Newest posts").click()
    await expect(page.locator("#stream article")).to_have_count(20)
    await context.close()


async def _shown_ids(page: Page) -> list[str]:
    return list(await page.locator("#stream article").evaluate_all("(all) => all.map((a) => a.id)"))


async def test_posts_trimmed_from_a_long_page_come_back_with_load_more(
    seeded: Running, page: Page
) -> None:
    # Past its limit (200; 20 here) the page drops its oldest posts as new ones arrive; the
    # existing "Load more" must then continue from the oldest post still shown, or skip some.
    for i in range(16):
        await _api(seeded, "POST", f"/blogs/{SLUG}/posts", json={"headline": f"Update {i}"})
    await _live(page, seeded, f"/{SLUG}")
    await expect(page.locator("#stream article")).to_have_count(20)
    await page.evaluate("document.getElementById('stream').dataset.max = '20'")
    for i in range(3):
        await _api(seeded, "POST", f"/blogs/{SLUG}/posts", json={"headline": f"New {i}"})
    await expect(page.locator("#stream article").first).to_contain_text("New 2")
    await expect(page.locator("#stream article")).to_have_count(20)
    while await page.locator(".load-more").count():
        shown = await page.locator("#stream article").count()
        await page.get_by_role("link", name="Load more").click()
        await expect(page.locator("#stream article")).not_to_have_count(shown)
    everything = (await _api(seeded, "GET", f"/blogs/{SLUG}/posts?limit=100"))["posts"]
    assert await _shown_ids(page) == [f"post-{p['id']}" for p in everything]


async def test_a_load_more_made_by_trimming_keeps_the_tag_and_order(
    seeded: Running, page: Page
) -> None:
    for i in range(3):
        await _api(
            seeded, "POST", f"/blogs/{SLUG}/posts", json={"headline": f"K{i}", "tags": ["Kyiv"]}
        )
    await _live(page, seeded, f"/{SLUG}?tag=Kyiv&sort=newest")
    await expect(page.locator("#stream article")).to_have_count(3)
    await expect(page.locator(".load-more")).to_have_count(0)
    await page.evaluate("document.getElementById('stream').dataset.max = '3'")
    await _api(seeded, "POST", f"/blogs/{SLUG}/posts", json={"headline": "K3", "tags": ["Kyiv"]})
    await expect(page.locator("#stream article").first).to_contain_text("K3")
    await expect(page.locator("#stream article")).to_have_count(3)
    more = page.get_by_role("link", name="Load more")
    href = await more.get_attribute("href") or ""
    assert "tag=Kyiv" in href and "sort=newest" in href, href
    await more.click()
    await expect(page.locator(".load-more")).to_have_count(0)
    await expect(page.locator("#stream article .post__headline")).to_have_text(
        ["K3", "K2", "K1", "K0"]
    )


async def test_a_new_blog_fills_live_and_says_what_came(seeded: Running, page: Page) -> None:
    await _api(seeded, "POST", "/blogs", json={"slug": "fresh", "title": "Fresh"})
    await _live(page, seeded, "/fresh")
    await expect(page.locator(".stream__empty")).to_have_text("No posts yet.")
    await _api(seeded, "POST", "/blogs/fresh/posts", json={"headline": "First word"})
    await expect(page.locator("#stream article")).to_have_count(1)
    await expect(page.locator(".stream__empty")).to_have_count(0)
    await expect(page.locator("#live-announcer")).to_have_text("New post: First word")
    await _api(seeded, "PATCH", "/blogs/fresh", json={"summary": "**Talks** resumed."})
    await expect(page.locator(".summary strong")).to_have_text("Talks")


async def test_a_tag_page_stays_filtered_live(seeded: Running, page: Page) -> None:
    await _api(
        seeded, "POST", f"/blogs/{SLUG}/posts", json={"headline": "In Kyiv", "tags": ["Kyiv"]}
    )
    await _live(page, seeded, f"/{SLUG}?tag=Kyiv")
    await expect(page.locator("#stream article")).to_have_count(1)
    await _api(seeded, "POST", f"/blogs/{SLUG}/posts", json={"headline": "Elsewhere"})
    await _api(seeded, "POST", f"/blogs/{SLUG}/posts", json={"headline": "More", "tags": ["Kyiv"]})
    await expect(page.locator("#stream article")).to_have_count(2)
    await expect(page.locator("#stream")).not_to_contain_text("Elsewhere")


async def test_a_long_url_wraps_on_a_phone(seeded: Running, browser: Browser) -> None:
    url = "https://example.org/" + "a-very-long-path-segment-" * 12
    await _api(seeded, "POST", f"/blogs/{SLUG}/posts", json={"headline": "Link", "body": url})
    context = await browser.new_context(viewport={"width": 390, "height": 800})
    page = await context.new_page()
    await page.goto(f"{seeded.base_url}/{SLUG}")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await context.close()


async def test_live_times_come_in_the_blogs_zone_from_the_server(
    seeded: Running, page: Page
) -> None:
    await _live(page, seeded, f"/{SLUG}")
    await _api(seeded, "POST", f"/blogs/{SLUG}/posts", json={"headline": "Now"})
    updated = page.locator(".blog-header__updated time")
    await expect(updated).to_have_text(re.compile(r"^\d+:\d\d [ap]\.m\. ET, \w+ \d+, \d{4}$"))


async def test_a_live_time_takes_the_zones_name_at_that_moment_not_the_pages(
    seeded: Running, page: Page
) -> None:
    # A London blog last updated in the other half of the year: the page loads saying BST (or
    # GMT). A post now must read what London is now (the script once kept the loaded label).
    zone = "Europe/London"
    await _api(seeded, "PATCH", f"/blogs/{SLUG}", json={"timezone": zone})
    now = render.zone_abbreviation(datetime.now(UTC), zone)
    then = datetime(2026, 7 if now == "GMT" else 1, 1, 11, 5, tzinfo=UTC)
    async with seeded.store.engines.writing() as conn:
        await conn.execute(
            schema.blogs.update().where(schema.blogs.c.slug == SLUG).values(updated_at=then)
        )
    await _live(page, seeded, f"/{SLUG}")
    updated = page.locator(".blog-header__updated time")
    await expect(updated).to_have_text(render.ap_datetime(then, zone))
    assert render.zone_abbreviation(then, zone) != now
    await _api(seeded, "POST", f"/blogs/{SLUG}/posts", json={"headline": "Now"})
    today = render.ap_date(datetime.now(UTC), zone)
    await expect(updated).to_have_text(re.compile(rf"^\d+:\d\d [ap]\.m\. {now}, {today}$"))


async def test_the_embeds_links_open_outside_its_frame(seeded: Running, page: Page) -> None:
    host = f'<!doctype html><title>Elsewhere</title><iframe src="{seeded.base_url}/{SLUG}/embed" style="height:900px;width:100%"></iframe>'
    await page.route(
        "http://news.example/", lambda r: r.fulfill(body=host, content_type="text/html")
    )
    await page.goto("http://news.example/")
    frame = page.frame_locator("iframe")
    link = frame.locator("#stream article .post__headline a").first
    async with page.context.expect_page() as opened:
        await link.click()
    assert (await opened.value).url.startswith(f"{seeded.base_url}/{SLUG}/posts/")
    assert page.url == "http://news.example/"


async def _embedded(running: Running, page: Page) -> None:
    host = f'<!doctype html><title>Elsewhere</title><iframe src="{running.base_url}/{SLUG}/embed" style="height:900px;width:100%"></iframe>'
    await page.route(
        "http://news.example/", lambda r: r.fulfill(body=host, content_type="text/html")
    )
    await page.context.route(  # the new tab's too
        "http://elsewhere.example/**", lambda r: r.fulfill(body="<title>Report</title>")
    )
    await page.goto("http://news.example/")


async def test_the_embeds_links_open_outside_its_frame_without_script(
    seeded: Running, browser: Browser
) -> None:
    await _api(
        seeded, "POST", f"/blogs/{SLUG}/posts",
        json={"headline": "Linked", "body": "See [the report](http://elsewhere.example/report)."},
    )  # fmt: skip
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await _embedded(seeded, page)
    frame = page.frame_locator("iframe")
    body_link = frame.locator("#stream article .post__body a", has_text="the report")
    title_link = frame.locator(".embed__title a")
    for link, where in [
        (body_link, "http://elsewhere.example/report"),
        (title_link, f"{seeded.base_url}/{SLUG}"),
    ]:
        async with context.expect_page() as opened:
            await link.click()
        assert (await opened.value).url == where
        assert page.url == "http://news.example/"
        assert page.frames[1].url == f"{seeded.base_url}/{SLUG}/embed"  # the frame stayed
    await context.close()


async def test_the_embeds_body_links_keep_their_rel_when_clicked(
    seeded: Running, page: Page
) -> None:
    await _api(
        seeded, "POST", f"/blogs/{SLUG}/posts",
        json={"headline": "Linked", "body": "See [the report](http://elsewhere.example/report)."},
    )  # fmt: skip
    await _embedded(seeded, page)
    frame = page.frame_locator("iframe")
    link = frame.locator("#stream article .post__body a", has_text="the report")
    async with page.context.expect_page() as opened:
        await link.click()
    assert (await opened.value).url == "http://elsewhere.example/report"
    rel = set((await link.get_attribute("rel") or "").split())
    assert {"noopener", "noreferrer", "nofollow"} <= rel
    # "Read all coverage" opens the blog outside too (it is no "Load more").
    articles = await frame.locator("#stream article").count()
    async with page.context.expect_page() as opened:
        await frame.get_by_role("link", name="Read all coverage").click()
    assert (await opened.value).url == f"{seeded.base_url}/{SLUG}"
    assert await frame.locator("#stream article").count() == articles
