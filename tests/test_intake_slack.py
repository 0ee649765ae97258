"""The Slack input end to end: Slack's documented event and slash command payloads, signed right
and wrong, posted to the app's URLs; its Web API and private file URLs served by a local fake
(tests/platforms.py)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from dateline.model import PostStatus, User
from dateline.store import schema as t
from tests.conftest import Running
from tests.platforms import (
    SLACK_SECRET,
    SLACK_TOKEN,
    TEAM,
    Platforms,
    png,
    slack_command_form,
    slack_message_event,
    slack_signed,
)

SLUG = "storm-watch"
EVENTS, COMMAND = "/intake/slack/events", "/intake/slack/command"


@pytest.fixture
def settings_overrides(fake: Platforms) -> dict[str, Any]:
    return {
        "slack_bot_token": SLACK_TOKEN,
        "slack_signing_secret": SLACK_SECRET,
        "slack_api_url": fake.url + "/api",
        "public_url": "https://live.example.org",
    }


async def post(
    running: Running,
    path: str,
    body: bytes,
    *,
    content_type: str,
    headers: dict[str, str] | None = None,
    retry: int | None = None,
) -> httpx.Response:
    sent = {
        "Content-Type": content_type,
        **(headers if headers is not None else slack_signed(body)),
    }
    if retry is not None:
        sent["X-Slack-Retry-Num"] = str(retry)
    async with running.client() as c:
        response = await c.post(path, content=body, headers=sent)
    assert running.services.intake is not None
    await running.services.intake.desk.idle()
    return response


async def event(running: Running, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
    return await post(
        running, EVENTS, json.dumps(payload).encode(), content_type="application/json", **kwargs
    )


async def command(running: Running, text: str, **kwargs: Any) -> dict[str, Any]:
    r = await post(
        running,
        COMMAND,
        slack_command_form(text, **kwargs),
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


async def reporter(running: Running, role: str, *, slack_user: str = "U0REPORTER") -> User:
    """A user of `role` in the blog, paired with `slack_user`; the channel linked by an editor."""
    newsroom = running.newsroom
    if not [b for b in await newsroom.store.list_blogs() if b.slug == SLUG]:
        await newsroom.create_blog(
            running.admin,
            {"slug": SLUG, "title": "Storm watch", "timezone": "UTC", "status": "live"},
        )
        editor = await newsroom.create_user(
            None, email="desk@example.org", name="Desk", role="editor", blogs=(SLUG,)
        )
        code = await newsroom.pairing_code(editor, "slack")
        assert (await command(running, f"pair {code}", user="U0DESK"))["text"] == (
            "Paired with Dateline as Desk."
        )
        assert await command(running, f"link {SLUG}", user="U0DESK") == {
            "response_type": "in_channel",
            "text": "Messages in this channel now become posts in Storm watch.",
        }
    user = await newsroom.create_user(
        None, email=f"{slack_user}@example.org", name=f"Maria {role}", role=role, blogs=(SLUG,)
    )
    code = await newsroom.pairing_code(user, "slack")
    assert (await command(running, f"pair {code}", user=slack_user))["text"].startswith("Paired")
    return user


async def count(running: Running, table: sa.Table) -> int:
    async with running.store.engines.reading() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_the_events_url_is_verified_with_the_challenge(running: Running) -> None:
    payload = {"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"}  # fmt: skip
    r = await event(running, payload)
    assert r.status_code == 200 and r.json() == {"challenge": payload["challenge"]}


def forged(how: str, body: bytes) -> dict[str, str]:
    if how == "unsigned":
        return {}
    if how == "another body":
        return slack_signed(body + b" ")
    if how == "another secret":
        return slack_signed(body, secret="not-the-signing-secret")
    return slack_signed(body, at=time.time() - 301)  # "stale": a replay of an old request


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("unsigned", "carries no Slack signature"),
        ("another body", "signature is wrong"),
        ("another secret", "signature is wrong"),
        ("stale", "more than 5 minutes"),
    ],
)
async def test_unsigned_wrongly_signed_and_stale_requests_are_refused_and_nothing_is_written(
    running: Running, platforms: Platforms, how: str, message: str
) -> None:
    await reporter(running, "editor")
    before = await count(running, t.intake_messages)
    body = json.dumps(slack_message_event("Forged")).encode()
    r = await post(
        running, EVENTS, body, content_type="application/json", headers=forged(how, body)
    )
    assert r.status_code == 403 and message in r.json()["error"]["message"]
    form = slack_command_form("Forged too")
    r = await post(
        running, COMMAND, form, content_type="application/x-www-form-urlencoded",
        headers=forged(how, form),
    )  # fmt: skip
    assert r.status_code == 403 and message in r.json()["error"]["message"]
    assert await count(running, t.intake_messages) == before
    assert (await running.store.get_blog(SLUG)).post_count == 0
    assert platforms.said("chat.postMessage") == []


async def test_a_replayed_request_older_than_five_minutes_is_refused(running: Running) -> None:
    await reporter(running, "editor")
    body = json.dumps(slack_message_event("Old news")).encode()
    r = await post(
        running, EVENTS, body, content_type="application/json",
        headers=slack_signed(body, at=time.time() - 301),
    )  # fmt: skip
    assert r.status_code == 403 and "more than 5 minutes" in r.json()["error"]["message"]
    assert (await running.store.get_blog(SLUG)).post_count == 0


async def test_a_message_in_a_linked_channel_is_published_and_answered_in_its_thread(
    running: Running, platforms: Platforms
) -> None:
    await reporter(running, "editor")
    payload = slack_message_event(
        "# Landfall\nThe storm reached the coast at 4 a.m. &amp; <https://weather.example/storm|the forecast> says more rain."
    )
    r = await event(running, payload)
    assert r.status_code == 200
    async with running.client() as c:
        (post_json,) = (await c.get(f"/api/v1/blogs/{SLUG}/posts")).json()["posts"]
        page = (await c.get(f"/{SLUG}")).text
    assert post_json["headline"] == "Landfall"
    assert post_json["body"] == (
        "The storm reached the coast at 4 a.m. & [the forecast](https://weather.example/storm) says more rain."
    )
    assert "Landfall" in page
    (answer,) = platforms.said("chat.postMessage")
    assert answer["channel"] == "C0LIVE" and answer["thread_ts"] == payload["event"]["ts"]
    assert answer["text"] == (
        f"Published in Storm watch: https://live.example.org/{SLUG}/posts/{post_json['id']}"
    )


async def test_a_retried_event_makes_one_post_and_one_answer(
    running: Running, platforms: Platforms
) -> None:
    await reporter(running, "editor")
    payload = slack_message_event("Power is out in the north of the city.")
    for retry in (None, 1, 2):
        assert (await event(running, payload, retry=retry)).status_code == 200
    assert (await running.store.get_blog(SLUG)).post_count == 1
    assert len(platforms.said("chat.postMessage")) == 1


async def test_a_contributors_message_goes_to_the_review_queue(
    running: Running, platforms: Platforms
) -> None:
    await reporter(running, "contributor")
    await event(running, slack_message_event("Flooding on Route 9."))
    queue = await running.newsroom.newsroom_posts(running.admin, SLUG, (PostStatus.SUBMITTED,))
    assert [p.body for p in queue] == ["Flooding on Route 9."]
    assert (await running.store.get_blog(SLUG)).post_count == 0
    assert platforms.texts("chat.postMessage")[-1].startswith("Submitted for review in Storm watch")


async def test_a_contributor_can_neither_link_a_channel_nor_publish_by_command(
    running: Running, platforms: Platforms
) -> None:
    await reporter(running, "contributor")
    answer = await command(running, f"link {SLUG}", channel="C0OTHER")
    assert answer == {
        "response_type": "ephemeral",
        "text": "Not changed: contributors cannot link channels to a blog or change what messages do; ask an editor",
    }
    answer = await command(running, "Levees are holding, says the mayor.")
    assert answer["text"].startswith("Submitted for review in Storm watch")
    assert (await running.store.get_blog(SLUG)).post_count == 0


async def test_an_editors_command_publishes_and_answers_with_the_link(running: Running) -> None:
    await reporter(running, "editor")
    answer = await command(running, "Schools will stay closed tomorrow.")
    async with running.client() as c:
        (post_json,) = (await c.get(f"/api/v1/blogs/{SLUG}/posts")).json()["posts"]
    assert answer == {
        "response_type": "ephemeral",
        "text": f"Published in Storm watch: https://live.example.org/{SLUG}/posts/{post_json['id']}",
    }


async def test_image_files_are_downloaded_with_the_bot_token_and_others_left_out(
    running: Running, platforms: Platforms
) -> None:
    await reporter(running, "editor")
    platforms.slack_files["/files/T0001/F1/surge.png"] = png(800, 600)
    files = [
        {"id": "F1", "name": "surge.png", "mimetype": "image/png", "filetype": "png",
         "url_private_download": f"{platforms.url}/files/T0001/F1/surge.png"},
        {"id": "F2", "name": "evacuation.pdf", "mimetype": "application/pdf", "filetype": "pdf",
         "url_private_download": f"{platforms.url}/files/T0001/F2/evacuation.pdf"},
    ]  # fmt: skip
    r = await event(running, slack_message_event("Storm surge at the harbour", files=files))
    assert r.status_code == 200
    assert platforms.said("slack.file") == [{"path": "/files/T0001/F1/surge.png"}]
    async with running.client() as c:
        (post_json,) = (await c.get(f"/api/v1/blogs/{SLUG}/posts")).json()["posts"]
    assert post_json["media"][0]["width"] == 800
    assert platforms.texts("chat.postMessage")[-1].endswith("Left out (not images): evacuation.pdf")


async def test_a_file_url_off_slacks_hosts_is_never_sent_the_token(
    running: Running, platforms: Platforms
) -> None:
    await reporter(running, "editor")
    files = [{"id": "F3", "name": "x.png", "mimetype": "image/png",
              "url_private_download": "http://169.254.169.254/files/x.png"}]  # fmt: skip
    await event(running, slack_message_event("Look", files=files))
    assert (await running.store.get_blog(SLUG)).post_count == 0
    assert "not on Slack's file server" in platforms.texts("chat.postMessage")[-1]


async def test_a_stranger_in_a_linked_channel_is_told_and_nothing_is_written(
    running: Running, platforms: Platforms
) -> None:
    await reporter(running, "editor")
    before = await count(running, t.intake_messages)
    payload = slack_message_event("I am not paired", user="U0STRANGER")
    await event(running, payload)
    (answer,) = platforms.said("chat.postMessage")
    assert answer["thread_ts"] == payload["event"]["ts"]
    assert answer["text"].startswith("Your Slack account is not paired with a Dateline user")
    assert await count(running, t.intake_messages) == before
    assert (await running.store.get_blog(SLUG)).post_count == 0
    assert (await command(running, "Hello", user="U0STRANGER"))["text"].startswith(
        "Your Slack account is not paired"
    )


async def test_unlinked_channels_bots_and_thread_replies_are_ignored(
    running: Running, platforms: Platforms
) -> None:
    await reporter(running, "editor")
    await event(running, slack_message_event("Elsewhere", channel="C0RANDOM"))
    bot = slack_message_event("An answer")
    bot["event"]["bot_id"] = "B0DATELINE"
    await event(running, bot)
    reply = slack_message_event("Nice work")
    reply["event"]["thread_ts"] = "1700000000.000100"
    await event(running, reply)
    assert (await running.store.get_blog(SLUG)).post_count == 0
    assert platforms.said("chat.postMessage") == []


async def test_a_team_is_part_of_the_identity(running: Running, platforms: Platforms) -> None:
    user = await reporter(running, "editor")
    (pairing,) = await running.newsroom.pairings(user)
    assert pairing.identity == f"{TEAM}:U0REPORTER" and pairing.label == "maria"
