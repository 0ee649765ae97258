"""Web push, "Follow this story": readers follow a live blog from its page; editors' key events (or
posts they mark `notify`) reach every follower, at most one notification per blog per
`push_min_minutes`, through a local push service that checks VAPID and decrypts the payload
(tests/push_service.py); expired subscriptions go, failures are retried, ending coverage sends a
last notice and ends every subscription. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec

from dateline.model import EventType
from dateline.outbound.push import WebPush, deciding
from dateline.outbound.vapid import Vapid, vapid_for
from dateline.store import PushEvent, PushPlace, PushStep, Store, open_store
from dateline.store import schema as t
from tests.conftest import Running
from tests.push_service import PushService, unb64url
from tests.test_console import make_person, sign_in

SLUG = "xi-putin-moscow"
POSTS = f"/api/v1/blogs/{SLUG}/posts"
FOLLOWERS = f"/{SLUG}/followers"
SAME_SITE = {"Origin": "http://127.0.0.1:8000", "Host": "127.0.0.1:8000"}
PUSH = {
    "push_services": "127.0.0.1",
    "vapid_subject": "mailto:newsroom@example.org",
    "push_min_minutes": 0,
    "push_retry_seconds": 0.05,
    "push_follows_per_minute": 0,
}
WITH_PUSH = pytest.mark.parametrize("settings_overrides", [PUSH])


@pytest.fixture
def service() -> Iterator[PushService]:
    found = PushService()
    yield found
    found.stop()


def _push(running: Running) -> WebPush:
    push = running.services.push
    assert push is not None
    return push


async def _follow(running: Running, service: PushService, name: str) -> None:
    browser = service.browser(name)
    async with running.client() as c:
        r = await c.post(FOLLOWERS, json=browser.subscription(), headers=SAME_SITE)
    assert r.status_code == 201, r.text
    assert r.json() == {"following": True}


async def _publish(running: Running, token: str | None = None, **fields: Any) -> dict[str, Any]:
    async with running.client(token or running.token) as c:
        r = await c.post(POSTS, json={"headline": "Xi and Putin meet", **fields})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def _rounds(running: Running, n: int = 3) -> None:
    """Run the sender's round by hand (the app's own also runs, every second: both are safe)."""
    for _ in range(n):
        await _push(running).round()


async def _wait_for(service: PushService, name: str, count: int) -> list[Any]:
    for _ in range(100):
        got = service.to(name)
        if len(got) >= count:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} got {len(service.to(name))} notifications, not {count}")


@WITH_PUSH
async def test_a_follower_gets_a_key_event_encrypted_for_its_keys_and_signed_with_vapid(
    seeded: Running, service: PushService
) -> None:
    await _follow(seeded, service, "reader")
    post = await _publish(seeded, headline="Xi and Putin sign a joint statement", key_event=True)
    await _rounds(seeded)
    [got] = await _wait_for(service, "reader", 1)
    blog = await seeded.store.get_blog(SLUG)
    assert got.payload["title"] == blog.title
    assert got.payload["headline"] == "Xi and Putin sign a joint statement"
    assert got.payload["url"] == f"/{SLUG}/posts/{post['id']}"
    assert got.payload["ended"] is False and got.payload["tag"] == f"dateline-{SLUG}"
    assert got.claims["aud"] == service.origin
    assert got.claims["sub"] == "mailto:newsroom@example.org"
    async with seeded.client() as c:
        key = (await c.get("/api/v1/push/key")).json()["public_key"]
    assert got.public_key == key and len(unb64url(key)) == 65
    assert not service.refusals
    assert await seeded.store.push_messages_left(blog.id or 0) == 0


@WITH_PUSH
async def test_ordinary_posts_notify_only_when_an_editor_asks(
    seeded: Running, service: PushService
) -> None:
    await _follow(seeded, service, "reader")
    await _publish(seeded, headline="A routine update")
    await _publish(seeded, headline="A key event told quietly", key_event=True, notify=False)
    await _rounds(seeded)
    await asyncio.sleep(0.3)
    assert service.to("reader") == []
    await _publish(seeded, headline="Not a key event, but big", notify=True)
    [got] = await _wait_for(service, "reader", 1)
    assert got.payload["headline"] == "Not a key event, but big"


@WITH_PUSH
async def test_a_draft_marked_notify_notifies_when_it_is_published(
    seeded: Running, service: PushService
) -> None:
    await _follow(seeded, service, "reader")
    draft = await _publish(seeded, headline="Embargoed", status="draft", notify=True)
    await _rounds(seeded)
    assert service.to("reader") == []
    async with seeded.client(seeded.token) as c:
        r = await c.patch(f"{POSTS}/{draft['id']}", json={"status": "published"})
    assert r.status_code == 200, r.text
    [got] = await _wait_for(service, "reader", 1)
    assert got.payload["headline"] == "Embargoed"


@WITH_PUSH
async def test_a_published_post_cannot_be_marked_notify_afterwards(seeded: Running) -> None:
    post = await _publish(seeded, headline="Already out")
    async with seeded.client(seeded.token) as c:
        r = await c.patch(f"{POSTS}/{post['id']}", json={"notify": True})
    assert r.status_code == 409
    assert "write a new post" in r.json()["error"]["message"]


@WITH_PUSH
async def test_an_expired_subscription_is_removed(seeded: Running, service: PushService) -> None:
    await _follow(seeded, service, "gone")
    await _follow(seeded, service, "still-here")
    service.answers["gone"] = [410]
    await _publish(seeded, key_event=True)
    await _rounds(seeded)
    await _wait_for(service, "still-here", 1)
    blog = await seeded.store.get_blog(SLUG)
    assert blog.id is not None
    assert await seeded.store.followers(blog.id) == 1
    assert [s for n, s, _ in service.requests if n == "gone"] == [410]
    await _publish(seeded, headline="Second", key_event=True)
    await _wait_for(service, "still-here", 2)
    assert [s for n, s, _ in service.requests if n == "gone"] == [410]


@WITH_PUSH
async def test_a_failing_push_service_is_retried_with_back_off_until_it_takes_it(
    seeded: Running, service: PushService
) -> None:
    await _follow(seeded, service, "reader")
    service.answers["reader"] = [500, 503, 429]
    await _publish(seeded, key_event=True)
    for _ in range(60):
        await _rounds(seeded, 1)
        if service.to("reader"):
            break
        await asyncio.sleep(0.05)
    [got] = await _wait_for(service, "reader", 1)
    tries = [(s, at) for n, s, at in service.requests if n == "reader"]
    assert [s for s, _ in tries] == [500, 503, 429, 201]
    waits = [b - a for (_, a), (_, b) in itertools.pairwise(tries)]
    # 0.05 s, then 0.1 s (doubled): each retry waited at least its back-off.
    assert waits[0] >= 0.05 and waits[1] >= 0.1
    assert got.payload["headline"] == "Xi and Putin meet"


@pytest.mark.parametrize("settings_overrides", [{**PUSH, "push_attempts": 2}])
async def test_a_notification_is_given_up_after_push_attempts(
    seeded: Running, service: PushService
) -> None:
    await _follow(seeded, service, "reader")
    service.answers["reader"] = [500] * 10
    await _publish(seeded, key_event=True)
    for _ in range(40):
        await _rounds(seeded, 1)
        await asyncio.sleep(0.05)
    assert [s for n, s, _ in service.requests if n == "reader"] == [500, 500]
    blog = await seeded.store.get_blog(SLUG)
    assert blog.id is not None
    assert await seeded.store.push_messages_left(blog.id) == 0
    assert await seeded.store.followers(blog.id) == 1  # an outage unsubscribes nobody


@pytest.mark.parametrize("settings_overrides", [{**PUSH, "push_min_minutes": 10}])
async def test_one_notification_per_interval_per_blog_and_the_newest_news_waits(
    seeded: Running, service: PushService
) -> None:
    await _follow(seeded, service, "reader")
    await _publish(seeded, headline="First", key_event=True)
    await _wait_for(service, "reader", 1)
    await _publish(seeded, headline="Second", key_event=True)
    await _publish(seeded, headline="Third", key_event=True)
    await _rounds(seeded)
    await asyncio.sleep(0.3)
    assert [r.payload["headline"] for r in service.to("reader")] == ["First"]
    push = _push(seeded)
    later = datetime.now(UTC) + timedelta(minutes=11)
    push.clock = lambda: later
    await _rounds(seeded)
    got = await _wait_for(service, "reader", 2)
    assert [r.payload["headline"] for r in got] == ["First", "Third"]


@WITH_PUSH
async def test_ending_coverage_sends_a_last_notice_and_ends_every_subscription(
    seeded: Running, service: PushService
) -> None:
    await _follow(seeded, service, "one")
    await _follow(seeded, service, "two")
    async with seeded.client(seeded.token) as c:
        r = await c.patch(f"/api/v1/blogs/{SLUG}", json={"status": "ended"})
    assert r.status_code == 200, r.text
    await _rounds(seeded)
    for name in ("one", "two"):
        [got] = await _wait_for(service, name, 1)
        assert got.payload["ended"] is True
        assert got.payload["url"] == f"/{SLUG}"
        assert "ended" in got.payload["headline"]
    blog = await seeded.store.get_blog(SLUG)
    assert blog.id is not None
    for _ in range(50):
        if await seeded.store.followers(blog.id) == 0:
            break
        await asyncio.sleep(0.05)
    assert await seeded.store.followers(blog.id) == 0
    async with seeded.client() as c:
        again = await c.post(
            FOLLOWERS, json=service.browser("late").subscription(), headers=SAME_SITE
        )
    assert again.status_code == 409


@WITH_PUSH
async def test_contributors_cannot_notify_followers(seeded: Running) -> None:
    token = await seeded.make_user("contributor", blogs=(SLUG,))
    before = await seeded.store.get_blog(SLUG)
    async with seeded.client(token) as c:
        r = await c.post(POSTS, json={"headline": "Mine", "status": "submitted", "notify": True})
        assert r.status_code == 403
        assert "contributors cannot notify" in r.json()["error"]["message"]
        draft = await c.post(POSTS, json={"headline": "Mine", "status": "draft"})
        assert draft.status_code == 201
        edit = await c.patch(f"{POSTS}/{draft.json()['id']}", json={"notify": True})
        assert edit.status_code == 403
    after = await seeded.store.get_blog(SLUG)
    assert after.last_seq == before.last_seq
    stored = await seeded.store.get_post(after, draft.json()["id"])
    assert stored.notify is False


@WITH_PUSH
async def test_a_reader_can_unfollow_at_any_time(seeded: Running, service: PushService) -> None:
    await _follow(seeded, service, "reader")
    endpoint = service.browsers["reader"].endpoint
    async with seeded.client() as c:
        gone = await c.request("DELETE", FOLLOWERS, json={"endpoint": endpoint}, headers=SAME_SITE)
        assert gone.status_code == 204
        again = await c.request("DELETE", FOLLOWERS, json={"endpoint": endpoint}, headers=SAME_SITE)
        assert again.status_code == 404
    await _publish(seeded, key_event=True)
    await _rounds(seeded)
    await asyncio.sleep(0.3)
    assert service.requests == []


@WITH_PUSH
async def test_following_twice_renews_the_keys_and_notifies_once(
    seeded: Running, service: PushService
) -> None:
    await _follow(seeded, service, "reader")
    browser = service.browsers["reader"]
    fresh = service.browser("reader")  # same endpoint, new keys (the browser renewed them)
    assert fresh.endpoint == browser.endpoint
    async with seeded.client() as c:
        r = await c.post(FOLLOWERS, json=fresh.subscription(), headers=SAME_SITE)
    assert r.status_code == 200
    await _publish(seeded, key_event=True)
    await _rounds(seeded)
    await _wait_for(service, "reader", 1)  # decrypted with the new keys
    await asyncio.sleep(0.3)
    assert len(service.to("reader")) == 1


@WITH_PUSH
async def test_the_store_keeps_only_the_endpoint_and_keys_of_a_follower(
    seeded: Running, service: PushService
) -> None:
    await _follow(seeded, service, "reader")
    async with seeded.store.engines.reading() as conn:
        rows = (await conn.execute(sa.select(t.push_subscriptions))).mappings().all()
    [row] = rows
    assert set(row) == {"id", "blog_id", "endpoint", "p256dh", "auth", "created_at"}
    assert row["endpoint"] == service.browsers["reader"].endpoint


def _bad(subscription: dict[str, Any], **change: Any) -> dict[str, Any]:
    keys = {**subscription["keys"], **change.pop("keys", {})}
    return {**subscription, **change, "keys": keys}


@WITH_PUSH
async def test_a_subscription_is_checked_before_it_is_kept(
    seeded: Running, service: PushService
) -> None:
    good = service.browser("reader").subscription()
    cases = {
        "endpoint": _bad(good, endpoint="https://evil.example/push/1"),
        "https": _bad(good, endpoint="http://fcm.googleapis.com.evil/x"),
        "keys.p256dh": _bad(good, keys={"p256dh": "not-a-key"}),
        "keys.auth": _bad(good, keys={"auth": "c2hvcnQ"}),
    }
    async with seeded.client() as c:
        for field, sent in cases.items():
            r = await c.post(FOLLOWERS, json=sent, headers=SAME_SITE)
            assert r.status_code == 422, (field, r.text)
            assert r.json()["error"]["code"] == "invalid"
        missing = await c.post(FOLLOWERS, json={"endpoint": good["endpoint"]}, headers=SAME_SITE)
        assert missing.status_code == 422
        elsewhere = await c.post(
            FOLLOWERS, json=good, headers={"Origin": "https://evil.example", "Host": "127.0.0.1"}
        )
        assert elsewhere.status_code == 403
        huge = await c.post(FOLLOWERS, content=b"{" + b" " * 10_000 + b"}", headers=SAME_SITE)
        assert huge.status_code == 413
    blog = await seeded.store.get_blog(SLUG)
    assert await seeded.store.followers(blog.id or 0) == 0


@pytest.mark.parametrize("settings_overrides", [{**PUSH, "push_follows_per_minute": 2}])
async def test_following_is_rate_limited_per_address(seeded: Running, service: PushService) -> None:
    async with seeded.client() as c:
        codes = [
            (
                await c.post(
                    FOLLOWERS, json=service.browser(f"b{i}").subscription(), headers=SAME_SITE
                )
            ).status_code
            for i in range(3)
        ]
    assert codes == [201, 201, 429]


@WITH_PUSH
async def test_two_nodes_never_send_one_notification_twice(
    seeded: Running, service: PushService, database_url: str
) -> None:
    await _follow(seeded, service, "reader")
    other: Store = await open_store(database_url, upgrade=False)
    try:
        node = WebPush(
            other, seeded.services.settings, await vapid_for(other, seeded.services.settings)
        )
        await _publish(seeded, key_event=True)
        await asyncio.gather(_push(seeded).round(), node.round(), _push(seeded).round())
        await _wait_for(service, "reader", 1)
        await asyncio.sleep(0.5)
        assert len(service.to("reader")) == 1
        await node.close()
    finally:
        await other.close()


@WITH_PUSH
async def test_the_vapid_key_is_made_once_and_shared_by_every_node(
    seeded: Running, database_url: str
) -> None:
    other = await open_store(database_url, upgrade=False)
    try:
        theirs = await vapid_for(other, seeded.services.settings)
    finally:
        await other.close()
    assert theirs.public_key == _push(seeded).vapid.public_key


@WITH_PUSH
async def test_the_page_offers_following_while_the_story_is_live(seeded: Running) -> None:
    async with seeded.client() as c:
        page = (await c.get(f"/{SLUG}")).text
        assert 'id="follow"' in page and f'data-followers="{FOLLOWERS}"' in page
        assert "live.js" in page  # which imports follow.js
        worker = await c.get("/sw.js")
        assert worker.status_code == 200
        assert worker.headers["content-type"].startswith("text/javascript")
        assert "showNotification" in worker.text
        await c.patch(
            f"/api/v1/blogs/{SLUG}",
            json={"status": "ended"},
            headers={"Authorization": f"Bearer {seeded.token}"},
        )
        ended = (await c.get(f"/{SLUG}")).text
    assert 'id="follow"' not in ended


@pytest.mark.parametrize("settings_overrides", [{"web_push": False}])
async def test_without_web_push_there_is_no_button_key_or_worker(seeded: Running) -> None:
    async with seeded.client() as c:
        assert 'id="follow"' not in (await c.get(f"/{SLUG}")).text
        assert (await c.get("/api/v1/push/key")).status_code == 404
        assert (await c.get("/sw.js")).status_code == 404
        r = await c.post(FOLLOWERS, json={"endpoint": "x"}, headers=SAME_SITE)
        assert r.status_code == 404


async def test_push_requests_go_only_to_the_push_services_listed(seeded: Running) -> None:
    """The default list: the browsers' own push services, and nothing a reader can point at."""
    sub = {
        "endpoint": "https://fcm.googleapis.com/fcm/send/abc",
        "keys": {"p256dh": "x", "auth": "y"},
    }
    async with seeded.client() as c:
        r = await c.post(
            FOLLOWERS, json={**sub, "endpoint": "https://10.0.0.1/x"}, headers=SAME_SITE
        )
        assert r.status_code == 422 and "push_services" in r.json()["error"]["message"]
        r = await c.post(FOLLOWERS, json=sub, headers=SAME_SITE)
        assert r.status_code == 422 and "p256dh" in r.json()["error"]["message"]


