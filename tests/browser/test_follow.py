"""'Follow this story' in Debian's Chromium: the button registers the service worker (scoped to the
blog's followers path) and asks `pushManager.subscribe` for a subscription. Headless Chromium
here has no push service to reach, so the subscription itself may fail: the reader is then told
so in one polite line, and the page's script logs nothing. Where the Push API is missing, or JavaScript
is off, there is no button at all."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from dateline.config import Settings
from tests.conftest import Running

SLUG = "xi-putin-moscow"
pytestmark = pytest.mark.browser
INCOGNITO = "Chrome currently does not support the Push API in incognito mode"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, vapid_subject="mailto:newsroom@example.org")


def _errors(page: Page) -> list[str]:
    found: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            found.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: found.append(str(error)))
    return found


async def _registration(page: Page) -> Any:
    return await page.evaluate(
        """async (slug) => {
            const r = await navigator.serviceWorker.getRegistration(`/${slug}/followers/`);
            return r ? {scope: r.scope, script: (r.active || r.installing || r.waiting).scriptURL}
                     : null;
        }""",
        SLUG,
    )


async def test_following_registers_the_worker_and_asks_for_a_subscription(
    browser: Browser, seeded: Running
) -> None:
    context = await browser.new_context(permissions=["notifications"])
    page = await context.new_page()
    errors = _errors(page)
    await page.goto(f"{seeded.base_url}/{SLUG}")
    button = page.get_by_role("button", name="Follow this story")
    await expect(button).to_be_visible()
    await button.click()
    status = page.locator(".follow__status")
    await expect(status).to_have_attribute(
        "data-state", re.compile("^(following|failed)$"), timeout=15_000
    )
    # The worker was active and pushManager.subscribe was called (and answered, or refused).
    await expect(page.locator("#follow")).to_have_attribute(
        "data-step", re.compile("^(subscribing|sending)$")
    )
    registration = await _registration(page)
    assert registration["scope"] == f"{seeded.base_url}/{SLUG}/followers/"
    assert registration["script"] == f"{seeded.base_url}/sw.js"
    blog = await seeded.store.get_blog(SLUG)
    assert blog.id is not None
    if await status.get_attribute("data-state") == "failed":
        # No push service: one polite line, the button ready for another try, nothing kept.
        await expect(status).to_have_text(
            "This browser could not sign up for notifications just now. Please try again later."
        )
        await expect(button).to_be_enabled()
        assert await seeded.store.followers(blog.id) == 0
    else:  # a push service answered: the server keeps the subscription, and it can be undone
        assert await seeded.store.followers(blog.id) == 1
        await page.get_by_role("button", name="Unfollow this story").click()
        await expect(status).to_have_attribute("data-state", "unfollowed")
        assert await seeded.store.followers(blog.id) == 0
    # Playwright's contexts are incognito, where Chromium refuses push and says so once itself;
    # nothing else, and nothing from the page's script.
    assert [e for e in errors if not e.startswith(INCOGNITO)] == []
    assert len(errors) <= 1
    await context.close()


async def test_blocked_notifications_are_explained(browser: Browser, seeded: Running) -> None:
    context = await browser.new_context()  # notifications not granted: the prompt is refused
    page = await context.new_page()
    errors = _errors(page)
    await page.goto(f"{seeded.base_url}/{SLUG}")
    await page.get_by_role("button", name="Follow this story").click()
    await expect(page.locator(".follow__status")).to_have_text(
        "Notifications are blocked for this site. "
        "Allow them in your browser's settings to follow this story."
    )
    assert await _registration(page) is None
    assert errors == []
    await context.close()


async def test_without_the_push_api_there_is_no_button(browser: Browser, seeded: Running) -> None:
    context = await browser.new_context()
    await context.add_init_script("delete window.PushManager;")
    page = await context.new_page()
    await page.goto(f"{seeded.base_url}/{SLUG}")
    await expect(page.locator("#follow")).to_be_hidden()
    await context.close()


async def test_without_javascript_there_is_no_button(browser: Browser, seeded: Running) -> None:
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{seeded.base_url}/{SLUG}")
    await expect(page.locator("#follow")).to_be_hidden()
    await expect(page.locator("#stream article").first).to_be_visible()
    await context.close()
