"""The Telegram input end to end: Telegram's documented updates posted to the webhook, the bot's
answers and file downloads served by a local fake of the Bot API (tests/platforms.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from dateline.model import PostStatus, User
from dateline.store import schema as t
from tests.conftest import Running
from tests.platforms import (
    TELEGRAM_SECRET,
    TELEGRAM_TOKEN,
    Platforms,
    png,
    telegram_update,
)
from tests.test_console import make_person, sign_in

SLUG = "port-blast"
HOOK = "/intake/telegram"


@pytest.fixture
def settings_overrides(fake: Platforms) -> dict[str, Any]:
    return {
        "telegram_bot_token": TELEGRAM_TOKEN,
        "telegram_webhook_secret": TELEGRAM_SECRET,
        "telegram_api_url": fake.url,
        "public_url": "https://live.example.org",
    }


async def send(
    running: Running, update: dict[str, Any], secret: str | None = TELEGRAM_SECRET
) -> httpx.Response:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    async with running.client() as c:
        response = await c.post(HOOK, json=update, headers=headers)
    assert running.services.intake is not None
    await running.services.intake.desk.idle()
    return response


async def reporter(running: Running, role: str, *, user_id: int = 1111111) -> User:
    """A user of `role` in the blog, paired with Telegram user `user_id`, the blog chosen."""
    newsroom = running.newsroom
    try:
        await newsroom.store.get_blog(SLUG)
    except Exception:
        await newsroom.create_blog(
            running.admin,
            {"slug": SLUG, "title": "Blast at the port", "timezone": "UTC", "status": "live"},
        )
    user = await newsroom.create_user(
        None, email=f"{role}{user_id}@example.org", name=f"Maria {role}", role=role, blogs=(SLUG,)
    )
    code = await newsroom.pairing_code(user, "telegram")
    assert (
        await send(running, telegram_update(f"/pair {code}", user_id=user_id))
    ).status_code == 200
    assert (
        await send(running, telegram_update(f"/blog {SLUG}", user_id=user_id))
    ).status_code == 200
    return user


async def count(running: Running, table: sa.Table) -> int:
    async with running.store.engines.reading() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_a_missing_or_wrong_secret_token_is_refused_and_nothing_is_written(
    running: Running, platforms: Platforms
) -> None:
    user = await running.newsroom.create_user(None, email="e@example.org", name="E", role="editor")
    code = await running.newsroom.pairing_code(user, "telegram")
    for secret in (None, "guess", TELEGRAM_SECRET[:-1]):
        r = await send(running, telegram_update(f"/pair {code}"), secret=secret)
        assert r.status_code == 403
        assert "X-Telegram-Bot-Api-Secret-Token" in r.json()["error"]["message"]
    assert await count(running, t.intake_pairings) == 0
    assert platforms.said("sendMessage") == []


async def test_an_editors_text_is_published_with_a_link_back(
    running: Running, platforms: Platforms
) -> None:
    await reporter(running, "editor")
    texts = platforms.texts("sendMessage")
    assert texts[0].startswith("Paired with Dateline as Maria editor")
    assert texts[1] == "Your messages now go to Blast at the port; they are published at once."
    r = await send(
        running, telegram_update("# Fire contained\nFirefighters say the fire at pier 4 is out.")
    )
    assert r.status_code == 200 and r.json() == {"ok": True}
    async with running.client() as c:
        posts = (await c.get(f"/api/v1/blogs/{SLUG}/posts")).json()["posts"]
        page = (await c.get(f"/{SLUG}")).text
    assert [p["headline"] for p in posts] == ["Fire contained"]
    assert posts[0]["body"] == "Firefighters say the fire at pier 4 is out."
    assert posts[0]["byline"]["people"] == [{"name": "Maria editor"}]
    assert "Firefighters say the fire at pier 4 is out." in page
    confirmation = platforms.said("sendMessage")[-1]
    assert confirmation["text"] == (
        f"Published in Blast at the port: https://live.example.org/{SLUG}/posts/{posts[0]['id']}"
    )
    assert confirmation["reply_parameters"]["message_id"] > 0


async def test_a_redelivered_update_makes_one_post(running: Running, platforms: Platforms) -> None:
    await reporter(running, "editor")
    update = telegram_update("Sirens again near the docks.")
    for _ in range(3):
        assert (await send(running, update)).status_code == 200
    blog = await running.store.get_blog(SLUG)
    assert blog.post_count == 1
    # One confirmation: a retry is not announced again.
    assert sum(t.startswith("Published") for t in platforms.texts("sendMessage")) == 1


async def test_a_delivery_whose_handler_died_is_posted_when_the_platform_retries(
    running: Running, platforms: Platforms
) -> None:
    user = await reporter(running, "editor")
    update = telegram_update("Second blast reported at pier 6.")
    key = str(update["update_id"])  # what the adapter records a Telegram update by
    blog = await running.store.get_blog(SLUG)
    assert user.id is not None
    # The first delivery was claimed, then its process died before writing the post.
    assert (
        await running.store.claim_message("telegram", key, user_id=user.id, blog_id=blog.id) is None
    )
    # A retry while the claim is fresh is told it is being handled (the first may still finish)…
    assert (await send(running, update)).status_code == 200
    assert (await running.store.get_blog(SLUG)).post_count == 0
    # …and once the claim is stale (its handler is gone), the next retry posts it, once.
    async with running.store.engines.writing() as conn:
        await conn.execute(
            t.intake_messages.update()
            .where(t.intake_messages.c.message_id == key)
            .values(created_at=datetime.now(UTC) - timedelta(minutes=10))
        )
    assert (await send(running, update)).status_code == 200
    assert (await send(running, update)).status_code == 200
    assert (await running.store.get_blog(SLUG)).post_count == 1


async def test_a_handler_that_died_after_posting_makes_no_second_post_on_retry(
    running: Running, platforms: Platforms
) -> None:
    user = await reporter(running, "editor")
    update = telegram_update("Third blast, pier 9.")
    key = str(update["update_id"])
    blog = await running.store.get_blog(SLUG)
    assert user.id is not None
    # The first delivery was claimed and posted; its node died before recording that it had.
    assert (
        await running.store.claim_message("telegram", key, user_id=user.id, blog_id=blog.id) is None
    )
    await running.newsroom.write_reported(
        user, blog, body="Third blast, pier 9.", origin=f"telegram:{key}"
    )
    async with running.store.engines.writing() as conn:
        await conn.execute(
            t.intake_messages.update()
            .where(t.intake_messages.c.message_id == key)
            .values(created_at=datetime.now(UTC) - timedelta(minutes=10))
        )
    assert (await send(running, update)).status_code == 200
    assert (await running.store.get_blog(SLUG)).post_count == 1
    assert platforms.texts("sendMessage")[-1].startswith("Already received. Published")


async def test_a_message_that_fails_on_the_server_is_reported_not_left_pending(
    running: Running, platforms: Platforms, monkeypatch: pytest.MonkeyPatch
) -> None:
    await reporter(running, "editor")

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug in the newsroom")

    # A fault the code does not expect (the one thing injected here: the failure itself).
    monkeypatch.setattr(running.newsroom, "write_reported", broken)
    update = telegram_update("Casualty figures updated.")
    assert (await send(running, update)).status_code == 200
    told = platforms.texts("sendMessage")[-1]
    assert told.startswith("Not posted:") and "send it again" in told
    record = await running.store.received("telegram", str(update["update_id"]))
    assert record is not None and record.status == "failed"
    assert (await running.store.get_blog(SLUG)).post_count == 0


async def test_a_contributors_message_goes_to_review_and_is_never_published(
    running: Running, platforms: Platforms
) -> None:
    await reporter(running, "contributor")
    assert platforms.texts("sendMessage")[-1].endswith("they are submitted for review.")
    await send(running, telegram_update("Witnesses describe a second blast."))
    queue = await running.newsroom.newsroom_posts(running.admin, SLUG, (PostStatus.SUBMITTED,))
    assert [p.body for p in queue] == ["Witnesses describe a second blast."]
    async with running.client() as c:
        assert (await c.get(f"/api/v1/blogs/{SLUG}/posts")).json()["posts"] == []
    assert platforms.texts("sendMessage")[-1].startswith(
        f"Submitted for review in Blast at the port: https://live.example.org/newsroom/blogs/{SLUG}/posts/"
    )


async def test_an_editors_message_is_a_draft_when_the_blog_says_so(
    running: Running, platforms: Platforms
) -> None:
    editor = await reporter(running, "editor")
    await running.newsroom.set_editor_posts(editor, SLUG, "draft")
    await send(running, telegram_update("Unconfirmed: a third blast."))
    drafts = await running.newsroom.newsroom_posts(editor, SLUG, (PostStatus.DRAFT,))
    assert [p.body for p in drafts] == ["Unconfirmed: a third blast."]
    assert platforms.texts("sendMessage")[-1].startswith("Saved as a draft in Blast at the port")


async def test_a_photo_with_a_caption_is_downloaded_and_becomes_the_posts_image(
    running: Running, platforms: Platforms
) -> None:
    await reporter(running, "editor")
    platforms.telegram_files["AgAD-photo-1"] = png(640, 480)
    await send(running, telegram_update(photo="AgAD-photo-1", caption="Smoke over pier 4"))
    # The largest size was fetched, through getFile and the file endpoint.
    assert platforms.said("getFile") == [{"file_id": "AgAD-photo-1"}]
    assert platforms.said("telegram.file") == [{"file_id": "AgAD-photo-1"}]
    async with running.client() as c:
        (post,) = (await c.get(f"/api/v1/blogs/{SLUG}/posts")).json()["posts"]
        image = post["media"][0]
        assert post["body"] == "Smoke over pier 4"
        assert image["url"].startswith("/media/") and image["width"] == 640
        assert image["caption"] == "Smoke over pier 4" and image["credit"] == "Maria editor"
        assert (await c.get(image["url"])).status_code == 200
    assert platforms.texts("sendMessage")[-1].startswith("Published in Blast at the port")


async def test_a_photo_the_platform_cannot_serve_is_reported_and_nothing_is_posted(
    running: Running, platforms: Platforms
) -> None:
    await reporter(running, "editor")
    await send(running, telegram_update(photo="AgAD-missing", caption="Lost"))
    assert (await running.store.get_blog(SLUG)).post_count == 0
    assert platforms.texts("sendMessage")[-1].startswith("Not posted: Telegram's getFile refused")


async def test_a_reply_to_the_confirmation_edits_that_post(
    running: Running, platforms: Platforms
) -> None:
    await reporter(running, "editor")
    await send(running, telegram_update("Two injured."))
    confirmation = platforms.said("sendMessage")[-1]
    async with running.client() as c:
        (post,) = (await c.get(f"/api/v1/blogs/{SLUG}/posts")).json()["posts"]
    # The fake answered the confirmation's sendMessage with a message_id; the reporter replies.
    bot_message_id = await _last_bot_message_id(running, post["id"])
    await send(running, telegram_update("Three injured, one seriously.", reply_to=bot_message_id))
    async with running.client() as c:
        edited = (await c.get(f"/api/v1/blogs/{SLUG}/posts/{post['id']}")).json()
    assert edited["body"] == "Three injured, one seriously." and edited["revision"] == 2
    assert (await running.store.get_blog(SLUG)).post_count == 1
    assert platforms.texts("sendMessage")[-1] == (
        f"Updated: https://live.example.org/{SLUG}/posts/{post['id']}"
    )
    assert confirmation["chat_id"] == 1111111


async def test_a_reply_never_undoes_an_edit_made_in_the_newsroom(
    running: Running, platforms: Platforms
) -> None:
    """A reply edits from the reporter's own latest version: replying again works, but once
    the desk has changed the post the reply is refused and the reporter told why."""
    await reporter(running, "editor")
    await send(running, telegram_update("Two injured."))
    async with running.client() as c:
        (post,) = (await c.get(f"/api/v1/blogs/{SLUG}/posts")).json()["posts"]
    bot_message_id = await _last_bot_message_id(running, post["id"])
    await send(running, telegram_update("Three injured.", reply_to=bot_message_id))
    await send(running, telegram_update("Four injured.", reply_to=bot_message_id))
    assert platforms.texts("sendMessage")[-1].startswith("Updated: ")
    desk = await running.newsroom.edit_post(
        running.admin, SLUG, post["id"], {"body": "Four injured, police say.", "base_revision": 3}
    )
    assert desk.revision == 4
    await send(running, telegram_update("Five injured.", reply_to=bot_message_id))
    told = platforms.texts("sendMessage")[-1]
    assert told.startswith("Not changed: ") and "changed in the newsroom" in told, told
    assert f"/{SLUG}/posts/{post['id']}" in told
    async with running.client() as c:
        kept = (await c.get(f"/api/v1/blogs/{SLUG}/posts/{post['id']}")).json()
    assert kept["body"] == "Four injured, police say." and kept["revision"] == 4


async def _last_bot_message_id(running: Running, post_id: str) -> int:
    m = t.intake_messages.c
    async with running.store.engines.reading() as conn:
        ref = await conn.scalar(sa.select(m.reply_ref).where(m.post_id == post_id))
    assert ref is not None
    return int(str(ref).split(":")[1])


async def test_a_stranger_is_told_how_to_pair_and_nothing_is_written(
    running: Running, platforms: Platforms
) -> None:
    await running.newsroom.create_blog(
        running.admin, {"slug": SLUG, "title": "Blast at the port", "timezone": "UTC"}
    )
    before = await count(running, t.intake_messages)
    r = await send(running, telegram_update("Breaking: …", user_id=424242))
    assert r.status_code == 200
    assert platforms.texts("sendMessage") == [
        "This Telegram account is not paired with a Dateline user, so nothing was posted. In the "
        "Dateline console open Reporter inputs, make a Telegram pairing code and send /pair CODE here."
    ]
    assert await count(running, t.intake_messages) == before == 0
    assert (await running.store.get_blog(SLUG)).post_count == 0


async def test_a_revoked_pairing_is_a_stranger_at_once(
    running: Running, platforms: Platforms
) -> None:
    user = await reporter(running, "editor")
    (pairing,) = await running.newsroom.pairings(user)
    await running.newsroom.revoke_pairing(user, pairing.id)
    await send(running, telegram_update("After revocation"))
    assert platforms.texts("sendMessage")[-1].startswith("This Telegram account is not paired")
    assert (await running.store.get_blog(SLUG)).post_count == 0


async def test_a_pairing_code_works_once_and_not_for_another_platform(
    running: Running, platforms: Platforms
) -> None:
    user = await running.newsroom.create_user(None, email="x@example.org", name="X", role="editor")
    slack_code = await running.newsroom.pairing_code(user, "slack")
    await send(running, telegram_update(f"/pair {slack_code}", user_id=5))
    code = await running.newsroom.pairing_code(user, "telegram")
    await send(running, telegram_update(f"/pair {code}", user_id=6))
    await send(running, telegram_update(f"/pair {code}", user_id=7))
    texts = platforms.texts("sendMessage")
    assert texts[0].startswith("Not paired: that pairing code is unknown, already used or expired")
    assert texts[1].startswith("Paired with Dateline as X")
    assert texts[2].startswith("Not paired: that pairing code is unknown, already used or expired")
    assert [p.identity for p in await running.newsroom.pairings(user)] == ["6"]


async def test_a_blog_the_reporter_is_not_a_member_of_cannot_be_chosen(
    running: Running, platforms: Platforms
) -> None:
    await reporter(running, "contributor")
    await running.newsroom.create_blog(
        running.admin, {"slug": "elsewhere", "title": "Elsewhere", "timezone": "UTC"}
    )
    await send(running, telegram_update("/blog elsewhere"))
    assert platforms.texts("sendMessage")[-1] == (
        "Not changed: you are not a member of blog 'elsewhere'; ask an admin to add you"
    )
    await send(running, telegram_update("/blog"))
    assert platforms.texts("sendMessage")[-1] == f"Your blogs:\n/blog {SLUG} (Blast at the port)"


async def test_the_console_makes_codes_lists_pairings_and_revokes_them_at_once(
    running: Running, platforms: Platforms
) -> None:
    await running.newsroom.create_blog(
        running.admin,
        {"slug": SLUG, "title": "Blast at the port", "timezone": "UTC", "status": "live"},
    )
    email = await make_person(running, "editor", blogs=(SLUG,))
    async with running.client() as c:
        csrf = await sign_in(c, email)
        r = await c.post(
            "/newsroom/inputs/codes", data={"platform": "telegram", "csrf_token": csrf}
        )
        assert r.status_code == 201
        code = re.search(r'<code id="pairing-code">([A-Z0-9]{8})</code>', r.text)
        assert code and f"/pair {code[1]}" in r.text
        await send(running, telegram_update(f"/pair {code[1]}"))
        await send(running, telegram_update(f"/blog {SLUG}"))
        listing = (await c.get("/newsroom/inputs")).text
        assert "@mkostenko" in listing and code[1] not in listing
        # An editor chooses what their messages do in the blog.
        r = await c.post(
            f"/newsroom/inputs/blogs/{SLUG}", data={"editor_posts": "draft", "csrf_token": csrf}
        )
        assert r.status_code == 303
        await send(running, telegram_update("Held for a second look"))
        assert platforms.texts("sendMessage")[-1].startswith("Saved as a draft")
        pairing_id = re.search(r"/newsroom/inputs/pairings/(\d+)/revoke", listing)
        assert pairing_id
        r = await c.post(
            f"/newsroom/inputs/pairings/{pairing_id[1]}/revoke", data={"csrf_token": csrf}
        )
        assert r.status_code == 303
        assert "@mkostenko" not in (await c.get("/newsroom/inputs")).text
    await send(running, telegram_update("After the revocation"))
    assert platforms.texts("sendMessage")[-1].startswith("This Telegram account is not paired")
    assert len(await running.newsroom.newsroom_posts(running.admin, SLUG, (PostStatus.DRAFT,))) == 1


async def test_a_contributor_cannot_change_what_messages_do_in_a_blog(running: Running) -> None:
    await running.newsroom.create_blog(
        running.admin, {"slug": SLUG, "title": "Blast at the port", "timezone": "UTC"}
    )
    email = await make_person(running, "contributor", blogs=(SLUG,))
    async with running.client() as c:
        csrf = await sign_in(c, email)
        page = (await c.get("/newsroom/inputs")).text
        assert "Your blogs' inputs" not in page
        r = await c.post(
            f"/newsroom/inputs/blogs/{SLUG}", data={"editor_posts": "publish", "csrf_token": csrf}
        )
        assert r.status_code == 403