def test_vapid_claims_expire_within_a_day() -> None:
    vapid = Vapid(ec.generate_private_key(ec.SECP256R1()), "https://example.org/contact")
    header = vapid.authorization("https://push.example/abc?x=1", now=1_000_000.0)
    token = header.split("t=")[1].split(",")[0]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == "https://push.example"
    assert 0 < claims["exp"] - 1_000_000 <= 24 * 3600


@WITH_PUSH
async def test_the_console_offers_notify_followers_to_editors_only(
    seeded: Running, service: PushService
) -> None:
    await _follow(seeded, service, "reader")
    editor = await make_person(seeded, "editor", blogs=(SLUG,))
    contributor = await make_person(seeded, "contributor", blogs=(SLUG,))
    async with seeded.client() as c:
        csrf = await sign_in(c, contributor)
        assert 'name="notify"' not in (await c.get(f"/newsroom/blogs/{SLUG}")).text
    async with seeded.client() as c:
        csrf = await sign_in(c, editor)
        page = (await c.get(f"/newsroom/blogs/{SLUG}")).text
        assert 'id="c-notify"' in page and "Notify followers" in page
        # Without JavaScript: a key event with the box unticked tells nobody; ticked, it does.
        for headline, notify in (("Quiet key event", {}), ("Loud key event", {"notify": "1"})):
            r = await c.post(
                f"/newsroom/blogs/{SLUG}/compose",
                data={"headline": headline, "body": "", "people": "Ed", "kind": "published",
                      "key_event": "1", "notify_offered": "1", "csrf_token": csrf, **notify},
            )  # fmt: skip
            assert r.status_code == 303, r.text
    await _rounds(seeded)
    [got] = await _wait_for(service, "reader", 1)
    assert got.payload["headline"] == "Loud key event"


def test_the_rules_decide_without_a_store() -> None:
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    step = deciding(now, timedelta(minutes=5))
    published = EventType.POST_PUBLISHED
    fresh = PushPlace(pending_post=None, sent_at=None)
    # The newest news replaces older news; a post not marked notify changes nothing.
    news = [PushEvent(published, "a", True), PushEvent(published, "b", False)]
    assert step(fresh, [*news, PushEvent(published, "c", True)]) == PushStep(send_post="c")
    assert step(fresh, news) == PushStep(send_post="a")
    # Within the gap it waits, and the newest waiting post is the one kept.
    recent = PushPlace(pending_post="a", sent_at=now - timedelta(minutes=2))
    assert step(recent, [PushEvent(published, "d", True)]) == PushStep(pending_post="d")
    assert step(recent, []) == PushStep(pending_post="a")
    # Once the gap has passed the waiting post goes out, even with nothing new.
    later = PushPlace(pending_post="a", sent_at=now - timedelta(minutes=5))
    assert step(later, []) == PushStep(send_post="a")
    # The end of coverage is the last notice, whatever waited.
    assert step(recent, [PushEvent(EventType.BLOG_ENDED, None, False)]) == PushStep(final=True)
