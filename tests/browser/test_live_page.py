"""The reader page in a real browser: live updates without reloads, and never a jump."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import SCREENSHOTS
from tests.conftest import Running

SLUG = "xi-putin-moscow"
pytestmark = pytest.mark.browser


async def _api(running: Running, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    async with running.client(running.token) as c:
        r = await c.request(method, f"/api/v1/blogs/{SLUG}{path}", **kwargs)
        assert r.status_code < 300, r.text
        return dict(r.json())


async def _open(page: Page, running: Running, query: str = "") -> None:
    await page.goto(f"{running.base_url}/{SLUG}{query}")
    await expect(page.locator("#stream article")).to_have_count(9)
    # Wait until the live stream is open (the server counts its readers).
    for _ in range(100):
        if running.services.hub.reader_count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the page never opened its live stream")


async def test_a_new_post_appears_at_the_top_without_reload(seeded: Running, page: Page) -> None:
    await _open(page, seeded)
    await page.evaluate("window.__marker = 'same page'")
    post = await _api(seeded, "POST", "/posts", json={"headline": "Breaking: talks resume"})
    first = page.locator("#stream article").first
    await expect(first).to_have_attribute("id", f"post-{post['id']}", timeout=2000)
    await expect(first.locator(".post__headline")).to_have_text("Breaking: talks resume")
    await expect(page.locator(".blog-header__count")).to_have_text("10 Posts")
    await expect(page.locator("#live-announcer")).to_have_text("New post: Breaking: talks resume")
    assert await page.evaluate("window.__marker") == "same page"  # no reload


async def test_a_scrolled_reader_gets_a_button_and_the_page_does_not_move(
    seeded: Running, page: Page
) -> None:
    await page.set_viewport_size({"width": 800, "height": 600})
    await _open(page, seeded)
    await page.evaluate("window.scrollTo(0, 1500)")
    before = await page.evaluate("window.scrollY")
    anchor = await page.locator("#stream article").nth(3).bounding_box()
    await _api(seeded, "POST", "/posts", json={"headline": "While you were reading"})
    button = page.locator("#new-posts")
    await expect(button).to_have_text("1 new post", timeout=2000)
    assert await page.evaluate("window.scrollY") == before
    assert await page.locator("#stream article").nth(3).bounding_box() == anchor
    await expect(page.locator("#stream article")).to_have_count(9)
    await button.click()
    await expect(page.locator("#stream article")).to_have_count(10)
    await expect(button).to_be_hidden()
    await expect(page.locator("#stream article").first).to_be_in_viewport()


async def test_edits_deletions_and_flags_apply_in_place(seeded: Running, page: Page) -> None:
    await _open(page, seeded)
    newest = page.locator("#stream article").first
    post_id = (await newest.get_attribute("data-post-id")) or ""
    await _api(
        seeded, "PATCH", f"/posts/{post_id}",
        json={"headline": "US announces $350 million more", "correction": "Figure clarified."},
        headers={"If-Match": "*"},
    )  # fmt: skip
    await expect(newest.locator(".post__headline")).to_have_text("US announces $350 million more")
    await expect(newest.locator(".post__correction")).to_have_text("Figure clarified.")
    await _api(seeded, "PATCH", f"/posts/{post_id}", json={"key_event": True})
    await expect(page.locator(f"#post-{post_id} .badge")).to_have_text("Key event")
    await _api(seeded, "PATCH", f"/posts/{post_id}", json={"pinned": True})
    await expect(page.locator(f"#post-{post_id}")).to_have_class("post post--pinned post--key")
    await _api(seeded, "DELETE", f"/posts/{post_id}", json={"reason": "duplicate"})
    await expect(page.locator(f"#post-{post_id}")).to_have_count(0)
    await expect(page.locator("#stream article")).to_have_count(8)
    await expect(page.locator(".blog-header__count")).to_have_text("8 Posts")


async def test_a_dropped_stream_resumes_with_the_posts_published_meanwhile(
    seeded: Running, page: Page
) -> None:
    await _open(page, seeded)
    seeded.services.hub.disconnect_all()  # the server ends every stream
    missed = [
        (await _api(seeded, "POST", "/posts", json={"headline": f"Meanwhile {i}"}))["id"]
        for i in range(3)
    ]
    await expect(page.locator("#stream article")).to_have_count(12, timeout=5000)
    ids = await page.locator("#stream article").evaluate_all(
        "els => els.map(e => e.dataset.postId)"
    )
    assert ids[:3] == list(reversed(missed)) and len(set(ids)) == 12
    await _api(seeded, "POST", "/posts", json={"headline": "After the drop"})
    await expect(page.locator("#stream article")).to_have_count(13)


async def test_oldest_first_readers_get_new_posts_at_the_end(seeded: Running, page: Page) -> None:
    await _open(page, seeded, "?sort=oldest")
    await _api(seeded, "POST", "/posts", json={"headline": "The latest"})
    await expect(page.locator("#stream article").last.locator(".post__headline")).to_have_text(
        "The latest"
    )


async def test_the_page_reads_without_javascript(seeded: Running, browser: Browser) -> None:
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{seeded.base_url}/{SLUG}")
    await expect(page.locator("#stream article")).to_have_count(9)
    await expect(page.locator(".post__time time").first).to_have_text(
        "7:28 p.m. ET, March 20, 2023"
    )
    await page.get_by_role("link", name="Oldest first").click()
    await expect(page.locator(".post__time time").first).to_have_text(
        "12:18 p.m. ET, March 20, 2023"
    )
    await page.locator(".post__headline a").first.click()
    await expect(page.locator("article")).to_have_count(1)
    await context.close()


async def test_relative_times_keep_the_absolute_time_in_the_title(
    seeded: Running, page: Page
) -> None:
    await _open(page, seeded)
    await _api(seeded, "POST", "/posts", json={"headline": "Fresh"})
    fresh = page.locator("#stream article").first.locator(".post__time time")
    await expect(fresh).to_have_text("Just now")
    assert " ET, " in ((await fresh.get_attribute("title")) or "")
    old = page.locator("#stream article").nth(1).locator(".post__time time")
    await expect(old).to_have_text("7:28 p.m. ET, March 20, 2023")  # older than a day


async def test_screenshots_at_desktop_and_phone_widths(seeded: Running, browser: Browser) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    for name, viewport in {"desktop": (1280, 900), "phone": (390, 844)}.items():
        context = await browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=1
        )
        page = await context.new_page()
        await page.goto(f"{seeded.base_url}/{SLUG}")
        path = SCREENSHOTS / f"blog-{name}.png"
        await page.screenshot(path=str(path), full_page=False)
        assert path.stat().st_size > 10_000
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= viewport[0]  # nothing overflows sideways on a phone
        await context.close()


async def test_pins_and_key_events_fill_the_boxes_above_the_stream(
    seeded: Running, page: Page
) -> None:
    await _open(page, seeded)
    await expect(page.locator("#key-events")).to_be_hidden()
    await expect(page.locator("#pinned")).to_be_hidden()
    post_id = (await page.locator("#stream article").nth(2).get_attribute("data-post-id")) or ""
    await _api(seeded, "PATCH", f"/posts/{post_id}", json={"key_event": True, "pinned": True})
    await expect(page.locator("#key-events")).to_be_visible()
    link = page.locator("#key-events-list a")
    await expect(link).to_have_count(1)
    await expect(link).to_contain_text("US concerned China will back ceasefire")
    assert await link.get_attribute("href") == f"/{SLUG}/posts/{post_id}"
    await expect(page.locator(f"#pinned #pinned-post-{post_id}")).to_be_visible()
    # A reload renders the same boxes on the server.
    await page.reload()
    await expect(page.locator("#key-events-list a")).to_contain_text("US concerned China")
    await expect(page.locator(f"#pinned-post-{post_id}")).to_have_count(1)
    await _open(page, seeded)
    await _api(seeded, "PATCH", f"/posts/{post_id}", json={"pinned": False})
    await expect(page.locator("#pinned")).to_be_hidden()
    await _api(seeded, "PATCH", f"/posts/{post_id}", json={"key_event": False})
    await expect(page.locator("#key-events")).to_be_hidden()


async def test_the_embed_is_live_and_sizes_its_iframe(seeded: Running, page: Page) -> None:
    async with seeded.client() as c:
        snippet = (await c.get(f"/api/v1/blogs/{SLUG}")).json()["embed_html"]
    # The snippet an editor copies, pasted into another site's page as it is.
    host = f"<!doctype html><title>A news site</title><h1>Elsewhere</h1>{snippet}"
    # Served from another site's address (the embed may be framed by any site).
    other_site = "http://news.example/"
    await page.route(other_site, lambda route: route.fulfill(body=host, content_type="text/html"))
    await page.goto(other_site)
    frame = page.frame_locator("iframe[data-dateline-embed]")
    await expect(frame.locator("#stream article")).to_have_count(9)
    iframe = page.locator("iframe[data-dateline-embed]")
    for _ in range(50):
        box = await iframe.bounding_box()
        if box and box["height"] > 1000:
            break
        await asyncio.sleep(0.1)
    assert box and box["height"] > 1000  # grown from 100px to fit the posts
    for _ in range(100):
        if seeded.services.hub.reader_count:
            break
        await asyncio.sleep(0.05)
    await _api(seeded, "POST", "/posts", json={"headline": "Seen on another site"})
    await expect(frame.locator("#stream article").first.locator(".post__headline")).to_have_text(
        "Seen on another site"
    )


async def _axe(page: Page) -> list[dict[str, Any]]:
    import axe_playwright_python

    script = Path(axe_playwright_python.__file__).with_name("axe.min.js")
    await page.add_script_tag(path=str(script))
    results = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v["impact"] in ("serious", "critical")]


async def test_axe_finds_no_serious_or_critical_problems(seeded: Running, browser: Browser) -> None:
    post_id = ""
    async with seeded.client() as c:
        post_id = (await c.get(f"/api/v1/blogs/{SLUG}/posts?limit=1")).json()["posts"][0]["id"]
    await _api(seeded, "PATCH", f"/posts/{post_id}", json={"key_event": True, "pinned": True})
    for scheme in ("light", "dark"):
        # axe is injected as an inline script: the page's own CSP would (rightly) refuse it.
        context = await browser.new_context(color_scheme=scheme, bypass_csp=True)  # type: ignore[arg-type]
        page = await context.new_page()
        for path in (f"/{SLUG}", f"/{SLUG}/posts/{post_id}", f"/{SLUG}/embed", "/"):
            await page.goto(seeded.base_url + path)
            problems = await _axe(page)
            assert not problems, (
                scheme,
                path,
                [(v["id"], [n["html"][:120] for n in v["nodes"]]) for v in problems],
            )
        await context.close()


async def test_load_more_brings_older_posts(seeded: Running, page: Page) -> None:
    from datetime import UTC, datetime, timedelta

    from dateline.newsroom.inputs import PostCreate

    start = datetime(2023, 3, 20, 10, tzinfo=UTC)
    for i in range(16):
        await seeded.services.newsroom.write_post(
            seeded.admin,
            SLUG,
            PostCreate(headline=f"Early {i}", published_at=start + timedelta(minutes=i)),
        )
    await page.goto(f"{seeded.base_url}/{SLUG}")
    await expect(page.locator("#stream article")).to_have_count(20)
    await page.get_by_role("link", name="Load more").click()
    await expect(page.locator("#stream article")).to_have_count(25)  # appended in place
    await expect(page.locator("#stream article").last.locator(".post__headline")).to_have_text(
        "Early 0"
    )
