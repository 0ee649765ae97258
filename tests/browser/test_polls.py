"""Readers' polls in a real browser: voting with and without JavaScript, and results that reach
every open page live."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.conftest import Running

SLUG = "xi-putin-moscow"
pytestmark = pytest.mark.browser


async def _post_with_poll(running: Running) -> dict[str, Any]:
    closes = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    poll = {"question": "Will the talks produce a deal?", "options": ["Yes", "No"]}
    async with running.client(running.token) as c:
        r = await c.post(
            f"/api/v1/blogs/{SLUG}/posts",
            json={"headline": "Your view", "poll": {**poll, "closes_at": closes}},
        )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _live(page: Page, running: Running) -> None:
    await page.goto(f"{running.base_url}/{SLUG}")
    for _ in range(100):
        if running.services.hub.reader_count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the page never opened its live stream")


async def _vote_in_new_browser(browser: Browser, url: str, option: str) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(url)
    poll = page.locator("#stream .poll").first
    await poll.get_by_label(option).check()
    await poll.get_by_role("button", name="Vote").click()
    await expect(poll.locator(".poll__you")).to_have_text(f"You voted for “{option}”.")
    await expect(poll.locator(".poll__form")).to_be_hidden()
    await context.close()


async def test_votes_from_two_browsers_show_on_a_third_page_within_a_second(
    seeded: Running, browser: Browser, page: Page
) -> None:
    post = await _post_with_poll(seeded)
    await _live(page, seeded)
    poll = page.locator(f'.poll[data-poll-id="{post["poll"]["id"]}"]')
    await expect(poll.locator(".poll__total")).to_have_text("0 votes")
    url = f"{seeded.base_url}/{SLUG}"
    await _vote_in_new_browser(browser, url, "Yes")
    await _vote_in_new_browser(browser, url, "No")
    voted = time.monotonic()
    await expect(poll.locator(".poll__total")).to_have_text("2 votes", timeout=1000)
    assert time.monotonic() - voted < 1.0
    bars = poll.locator(".poll__figure")
    await expect(bars).to_have_text(["50% · 1 vote", "50% · 1 vote"])
    # The third reader has not voted: the form is still theirs to use.
    await expect(poll.locator(".poll__form")).to_be_visible()


async def test_a_browser_that_voted_sees_results_not_the_form_after_a_reload(
    seeded: Running, page: Page
) -> None:
    post = await _post_with_poll(seeded)
    await page.goto(f"{seeded.base_url}/{SLUG}/posts/{post['id']}")
    poll = page.locator(".poll")
    await poll.get_by_label("No").check()
    await poll.get_by_role("button", name="Vote").click()
    await expect(poll.locator(".poll__figure")).to_have_text(["0% · 0 votes", "100% · 1 vote"])
    await page.reload()
    await expect(poll.locator(".poll__you")).to_have_text("You voted for “No”.")
    await expect(poll.locator(".poll__form")).to_be_hidden()


async def test_the_poll_works_without_javascript(seeded: Running, browser: Browser) -> None:
    post = await _post_with_poll(seeded)
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{seeded.base_url}/{SLUG}")
    poll = page.locator("#stream .poll").first
    await poll.get_by_label("Yes").check()
    await poll.get_by_role("button", name="Vote").click()
    await expect(page).to_have_url(
        f"{seeded.base_url}/{SLUG}/posts/{post['id']}#poll-{post['poll']['id']}"
    )
    # The results event comes within a second; the permalink shows the count after it.
    for _ in range(30):
        await page.reload()
        if await page.locator(".poll__total").text_content() == "1 vote":
            break
        await asyncio.sleep(0.1)
    await expect(page.locator(".poll__figure")).to_have_text(["100% · 1 vote", "0% · 0 votes"])
    await context.close()


async def test_an_editor_adds_a_poll_in_the_console_and_closes_it(
    seeded: Running, page: Page
) -> None:
    from tests.browser.test_console import sign_in

    await seeded.newsroom.create_user(
        None, email="ed@example.org", name="Ed", role="editor", password="correct horse battery",
        blogs=(SLUG,),
    )  # fmt: skip
    await sign_in(page, seeded, "ed@example.org")
    await page.goto(f"{seeded.base_url}/newsroom/blogs/{SLUG}")
    await page.locator("#c-headline").fill("Your view")
    await page.locator("#c-poll-question").fill("Deal by Friday?")
    await page.locator("#c-poll-options").fill("Yes\nNo")
    closes = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    await page.locator("#c-poll-closes").fill(closes)
    # The console reloads itself once the post is saved: wait for that, or the next goto races it.
    async with page.expect_navigation():
        await page.get_by_role("button", name="Publish").click()
    blog = await seeded.store.get_blog(SLUG)
    for _ in range(50):
        post = (await seeded.store.list_posts(blog, limit=1))[0][0]
        if post.headline == "Your view":
            break
        await asyncio.sleep(0.1)
    assert post.poll is not None and [o.text for o in post.poll.options] == ["Yes", "No"]
    await page.goto(f"{seeded.base_url}/newsroom/blogs/{SLUG}/posts/{post.id}")
    await expect(page.locator("#c-poll-results li")).to_have_text(
        ["Yes: 0 votes (0%)", "No: 0 votes (0%)"]
    )
    await page.locator("#c-poll-close").check()
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator("#c-poll")).to_contain_text("closed")
    await expect(page.locator("#c-poll-close")).to_have_count(0)
