"""Editing in the console with other people about, in Chromium: who else has the post open, an
edit that crossed someone else's (both versions shown, kept, taken or merged), times at a clock
change in the blog's zone, the autosave time, and the compose box with scripts off."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from dateline import render
from tests.browser.test_console import CONSOLE, Desk, _api, jpeg_with_gps
from tests.conftest import Running

pytestmark = pytest.mark.browser


@pytest.fixture
async def desk(browser: Browser, running: Running) -> Any:
    desk = Desk(browser, running)
    yield desk
    await desk.close()


async def test_an_edit_that_crossed_another_shows_both_and_merges(
    seeded: Running, desk: Desk
) -> None:
    post = await _api(seeded, "POST", "/posts", json={"headline": "Talks", "body": "First text."})
    ana = await desk.console("editor")
    ben = await desk.console("editor")
    await ana.goto(f"{seeded.base_url}{CONSOLE}/posts/{post['id']}")
    await ben.goto(f"{seeded.base_url}{CONSOLE}/posts/{post['id']}")
    # Each sees the other there (presence is renewed on opening the page).
    await ana.reload()
    await expect(ana.locator("#c-presence")).to_have_text("The editor is editing this post")
    # Ben changes the headline through the API meanwhile; Ana changes only the body.
    await _api(
        seeded,
        "PATCH",
        f"/posts/{post['id']}",
        json={"headline": "Talks resume", "base_revision": post["revision"]},
    )
    await ana.locator("#c-body").fill("Second text.")
    await ana.get_by_role("button", name="Save changes").click()
    conflict = ana.locator("#c-conflict")
    await expect(conflict).to_contain_text("Someone changed this post while you were editing")
    await expect(conflict).to_contain_text("Talks resume")  # theirs
    await expect(conflict).to_contain_text("Second text.")  # mine
    stored = await _api(seeded, "GET", f"/posts/{post['id']}")
    assert stored["headline"] == "Talks resume"  # nothing undone
    # Merge by hand: take their headline, keep the new body, save on top of their revision.
    await ana.locator("#c-headline").fill("Talks resume")
    await ana.get_by_role("button", name="Save changes").click()
    await expect(ana.locator("#c-conflict")).to_have_count(0)
    stored = await _api(seeded, "GET", f"/posts/{post['id']}")
    assert (stored["headline"], stored["body"]) == ("Talks resume", "Second text.")


async def test_scheduling_at_a_clock_change_is_refused_or_asked_about(
    seeded: Running, desk: Desk
) -> None:
    await _api(seeded, "PATCH", "", json={"timezone": "America/New_York"})
    page = await desk.console("editor")
    await page.locator("#c-headline").fill("At the clock change")
    await page.locator("#c-publish-at").fill("2027-03-14T02:30")
    await page.get_by_role("button", name="Schedule").click()
    await expect(page.locator("#console-alert")).to_contain_text(
        "does not exist in America/New_York"
    )
    await page.locator("#c-publish-at").fill("2027-11-07T01:30")
    await page.get_by_role("button", name="Schedule").click()
    await expect(page.locator("#console-alert")).to_contain_text("happens twice")
    which = page.locator("#c-publish-which")
    await expect(which.locator("option")).to_have_text(
        [re.compile(r"The first: 1:30 AM EDT"), re.compile(r"The second: 1:30 AM EST")]
    )
    await which.select_option("1")
    await page.get_by_role("button", name="Schedule").click()
    await expect(page.locator("#console-alert")).to_be_hidden()
    item = page.locator(".items li", has_text="At the clock change")
    await expect(item).to_contain_text("1:30 a.m. ET, November 7, 2027")


async def test_a_poll_closing_in_the_hour_the_clocks_go_back_is_asked_about(
    seeded: Running, desk: Desk
) -> None:
    await _api(seeded, "PATCH", "", json={"timezone": "Europe/London"})
    page = await desk.console("editor")
    await page.locator("#c-headline").fill("Vote")
    await page.locator("#c-poll-question").fill("Will the talks resume?")
    await page.locator("#c-poll-options").fill("Yes\nNo")
    await page.locator("#c-poll-closes").fill("2027-10-31T01:30")  # 01:30 BST, then GMT
    await page.get_by_role("button", name="Publish", exact=True).click()
    await expect(page.locator("#console-alert")).to_contain_text("happens twice")
    which = page.locator("#c-poll-closes-which")
    await expect(which.locator("option")).to_have_text(
        [re.compile(r"The first: 1:30 AM GMT\+1"), re.compile(r"The second: 1:30 AM GMT$")]
    )
    assert (await _api(seeded, "GET", "/posts?limit=1"))["posts"][0]["headline"] != "Vote"
    await which.select_option("1")
    await page.get_by_role("button", name="Publish", exact=True).click()
    await expect(page.locator("#console-alert")).to_be_hidden()
    await expect(page.locator("#c-headline")).to_have_value("")
    post = (await _api(seeded, "GET", "/posts?limit=1"))["posts"][0]
    assert post["headline"] == "Vote" and post["poll"]["closes_at"] == "2027-10-31T01:30:00Z"


async def test_the_autosave_time_is_in_the_blogs_zone(seeded: Running, desk: Desk) -> None:
    # London: "GMT" in winter and "BST" in summer, as the server writes them (Intl would say
    # "GMT" / "GMT+1"); the time is the blog's, whatever the browser's zone.
    await _api(seeded, "PATCH", "", json={"timezone": "Europe/London"})
    page = await desk.console("editor")
    await page.locator("#c-body").fill("Notes from the briefing")
    now = datetime.now(UTC)
    zone = render.zone_abbreviation(now, "Europe/London")
    await expect(page.locator("#c-status")).to_have_text(
        re.compile(rf"^Draft saved \d{{1,2}}:\d\d [ap]\.m\. {zone}$"), timeout=6000
    )
    assert zone in ("GMT", "BST")
    # A summer moment and a winter one, through the page's own formatter.
    names = await page.locator("#compose").get_attribute("data-zone-names")
    shown = await page.evaluate(
        """async (names) => {
          const { apClock } = await import("/static/zoned.js");
          const at = (iso) => apClock(new Date(iso), "Europe/London", JSON.parse(names));
          return [at("2027-07-01T12:05:00Z"), at("2027-01-15T00:30:00Z")];
        }""",
        names,
    )
    assert shown == ["1:05 p.m. BST", "12:30 a.m. GMT"]


async def test_the_compose_box_publishes_with_scripts_off(seeded: Running, desk: Desk) -> None:
    email = await desk.person("editor")
    context = await desk.context(java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{seeded.base_url}/newsroom/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_role("button", name="Sign in").click()
    await page.goto(f"{seeded.base_url}{CONSOLE}")
    await expect(page.locator("noscript")).to_have_count(1)
    await page.locator("#c-headline").fill("Filed with scripts off")
    await page.locator("#c-body").fill("It still works.")
    await page.get_by_role("button", name="Publish").click()
    assert "Filed" not in page.url and "headline" not in page.url
    stored = (await _api(seeded, "GET", "/posts?limit=1"))["posts"][0]
    assert stored["headline"] == "Filed with scripts off"


async def test_restoring_a_version_with_an_image_from_history_brings_the_image_back(
    seeded: Running, desk: Desk
) -> None:
    async with seeded.client(seeded.token) as c:
        r = await c.post(
            "/api/v1/media",
            files={"file": ("dinner.jpg", jpeg_with_gps(800, 600), "image/jpeg")},
            data={"alt": "The hall set for dinner", "caption": "The hall.", "credit": "Pool"},
        )
        assert r.status_code == 201, r.text
        url = r.json()["url"]
    media = [
        {"url": url, "alt": "The hall set for dinner", "caption": "The hall.", "credit": "Pool"}
    ]
    post = await _api(
        seeded, "POST", "/posts", json={"headline": "State dinner", "body": "At 8.", "media": media}
    )
    await _api(seeded, "PATCH", f"/posts/{post['id']}", json={"media": [], "base_revision": 1})
    reader = await desk.reader(posts=10)
    article = reader.locator(f"#post-{post['id']}")
    await expect(article.locator(".post__body")).to_have_text("At 8.")
    await expect(article.locator("figure img")).to_have_count(0)

    editor = await desk.console("editor")
    await editor.goto(f"{seeded.base_url}{CONSOLE}/posts/{post['id']}")
    first = editor.locator('.revisions li[data-revision="1"]')
    await first.get_by_role("button", name="Restore this version").click()
    await expect(editor.locator(".revisions > li")).to_have_count(3)
    await expect(editor.locator("#console-alert")).to_be_hidden()
    await expect(editor.locator("#c-media li")).to_contain_text("The hall.")
    # The open reader page gets it live, and a fresh one has it too.
    image = article.locator("figure img")
    await expect(image).to_have_attribute("alt", "The hall set for dinner")
    assert (await image.get_attribute("src") or "").startswith("/media/")
    stored = await _api(seeded, "GET", f"/posts/{post['id']}")
    assert stored["revision"] == 3 and stored["media"][0]["url"] == url
    await reader.reload()
    await expect(reader.locator(f"#post-{post['id']} figure img")).to_have_count(1)
