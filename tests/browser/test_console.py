"""The newsroom console in a real browser: sign in, write, illustrate, edit, review, schedule and
end coverage, with a reader's page open in another browser context that follows without reload."""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from playwright.async_api import Browser, BrowserContext, Page, Route, expect

from dateline.model import PostStatus
from dateline.newsroom import Newsroom
from tests.browser.conftest import SCREENSHOTS
from tests.conftest import Running

SLUG = "xi-putin-moscow"
CONSOLE = f"/newsroom/blogs/{SLUG}"
PASSWORD = "correct horse battery"
pytestmark = pytest.mark.browser


def jpeg_with_gps(width: int = 1800, height: int = 1200) -> bytes:
    """A photo as a phone takes it: with the camera's make and where it was taken."""
    image = Image.new("RGB", (width, height), (30, 90, 160))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (55.0, 45.0, 0.0)  # near the Kremlin
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


async def _api(running: Running, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    async with running.client(running.token) as c:
        r = await c.request(method, f"/api/v1/blogs/{SLUG}{path}", **kwargs)
        assert r.status_code < 300, r.text
        return dict(r.json())


async def _published_headlines(running: Running) -> list[str]:
    async with running.client() as c:
        posts = (await c.get(f"/api/v1/blogs/{SLUG}/posts?limit=50")).json()["posts"]
    return [p["headline"] for p in posts]


async def sign_in(page: Page, running: Running, email: str, password: str = PASSWORD) -> None:
    await page.goto(f"{running.base_url}/newsroom/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


class Desk:
    """The people in one test, each in their own browser context; all closed at the end."""

    def __init__(self, browser: Browser, running: Running) -> None:
        self.browser = browser
        self.running = running
        self.contexts: list[BrowserContext] = []

    async def context(self, width: int = 1280, height: int = 900, **options: Any) -> BrowserContext:
        context = await self.browser.new_context(
            viewport={"width": width, "height": height}, **options
        )
        self.contexts.append(context)
        return context

    async def person(self, role: str, *, blogs: tuple[str, ...] = (SLUG,)) -> str:
        """A new user with a password; returns their email."""
        store = self.running.store
        email = f"{role}-{len(await store.list_users())}@example.org"
        await self.running.newsroom.create_user(
            None, email=email, name=f"The {role}", role=role, password=PASSWORD, blogs=blogs
        )
        return email

    async def signed_in(self, role: str, width: int = 1280, height: int = 900) -> Page:
        """A page of a new context, signed in as a new `role` member of the seed blog."""
        email = await self.person(role)
        page = await (await self.context(width, height)).new_page()
        await sign_in(page, self.running, email)
        await expect(page).to_have_url(f"{self.running.base_url}/newsroom/")
        return page

    async def console(self, role: str, width: int = 1280, height: int = 900) -> Page:
        page = await self.signed_in(role, width, height)
        await page.goto(self.running.base_url + CONSOLE)
        return page

    async def reader(self, posts: int = 9) -> Page:
        """A reader with the seed blog (and `posts` posts) open and its live stream connected."""
        page = await (await self.context()).new_page()
        await page.goto(f"{self.running.base_url}/{SLUG}")
        await expect(page.locator("#stream article")).to_have_count(posts)
        for _ in range(100):
            if self.running.services.hub.reader_count:
                await page.evaluate("window.__marker = 'same page'")
                return page
            await asyncio.sleep(0.05)
        raise AssertionError("the reader's page never opened its live stream")

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest.fixture
async def desk(browser: Browser, running: Running) -> AsyncIterator[Desk]:
    desk = Desk(browser, running)
    yield desk
    await desk.close()


async def _no_reload(reader: Page) -> None:
    assert await reader.evaluate("window.__marker") == "same page"


# -- signing in and starting a blog ----------------------------------------------------------------


async def test_an_editor_signs_in_and_starts_a_blog_from_the_newsroom(
    running: Running, desk: Desk
) -> None:
    email = await desk.person("editor", blogs=())
    page = await (await desk.context()).new_page()
    await page.goto(f"{running.base_url}/newsroom/")
    await expect(page).to_have_url(re.compile(r"/newsroom/login\?next="))
    await sign_in(page, running, email, "not the password")
    await expect(page.get_by_role("alert")).to_be_visible()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await sign_in(page, running, email)
    await expect(page).to_have_url(f"{running.base_url}/newsroom/")
    await expect(page.get_by_text("You are not a member of any blog yet")).to_be_visible()

    panel = page.locator("details", has=page.locator("summary", has_text="New blog"))
    await expect(panel).to_have_attribute("open", "")  # open: there is nothing else to do
    await panel.get_by_label("Title").fill("Budget day 2026")
    await panel.get_by_label("Slug").fill("budget-day-2026")
    await panel.get_by_label("Organisation").fill("The Courier")
    await panel.get_by_label("Authors").fill("Ann Writer\nBo Reporter")
    await panel.get_by_label("Time zone").fill("Europe/London")
    await panel.get_by_label("What we covered").fill("The chancellor's statement, live.")
    await panel.get_by_role("button", name="Create blog").click()

    await expect(page).to_have_url(f"{running.base_url}/newsroom/blogs/budget-day-2026")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Budget day 2026")
    await expect(page.locator(".console-head .status")).to_have_text("live")
    await expect(page.locator("#compose")).to_have_attribute("data-timezone", "Europe/London")
    await expect(page.get_by_text("Publish at (Europe/London)")).to_be_visible()
    await expect(page.locator("#published")).to_contain_text("Nothing published yet.")
    await page.get_by_role("link", name="Dateline newsroom").click()
    await expect(page.get_by_role("link", name="Budget day 2026")).to_be_visible()
    async with running.client() as c:
        blog = (await c.get("/api/v1/blogs/budget-day-2026")).json()
    assert blog["timezone"] == "Europe/London" and blog["organisation"] == "The Courier"


# -- writing, illustrating and publishing ----------------------------------------------------------


async def test_a_published_post_with_a_photo_reaches_an_open_reader_page_without_exif(
    seeded: Running, desk: Desk, tmp_path: Path
) -> None:
    reader = await desk.reader()
    editor = await desk.console("editor")
    await editor.locator("#c-headline").fill("Xi leaves Moscow")
    await editor.locator("#c-body").fill("The talks ended with **no ceasefire plan**.")
    await expect(editor.locator("#c-preview strong")).to_have_text("no ceasefire plan")
    photo = tmp_path / "kremlin.jpg"
    photo.write_bytes(jpeg_with_gps())
    await editor.locator("#c-file").set_input_files(photo)
    await expect(editor.locator("#c-thumb")).to_be_visible()
    await editor.locator("#c-alt").fill("Xi Jinping waves from the steps of his plane")
    await editor.locator("#c-caption").fill("Xi at Vnukovo airport on Wednesday.")
    await editor.locator("#c-credit").fill("Pool/Reuters")
    await editor.get_by_role("button", name="Publish", exact=True).click()

    first = reader.locator("#stream article").first
    await expect(first.locator(".post__headline")).to_have_text("Xi leaves Moscow")
    await expect(first.locator(".post__body strong")).to_have_text("no ceasefire plan")
    image = first.locator("figure img")
    await expect(image).to_have_attribute("alt", "Xi Jinping waves from the steps of his plane")
    await expect(first.locator("figcaption")).to_have_text(
        "Xi at Vnukovo airport on Wednesday. (Pool/Reuters)"
    )
    await expect(first.locator("figcaption .credit")).to_have_text("(Pool/Reuters)")
    src = await image.get_attribute("src") or ""
    srcset = await image.get_attribute("srcset") or ""
    assert src.startswith("/media/") and src.endswith(".jpg")
    assert srcset.count("w") >= 2 and all(
        part.split()[0].startswith("/media/") for part in srcset.split(",")
    )
    await expect(reader.locator(".blog-header__count")).to_have_text("10 Posts")
    await _no_reload(reader)

    # The console has reloaded, emptied the compose box and lists the post as published.
    await expect(editor.locator("#published .item").first).to_contain_text("Xi leaves Moscow")
    await expect(editor.locator("#c-headline")).to_have_value("")
    await expect(editor.locator("#c-file")).to_have_value("")

    # What readers download says nothing about the camera or where it was.
    async with seeded.client() as c:
        for url in {src, *(part.split()[0] for part in srcset.split(","))}:
            r = await c.get(url)
            assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", url
            assert b"SecretCam" not in r.content and b"Exif" not in r.content, url
            served = Image.open(io.BytesIO(r.content))
            assert not served.getexif() and "exif" not in served.info, url


# -- editing, corrections and history --------------------------------------------------------------


async def test_an_edit_with_a_correction_updates_the_open_reader_page_and_can_be_undone(
    seeded: Running, desk: Desk
) -> None:
    post = await _api(
        seeded, "POST", "/posts",
        json={"headline": "Putin hosts a state dinner", "body": "Dinner is at the Kremlin."},
    )  # fmt: skip
    reader = await desk.reader(posts=10)
    article = reader.locator(f"#post-{post['id']}")
    await expect(article.locator(".post__body")).to_have_text("Dinner is at the Kremlin.")
    editor = await desk.console("editor")
    await editor.locator(f"#item-{post['id']}").get_by_role("link", name="Edit").click()
    await expect(editor).to_have_url(f"{seeded.base_url}{CONSOLE}/posts/{post['id']}")
    await expect(editor.locator("#c-body")).to_have_value("Dinner is at the Kremlin.")
    await expect(editor.locator(".revisions > li")).to_have_count(1)

    await editor.locator("#c-body").fill("Dinner is at the *Palace of Facets*.")
    await editor.locator("#c-correction").fill("An earlier version misstated the venue.")
    await editor.get_by_role("button", name="Save changes").click()

    await expect(article.locator(".post__body")).to_have_text("Dinner is at the Palace of Facets.")
    await expect(article.locator(".post__body em")).to_have_text("Palace of Facets")
    await expect(article.locator(".post__correction")).to_have_text(
        "An earlier version misstated the venue."
    )
    await _no_reload(reader)

    revisions = editor.locator(".revisions > li")
    await expect(revisions).to_have_count(2)
    await expect(editor.locator('.revisions li[data-revision="2"] .tag')).to_have_text("current")
    await expect(editor.locator('.revisions li[data-revision="2"]')).to_contain_text(
        "An earlier version misstated the venue."
    )
    first = editor.locator('.revisions li[data-revision="1"]')
    await expect(first).to_contain_text("Dinner is at the Kremlin.")
    await first.get_by_role("button", name="Restore this version").click()

    await expect(revisions).to_have_count(3)
    await expect(editor.locator('.revisions li[data-revision="3"] .tag')).to_have_text("current")
    await expect(editor.locator('.revisions li[data-revision="3"]')).to_contain_text(
        "Dinner is at the Kremlin."
    )
    await expect(editor.locator("#c-body")).to_have_value("Dinner is at the Kremlin.")
    await expect(article.locator(".post__body")).to_have_text("Dinner is at the Kremlin.")
    await _no_reload(reader)
    stored = await _api(seeded, "GET", f"/posts/{post['id']}")
    assert stored["revision"] == 3 and stored["body"] == "Dinner is at the Kremlin."


async def test_restoring_from_history_that_someone_changed_meanwhile_is_refused(
    seeded: Running, desk: Desk
) -> None:
    """Restore carries the revision the History was shown at: it never undoes an edit made
    since (the editor is told, and the post keeps that edit)."""
    post = await _api(seeded, "POST", "/posts", json={"headline": "Talks", "body": "First."})
    await _api(
        seeded, "PATCH", f"/posts/{post['id']}", json={"body": "Second.", "base_revision": 1}
    )
    editor = await desk.console("editor")
    await editor.goto(f"{seeded.base_url}{CONSOLE}/posts/{post['id']}")
    await expect(editor.locator(".revisions > li")).to_have_count(2)
    # Someone else edits the post while this page shows its History.
    await _api(seeded, "PATCH", f"/posts/{post['id']}", json={"body": "Third.", "base_revision": 2})
    first = editor.locator('.revisions li[data-revision="1"]')
    await first.get_by_role("button", name="Restore this version").click()
    await expect(editor.get_by_role("alert")).to_contain_text("has changed since revision 2")
    stored = await _api(seeded, "GET", f"/posts/{post['id']}")
    assert stored["revision"] == 3 and stored["body"] == "Third."


async def test_emptying_the_correction_note_takes_it_off_the_reader_page(
    seeded: Running, desk: Desk
) -> None:
    post = await _api(seeded, "POST", "/posts", json={"headline": "Casualty figures"})
    await _api(
        seeded, "PATCH", f"/posts/{post['id']}",
        json={"body": "Twelve were hurt.", "correction": "An earlier version said 20.",
              "base_revision": 1},
    )  # fmt: skip
    reader = await desk.reader(posts=10)
    correction = reader.locator(f"#post-{post['id']} .post__correction")
    await expect(correction).to_have_text("An earlier version said 20.")
    editor = await desk.console("editor")
    await editor.goto(f"{seeded.base_url}{CONSOLE}/posts/{post['id']}")
    await expect(editor.locator("#c-correction")).to_have_value("An earlier version said 20.")
    await editor.locator("#c-correction").fill("")
    await editor.get_by_role("button", name="Save changes").click()
    await expect(correction).to_have_count(0)
    await expect(editor.locator("#c-correction")).to_have_value("")
    await _no_reload(reader)
    assert (await _api(seeded, "GET", f"/posts/{post['id']}"))["correction"] is None


# -- contributors and review -----------------------------------------------------------------------


async def test_a_contributor_submits_and_an_editor_approves_and_publishes(
    seeded: Running, desk: Desk
) -> None:
    headline = "Crowds gather outside the Kremlin"
    reader = await desk.reader()
    contributor = await desk.console("contributor")
    await expect(contributor.get_by_role("button", name="Publish", exact=True)).to_have_count(0)
    await expect(contributor.get_by_role("button", name="Schedule")).to_have_count(0)
    await expect(contributor.locator("#c-key-event, #c-pinned")).to_have_count(0)
    await expect(contributor.locator("#header")).to_have_count(0)  # no blog header panel
    await contributor.locator("#c-headline").fill(headline)
    await contributor.locator("#c-body").fill("Hundreds waited in the cold.")
    await contributor.get_by_role("button", name="Submit for review").click()
    await expect(contributor.locator("#review .item__headline")).to_have_text(headline)
    assert headline not in await _published_headlines(seeded)

    editor = await desk.console("editor")
    waiting = editor.locator("#review .item", has_text=headline)
    await expect(editor.locator("#review-h")).to_contain_text("Waiting for review")
    await expect(waiting).to_contain_text("Hundreds waited in the cold.")
    await waiting.get_by_role("button", name="Approve and publish").click()

    await expect(editor.locator("#review")).to_have_count(0)  # nothing left to review
    await expect(editor.locator("#published .item__headline").first).to_have_text(headline)
    await expect(reader.locator("#stream article").first.locator(".post__headline")).to_have_text(
        headline
    )
    await _no_reload(reader)
    assert (await _published_headlines(seeded))[0] == headline


# -- the keyboard ----------------------------------------------------------------------------------


async def test_ctrl_enter_in_the_text_publishes(seeded: Running, desk: Desk) -> None:
    editor = await desk.console("editor")
    await editor.locator("#c-headline").fill("Kremlin statement expected")
    body = editor.locator("#c-body")
    await body.fill("A statement is expected within the hour.")
    await body.press("Control+Enter")
    await expect(editor.locator("#published .item__headline").first).to_have_text(
        "Kremlin statement expected"
    )
    await expect(body).to_have_value("")  # the press published; it did not add a line
    headlines = await _published_headlines(seeded)
    assert headlines[0] == "Kremlin statement expected"
    assert headlines.count("Kremlin statement expected") == 1


# -- scheduling ------------------------------------------------------------------------------------


async def test_a_scheduled_post_goes_out_once_when_its_time_comes(
    seeded: Running, desk: Desk
) -> None:
    headline = "Xi departs Moscow"
    newsroom: Newsroom = seeded.services.newsroom
    reader = await desk.reader()
    editor = await desk.console("editor")
    await editor.locator("#c-headline").fill(headline)
    await editor.locator("#c-body").fill("His plane is due to leave at noon.")
    publish_at = editor.get_by_label("Publish at (America/New_York)")
    in_an_hour = datetime.now(ZoneInfo("America/New_York")).replace(tzinfo=None) + timedelta(
        hours=1
    )
    shown = datetime.strptime(await publish_at.input_value(), "%Y-%m-%dT%H:%M")
    assert abs(shown - in_an_hour) < timedelta(minutes=2)  # an hour ahead on the blog's clock
    await editor.get_by_role("button", name="Schedule").click()

    item = editor.locator("#scheduled .item", has_text=headline)
    await expect(item).to_contain_text("goes out")
    post_id = await item.get_attribute("data-post-id") or ""
    blog = await seeded.store.get_blog(SLUG)
    due = (await seeded.store.get_post(blog, post_id)).publish_at
    assert due is not None
    due = due.astimezone(ZoneInfo("America/New_York"))
    assert due.replace(tzinfo=None) == shown  # the wall-clock time, read in the blog's zone
    await asyncio.sleep(1.5)  # a scheduler tick or two: not due yet
    in_stream = reader.locator("#stream article").filter(has_text=headline)
    await expect(in_stream).to_have_count(0)
    assert headline not in await _published_headlines(seeded)

    real = newsroom.clock
    newsroom.clock = lambda: real() + timedelta(hours=1, minutes=1)
    try:
        await expect(in_stream).to_have_count(1, timeout=5000)
        await expect(reader.locator("#stream article").first).to_have_id(f"post-{post_id}")
        await asyncio.sleep(2.5)  # more ticks publish nothing again
        await expect(in_stream).to_have_count(1)
    finally:
        newsroom.clock = real
    await _no_reload(reader)
    async with seeded.client() as c:
        events = (await c.get(f"/api/v1/blogs/{SLUG}/events?after=9")).json()["events"]
    published = [e for e in events if e["type"] == "post.published" and e["post_id"] == post_id]
    assert len(published) == 1, events
    await editor.reload()
    await expect(editor.locator("#scheduled")).to_have_count(0)
    await expect(editor.locator("#published .item__headline").first).to_have_text(headline)


async def test_editing_a_scheduled_post_keeps_its_time(seeded: Running, desk: Desk) -> None:
    new_york = ZoneInfo("America/New_York")
    when = (datetime.now(new_york) + timedelta(days=1)).replace(
        hour=9, minute=30, second=0, microsecond=0
    )
    scheduled = {"status": "scheduled", "publish_at": when.isoformat()}
    post = await _api(seeded, "POST", "/posts", json={"headline": "Morning briefing", **scheduled})
    editor = await desk.console("editor")
    await editor.locator(f"#item-{post['id']}").get_by_role("link", name="Edit").click()
    await expect(editor.locator("h1 .status")).to_have_text("scheduled")
    shown = await editor.locator("#c-publish-at").input_value()
    # Fails while dateline/web/console.py's _console_post (and payloads.post_json) give the
    # template no publish_at: the box then offers "an hour from now" instead of the post's time.
    assert shown == when.strftime("%Y-%m-%dT%H:%M"), (
        f"the editor shows {shown!r}, not the post's scheduled time {when:%Y-%m-%dT%H:%M}; "
        "Schedule would silently move it"
    )
    await editor.locator("#c-headline").fill("Morning briefing: day two")
    await editor.get_by_role("button", name="Schedule").click()
    await expect(editor.locator(".revisions > li")).to_have_count(2)  # saved, page reloaded
    await expect(editor.locator("h1 .status")).to_have_text("scheduled")
    stored = await seeded.store.get_post(await seeded.store.get_blog(SLUG), post["id"])
    assert stored.headline == "Morning briefing: day two" and stored.publish_at == when


# -- autosave and the compose box's draft ----------------------------------------------------------


async def test_unsaved_text_survives_closing_the_page_and_becomes_a_server_draft(
    seeded: Running, desk: Desk
) -> None:
    email = await desk.person("editor")
    context = await desk.context()
    page = await context.new_page()
    await sign_in(page, seeded, email)
    await page.goto(seeded.base_url + CONSOLE)
    await page.locator("#c-headline").fill("Half-written: sanctions")
    await page.locator("#c-body").fill("The EU is *expected* to")
    await page.close()  # before the two seconds after which it would be saved on the server

    again = await context.new_page()
    await again.goto(seeded.base_url + CONSOLE)
    await expect(again.locator("#c-headline")).to_have_value("Half-written: sanctions")
    await expect(again.locator("#c-body")).to_have_value("The EU is *expected* to")
    await expect(again.locator("#c-status")).to_have_text("Restored your unsaved text")
    await expect(again.locator("#c-preview em")).to_have_text("expected")
    await expect(again.locator("#drafts")).to_have_count(0)

    # Left alone, the restored text is saved on the server as a draft.
    await expect(again.locator("#c-status")).to_contain_text("Draft saved", timeout=4000)
    await again.reload()
    drafts = again.locator("#drafts .item")
    await expect(drafts).to_have_count(1)
    await expect(drafts.locator(".item__headline")).to_have_text("Half-written: sanctions")
    await expect(drafts).to_contain_text("The EU is expected to")  # the list shows text
    assert "Half-written: sanctions" not in await _published_headlines(seeded)


async def test_autosave_never_undoes_someone_elses_change_to_the_draft(
    seeded: Running, desk: Desk
) -> None:
    """The compose box saves its draft from the revision it saved last: a change someone else
    made to that draft meanwhile is kept, and the box says its text was not saved."""
    editor = await desk.console("editor")
    await editor.locator("#c-headline").fill("Ceasefire talks")
    await editor.locator("#c-body").fill("Delegations arrive.")
    await expect(editor.locator("#c-status")).to_contain_text("Draft saved", timeout=5000)
    await editor.locator("#c-body").fill("Delegations arrive today.")
    blog = await seeded.store.get_blog(SLUG)
    for _ in range(50):  # the second autosave, two seconds after the last keystroke
        drafts, _ = await seeded.store.list_posts(blog, statuses=(PostStatus.DRAFT,), limit=50)
        (draft,) = [p for p in drafts if p.headline == "Ceasefire talks"]
        if draft.revision == 2:
            break
        await asyncio.sleep(0.1)
    assert draft.revision == 2
    await _api(seeded, "PATCH", f"/posts/{draft.id}",
               json={"body": "Delegations arrived at noon.", "base_revision": 2})  # fmt: skip
    await editor.locator("#c-body").fill("Delegations arrive today, officials say.")
    await expect(editor.locator("#c-status")).to_contain_text("Draft not saved: post", timeout=5000)
    stored = await _api(seeded, "GET", f"/posts/{draft.id}")
    assert stored["body"] == "Delegations arrived at noon." and stored["revision"] == 3


async def test_publishing_while_a_draft_is_being_autosaved_publishes_that_draft(
    seeded: Running, desk: Desk
) -> None:
    editor = await desk.console("editor")
    autosaving = asyncio.Event()

    async def slow_network(route: Route) -> None:
        if route.request.method == "POST":
            autosaving.set()
            await asyncio.sleep(1.5)
        await route.continue_()

    await editor.route(f"**/api/v1/blogs/{SLUG}/posts", slow_network)
    await editor.locator("#c-headline").fill("Published mid-autosave")
    await editor.locator("#c-body").fill("The draft was still on its way.")
    await asyncio.wait_for(autosaving.wait(), 5)  # two seconds after the last keystroke
    await editor.get_by_role("button", name="Publish", exact=True).click()

    await expect(editor.locator("#published .item__headline").first).to_have_text(
        "Published mid-autosave"
    )
    await expect(editor.locator("#drafts")).to_have_count(0)  # no orphaned copy left behind
    assert (await _published_headlines(seeded)).count("Published mid-autosave") == 1


async def test_a_draft_published_or_deleted_from_the_lists_lets_go_of_the_compose_box(
    seeded: Running, desk: Desk
) -> None:
    editor = await desk.console("editor")
    status = editor.locator("#c-status")
    await editor.locator("#c-headline").fill("First draft")
    await expect(status).to_contain_text("Draft saved", timeout=4000)
    await editor.reload()
    await (
        editor.locator("#drafts .item", has_text="First draft")
        .get_by_role("button", name="Publish now")
        .click()
    )
    await expect(editor.locator("#published .item__headline").first).to_have_text("First draft")
    # The box no longer holds the published post's text, and what is written next is a new post.
    await expect(editor.locator("#c-headline")).to_have_value("")
    await editor.locator("#c-headline").fill("Second post")
    await editor.get_by_role("button", name="Publish", exact=True).click()
    await expect(editor.locator("#published .item__headline").first).to_have_text("Second post")
    assert (await _published_headlines(seeded))[:2] == ["Second post", "First draft"]

    await editor.locator("#c-headline").fill("Doomed draft")
    await expect(status).to_contain_text("Draft saved", timeout=4000)
    await editor.reload()
    doomed = editor.locator("#drafts .item", has_text="Doomed draft")
    await doomed.get_by_text("Delete…").click()
    await doomed.get_by_role("button", name="Delete").click()
    await expect(editor.locator("#drafts")).to_have_count(0)
    await expect(editor.locator("#c-headline")).to_have_value("")
    await editor.locator("#c-headline").fill("After the deletion")
    await editor.get_by_role("button", name="Publish", exact=True).click()
    await expect(editor.locator("#console-alert")).to_be_hidden()
    await expect(editor.locator("#published .item__headline").first).to_have_text(
        "After the deletion"
    )


# -- phones ----------------------------------------------------------------------------------------


async def test_the_console_fits_a_phone_and_screenshots_at_both_widths(
    seeded: Running, desk: Desk
) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    await _api(seeded, "POST", "/posts", json={"headline": "Waiting", "status": "submitted"})
    wide = await desk.console("editor", 1280, 900)
    path = SCREENSHOTS / "console-desktop.png"
    await wide.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    assert await wide.evaluate("document.documentElement.scrollWidth") <= 1280

    phone = await desk.console("editor", 390, 844)
    path = SCREENSHOTS / "console-phone.png"
    await phone.screenshot(path=str(path))
    assert path.stat().st_size > 10_000
    await phone.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390

    headline = phone.locator("#c-headline")
    await headline.fill("From a phone")
    await phone.locator("#c-body").fill("Filed on the **move**.")
    await expect(phone.locator("#c-preview strong")).to_have_text("move")
    for control in (headline, phone.locator("#c-body"), phone.locator("#c-file")):
        box = await control.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    publish = phone.get_by_role("button", name="Publish", exact=True)
    await publish.scroll_into_view_if_needed()
    await expect(publish).to_be_in_viewport()
    box = await publish.bounding_box()
    assert box and box["x"] + box["width"] <= 390 and box["height"] >= 40  # a thumb's target
    await publish.click()
    await expect(phone.locator("#published .item__headline").first).to_have_text("From a phone")
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390

    await phone.locator("#published .item").first.get_by_role("link", name="Edit").click()
    await expect(phone.locator("#c-correction")).to_be_visible()
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390


# -- ending coverage -------------------------------------------------------------------------------


async def test_ending_coverage_in_the_header_panel_tells_open_reader_pages(
    seeded: Running, desk: Desk
) -> None:
    reader = await desk.reader()
    await expect(reader.locator(".blog-header__ended")).to_have_count(0)
    editor = await desk.console("editor")
    await editor.get_by_text("Blog header and status").click()
    panel = editor.locator("#header")
    await panel.get_by_label("Status").select_option("ended")
    await panel.get_by_role("button", name="Save header").click()

    await expect(editor.locator(".notice")).to_have_text("Header saved; readers see it now.")
    await expect(editor.locator(".console-head .status")).to_have_text("ended")
    await expect(reader.locator(".blog-header__ended")).to_have_text(
        "This live coverage has ended."
    )
    await _no_reload(reader)
    async with seeded.client() as c:
        assert (await c.get(f"/api/v1/blogs/{SLUG}")).json()["status"] == "ended"


# -- accessibility ---------------------------------------------------------------------------------


async def _axe(page: Page) -> list[dict[str, Any]]:
    import axe_playwright_python  # type: ignore[import-untyped]

    script = Path(axe_playwright_python.__file__).with_name("axe.min.js")
    await page.add_script_tag(path=str(script))
    results = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [v for v in results["violations"] if v["impact"] in ("serious", "critical")]


async def test_axe_finds_no_serious_or_critical_problems_in_the_console(
    seeded: Running, desk: Desk
) -> None:
    # Every list the console can show, and a post with an image, a correction and a history.
    async with seeded.client(seeded.token) as c:
        r = await c.post(
            "/api/v1/media",
            files={"file": ("photo.jpg", jpeg_with_gps(400, 300), "image/jpeg")},
            data={"alt": "Xi and Putin", "caption": "In the Kremlin.", "credit": "Pool/Reuters"},
        )
        assert r.status_code == 201, r.text
        media = r.json()
    later = (datetime.now(ZoneInfo("UTC")) + timedelta(days=1)).isoformat()
    for status, extra in (("submitted", {}), ("draft", {}), ("scheduled", {"publish_at": later})):
        await _api(seeded, "POST", "/posts", json={"headline": status, "status": status, **extra})
    post = await _api(
        seeded, "POST", "/posts",
        json={"headline": "Illustrated", "body": "**Bold** text.", "media": [
            {k: media[k] for k in ("url", "alt", "caption", "credit")}]},
    )  # fmt: skip
    await _api(
        seeded,
        "PATCH",
        f"/posts/{post['id']}",
        json={"body": "New", "correction": "Fix.", "base_revision": 1},
    )

    email = await desk.person("editor")
    for scheme in ("light", "dark"):
        # axe is injected as an inline script: the console's CSP would (rightly) refuse it.
        page = await (await desk.context(color_scheme=scheme, bypass_csp=True)).new_page()
        await page.goto(f"{seeded.base_url}/newsroom/login")
        pages = {"login": await _axe(page)}
        await sign_in(page, seeded, email)
        for name, path in (
            ("home", "/newsroom/"),
            ("console", CONSOLE),
            ("editor", f"{CONSOLE}/posts/{post['id']}"),
        ):
            await page.goto(seeded.base_url + path)
            await page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            pages[name] = await _axe(page)
        problems = {
            name: [(v["id"], [n["html"][:120] for n in v["nodes"]]) for v in found]
            for name, found in pages.items()
            if found
        }
        assert not problems, (scheme, problems)
